"""The wire types of ``upline``: every event, record and query result as
a ``TypedDict``, with the Rust doc comments.

Generated from the Rust wire types by `cargo run -p upline --features schema --example schema_gen`: do not edit by hand (CI fails when this file differs from a fresh generation).

In results, money and rates are ``decimal.Decimal`` (the currency's
scale kept) and times are aware UTC ``datetime``; in events and
arguments, money is ``Decimal | int | str`` and times ``datetime | str``
(floats are refused). Import them for annotations only::

    from typing import TYPE_CHECKING
    if TYPE_CHECKING:
        from upline._types import Balances
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, TypedDict, Union

from typing_extensions import NotRequired, TypeAlias

_Money: TypeAlias = Union[Decimal, int, str]
_Time: TypeAlias = Union[datetime, str]

Action: TypeAlias = Union[Literal["allow"], Literal["review"], Literal["hold"], Literal["block"]]
"""What a rule does to the lines it matches."""

class Applied(TypedDict):
    """The result of applying one event: its place in the audit chain, the
    records it produced (by kind of event) and the ledger entries it wrote.
    """
    awards: NotRequired[list[Award]]
    """Milestones a join made members reach (`member_joined`)."""
    batch: NotRequired[Batch]
    """A payout batch (`payouts_prepared`)."""
    challenge: NotRequired[ChallengeResult]
    """A closed challenge (`challenge_closed`)."""
    distribution: NotRequired[Distribution]
    """A sale's distribution (`sale_recorded`)."""
    entries: list[EntryRecord]
    """The ledger entries the event wrote (empty for retries)."""
    hash: str
    """The audit hash after this event."""
    milestone_reversals: NotRequired[list[MilestoneReversal]]
    """Milestones the refund pushed back below their threshold
    (`refund_recorded`; absent when empty).
    """
    refund: NotRequired[str]
    """The refund id (`refund_recorded`)."""
    refunded_total: NotRequired[Decimal]
    """All refunds of the sale so far, this one included (`refund_recorded`)."""
    replayed: NotRequired[bool]
    """`true` when this was an idempotent retry of an event already
    applied (nothing changed; `seq`, `hash` and records are the original
    ones); absent otherwise.
    """
    reversals: NotRequired[list[Reversal]]
    """Reversals by this refund (`refund_recorded`)."""
    sale: NotRequired[str]
    """The sale refunded (`refund_recorded`)."""
    seq: int
    """The event's sequence number in the audit chain (from 1)."""

class Award(TypedDict):
    """A member reached a milestone: recorded once, at the event that took the
    metric to the threshold, with its bonuses (ledger `bonus` entries) and
    the perks the host should grant.
    """
    bonuses: list[BonusPaid]
    """Bonuses credited (each a `bonus` ledger entry)."""
    member: str
    """Who reached it."""
    metric: Metric
    """The metric it counts (`qualified_referrals`, …)."""
    milestone: str
    """The milestone's id."""
    name: str
    """Its name."""
    perks: list[str]
    """Perks for the host to grant."""
    threshold: Decimal
    """Its threshold."""
    value: Decimal
    """The metric's value after the event."""

class Balances(TypedDict):
    """An earner's balances in one currency as of an instant."""
    available: Decimal
    """Matured earnings minus reversals and payouts (may be negative: a
    debt recovered from later earnings before any new payout).
    """
    held: Decimal
    """Earnings frozen by a hold."""
    paid: Decimal
    """Settled payouts."""
    pending: Decimal
    """Commissions still inside their hold period."""
    reserved: Decimal
    """In a prepared payout not yet settled or failed."""

class Batch(TypedDict):
    """A prepared payout batch."""
    as_of: datetime
    """The instant whose available balances were paid."""
    batch: str
    """The batch id."""
    items: list[PayoutItem]
    """Payouts, by earner id then currency."""
    skipped: list[Skipped]
    """Earners left out, by earner id then currency."""

class BonusPaid(TypedDict):
    """A bonus amount in one currency, as records show it."""
    amount: Decimal
    """The amount, at the currency's scale."""
    currency: str
    """The currency code."""

class BonusSpec(TypedDict):
    """An amount in a currency, as a host writes it."""
    amount: _Money
    """A positive decimal string exact in the currency."""
    currency: str
    """The currency code."""

ChallengeMetric: TypeAlias = Union[Literal["sales_volume"], Literal["qualified_referrals"], Literal["direct_referrals"]]
"""What a challenge counts."""

class ChallengeResult(TypedDict):
    """A closed challenge: its total, whether the target was met and, if so,
    the exact split of the reward.
    """
    currency: str
    """The reward's currency."""
    id: str
    """The challenge id."""
    met: bool
    """Whether `total >= target`."""
    shares: list[ChallengeShare]
    """The shares paid, by member id (empty when not met, or when no team
    member could be paid).
    """
    target: Decimal
    """The target."""
    total: Decimal
    """The team total over `[from, min(closed_at, to))`."""

class ChallengeShare(TypedDict):
    """One member's share of a challenge reward."""
    amount: Decimal
    """The share paid (a `bonus` ledger entry)."""
    member: str
    """Who."""
    progress: Decimal
    """The member's own progress."""

ChallengeStatus = TypedDict(
    "ChallengeStatus",
    {
        # Levels below the leader in the team.
        "depth": int,
        # Window start (inclusive).
        "from": datetime,
        # The challenge id.
        "id": str,
        # The team leader.
        "leader": str,
        # Team members with non-zero progress: progress descending, then id.
        "members": list[MemberProgress],
        # Whether the total reaches the target.
        "met": bool,
        # The metric.
        "metric": ChallengeMetric,
        # Its name.
        "name": str,
        # The result recorded at the close, if closed.
        "result": NotRequired[ChallengeResult],
        # `"open"` or `"closed"`.
        "state": str,
        # The target.
        "target": Decimal,
        # Window end (exclusive).
        "to": datetime,
        # The team total counted up to `min(as_of, to, closed_at)`.
        "total": Decimal,
    },
)
"""A challenge's state as of an instant."""

class Cohort(TypedDict):
    """One join cohort's viral coefficient."""
    k: float
    """`referrals / size`."""
    referrals: int
    """Direct referrals its members made within the window of joining."""
    size: int
    """Its members."""
    start: datetime
    """The cohort's first instant."""

class Conversion(TypedDict):
    """How a sale paid in another currency was converted (see `Fx`)."""
    base: Decimal
    """The commission base: `round(amount × rate)` in `currency`."""
    currency: str
    """The currency the lines are paid in."""
    rate: Decimal
    """The host's rate, normalised."""

class Decision(TypedDict):
    """What screening decided about one sale (absent when no rule matched)."""
    hits: list[Hit]
    """The rules that matched, in rule order."""
    rules: str
    """The rule set in force."""

class Distribution(TypedDict):
    """How a sale was split: lines up the upline, and what the platform kept."""
    amount: Decimal
    """The sale amount."""
    awards: NotRequired[list[Award]]
    """Milestones this sale made members reach (an extension field: absent
    when empty).
    """
    currency: str
    """The sale currency."""
    fx: NotRequired[Conversion]
    """The conversion, for a sale paid in another currency (an extension
    field: absent otherwise). Lines, their `base` and `retained` are
    then in `fx.currency`.
    """
    lines: list[Line]
    """Paid levels, ascending."""
    plan: str
    """The plan used."""
    plan_version: int
    """Its version."""
    retained: Decimal
    """The sale minus the lines."""
    sale: str
    """The sale id."""
    screening: NotRequired[Decision]
    """What fraud screening decided, when a rule matched (an extension
    field: absent for sales no rule matched).
    """
    unpaid: list[Unpaid]
    """Levels that paid nothing, ascending."""

class Earnings(TypedDict):
    """Earnings of a member in one currency."""
    currency: str
    """The currency code."""
    lifetime: Decimal
    """Commissions, bonuses and adjustments minus reversals, ever (held
    money counts once released; see
    `earnings_delta`).
    """
    period: Decimal
    """The same over the period asked for (entries dated in `[from, to)`)."""

class EngineOptions(TypedDict):
    """The Node `Engine` constructor's options."""
    follower: NotRequired[Union[bool, None]]
    """A read-only replica: every change is refused with `read_only`."""
    groupCommit: NotRequired[Union[GroupCommitMode, None]]
    """When this writer hands its single events to the append lock's
    holder under contention (group commit across writers, PostgreSQL
    only): `auto` (the default: once commits take 1 ms or more),
    `always` or `never`. Needs `url`.
    """
    path: NotRequired[Union[str, None]]
    """The SQLite file the engine is persisted in (created if missing,
    reopened and verified if it exists).
    """
    plan: NotRequired[Union[PlanSpec, None]]
    """A plan activated from the start of time instead of the default."""
    programme: NotRequired[Union[str, None]]
    """The programme (tenant) whose log the engine replicates; needs `url`."""
    url: NotRequired[Union[str, None]]
    """A PostgreSQL connection URL: the engine is a replica of
    `programme`'s log there (not with `path`).
    """

EntryKind: TypeAlias = Union[Literal["commission"], Literal["reversal"], Literal["reversal_held"], Literal["bonus"], Literal["adjustment"], Literal["hold"], Literal["release"], Literal["payout_reserve"], Literal["payout_settle"], Literal["payout_fail"], Literal["bonus_reversal"]]
"""What an entry records."""

class EntryRecord(TypedDict):
    """One ledger entry, as records show it."""
    amount: Decimal
    """The amount moved (positive; the kind says which way)."""
    at: datetime
    """When it happened."""
    available_at: datetime
    """When it leaves pending (commissions, reversals, releases)."""
    currency: str
    """The currency."""
    earner: str
    """Whose balance it moves."""
    kind: EntryKind
    """What kind of movement."""
    reference: str
    """The sale, refund or payout it belongs to."""
    seq: int
    """Position in the ledger, from 0."""

EntryState: TypeAlias = Union[Literal["pending"], Literal["available"], Literal["held"], Literal["reserved"], Literal["paid"], Literal["reversed"]]
"""What a statement line's money is doing as of the statement's `as_of`."""

class MemberJoined(TypedDict):
    """See `MemberJoined`."""
    at: _Time
    """When the member joined."""
    member: str
    """The new member's id."""
    signals: NotRequired[Union[Signals, None]]
    """What the host observed at sign-up, for fraud screening (an
    extension field; see `Signals`).
    """
    sponsor: NotRequired[Union[str, None]]
    """The sponsor's id, or `null` for a root. Required: a missing
    `sponsor` is `malformed`, so a forgotten field never makes a root.
    """
    type: Literal["member_joined"]

class MemberStatusChanged(TypedDict):
    """See `MemberStatusChanged`."""
    at: _Time
    """When."""
    member: str
    """The member."""
    status: MemberStatus
    """The new status."""
    type: Literal["member_status_changed"]

class SponsorChanged(TypedDict):
    """See `SponsorChanged`."""
    at: _Time
    """When."""
    member: str
    """The member that moves."""
    reason: str
    """Why (kept for the audit trail)."""
    sponsor: str
    """The new sponsor."""
    type: Literal["sponsor_changed"]

class MemberHoldSet(TypedDict):
    """See `MemberHoldSet`."""
    at: _Time
    """When."""
    member: str
    """The member."""
    on: bool
    """`true` to hold, `false` to release everything held."""
    reason: str
    """Why."""
    type: Literal["member_hold_set"]

class PlanActivated(TypedDict):
    """See `PlanActivated`."""
    effective_from: _Time
    """The first instant whose sales use it."""
    plan: PlanSpec
    """The plan."""
    type: Literal["plan_activated"]

class CurrencyRegistered(TypedDict):
    """See `CurrencyRegistered`."""
    currency: str
    """The code: 3–12 upper-case ASCII letters or digits."""
    minor_units: int
    """Digits after the decimal point, 0–18."""
    type: Literal["currency_registered"]

class SaleRecorded(TypedDict):
    """See `SaleRecorded`."""
    amount: _Money
    """The amount, a positive decimal string exact in the currency."""
    at: _Time
    """When the sale happened (selects the plan in force)."""
    buyer: str
    """The buyer."""
    category: NotRequired[Union[str, None]]
    """The product category (selects an override table)."""
    currency: str
    """The currency code."""
    fx: NotRequired[Union[Fx, None]]
    """Pays the commissions in another currency at the host's rate (an
    extension field; see `Fx`).
    """
    sale: str
    """The sale's id."""
    signals: NotRequired[Union[Signals, None]]
    """What the host observed at checkout, for fraud screening (an
    extension field; see `Signals`).
    """
    type: Literal["sale_recorded"]

class RefundRecorded(TypedDict):
    """See `RefundRecorded`."""
    amount: _Money
    """The amount refunded by this refund."""
    at: _Time
    """When."""
    refund: str
    """The refund's id."""
    sale: str
    """The sale refunded."""
    type: Literal["refund_recorded"]

class PayoutProfileSet(TypedDict):
    """See `PayoutProfileSet`."""
    member: str
    """The member."""
    method: str
    """The method's kind (`bank`, `crypto`, `instant`, …)."""
    type: Literal["payout_profile_set"]
    verified: bool
    """Whether the host verified it."""

class PayoutsPrepared(TypedDict):
    """See `PayoutsPrepared`."""
    as_of: _Time
    """The instant whose available balances are paid."""
    batch: str
    """The batch id; payout ids are `{batch}:{earner}:{currency}`."""
    policy: PayoutPolicy
    """Minimums and fees."""
    type: Literal["payouts_prepared"]

class PayoutSettled(TypedDict):
    """See `PayoutSettled`."""
    at: _Time
    """When."""
    payout: str
    """The payout id."""
    reference: str
    """The host's reference (a wire id, a transaction hash)."""
    type: Literal["payout_settled"]

class PayoutFailed(TypedDict):
    """See `PayoutFailed`."""
    at: _Time
    """When."""
    payout: str
    """The payout id."""
    reason: str
    """Why."""
    type: Literal["payout_failed"]

class MilestonesSet(TypedDict):
    """See `MilestonesSet`."""
    at: _Time
    """When the set comes into force."""
    counts: NotRequired[Union[str, None]]
    """What makes a direct referral qualified: `"purchased"` (default: at
    least one sale not fully refunded) or `"joined"`.
    """
    milestones: NotRequired[Union[Sequence[MilestoneSpec], None]]
    """The milestones; absent means the default set (the first
    programme's five milestones).
    """
    on_refund: NotRequired[Union[str, None]]
    """What happens to an award when refunds push its metric back below the
    threshold: `"keep"` (default) or `"clawback"`.
    """
    type: Literal["milestones_set"]

ChallengeCreated = TypedDict(
    "ChallengeCreated",
    {
        # Start of the half-open window `[from, to)`.
        "from": _Time,
        # The challenge's id.
        "id": str,
        # `"sales_volume"` (in the reward's currency), `"qualified_referrals"`
        # or `"direct_referrals"` (new direct referrals joined).
        "metric": str,
        # Its display name.
        "name": str,
        # What a met challenge pays.
        "reward": BonusSpec,
        # How the reward is split: `"leader"`, `"equal"` or `"pro_rata"`.
        "split": str,
        # The team total that meets the challenge: a count, or an amount in
        # the reward's currency for `sales_volume`.
        "target": Union[str, int],
        # The team: a leader and the levels below it that belong to it.
        "team": TeamSpec,
        # End of the window (exclusive).
        "to": _Time,
        "type": Literal["challenge_created"],
    },
)
"""See `ChallengeCreated`."""

class ChallengeClosed(TypedDict):
    """See `ChallengeClosed`."""
    at: _Time
    """When it closes (progress counts up to `min(at, to)`)."""
    id: str
    """The challenge's id."""
    type: Literal["challenge_closed"]

class ScreeningRulesSetEvent(TypedDict):
    """See `ScreeningRulesSet`."""
    at: _Time
    """When (kept for the audit trail; the rules apply to events applied
    after this one).
    """
    blocklist: NotRequired[Union[Sequence[str], None]]
    """Blocklisted or disposable e-mail domains (for `email_domain`)."""
    id: str
    """The rule set's id (named by every decision it makes)."""
    preset: NotRequired[Union[str, None]]
    """A built-in preset."""
    rules: NotRequired[Union[Sequence[Any], None]]
    """Rules, evaluated in order; the first match wins."""
    type: Literal["screening_rules_set"]

class FraudReviewResolved(TypedDict):
    """See `FraudReviewResolved`."""
    at: _Time
    """When."""
    decision: ReviewDecision
    """Release or reverse the held lines."""
    note: NotRequired[Union[str, None]]
    """Why (kept for the audit trail)."""
    review: str
    """The review: the id of the sale that was held."""
    type: Literal["fraud_review_resolved"]

Event: TypeAlias = Union[MemberJoined, MemberStatusChanged, SponsorChanged, MemberHoldSet, PlanActivated, CurrencyRegistered, SaleRecorded, RefundRecorded, PayoutProfileSet, PayoutsPrepared, PayoutSettled, PayoutFailed, MilestonesSet, ChallengeCreated, ChallengeClosed, ScreeningRulesSetEvent, FraudReviewResolved]
"""Everything that can happen, tagged by `"type"` on the wire."""

class FeeSpec(TypedDict):
    """A method's fee: `flat + gross × percent / 100`."""
    flat: NotRequired[_Money]
    """A flat fee per payout (default 0)."""
    percent: NotRequired[_Money]
    """A percentage of the gross, 0–100 (default 0)."""

class Fx(TypedDict):
    """Paying a sale's commissions in another currency (DESIGN.md, "Paying in
    another currency").

    The commission base is `round(amount × rate)` in `currency`, with the
    plan's rounding at that currency's minor units; lines, caps, `min_sale`
    and `retained` are in `currency`. The rate is the host's: the core never
    looks one up. Refunds stay in the sale's currency and reverse the
    converted lines pro rata (`refunded_total / amount`), so a full refund
    reverses exactly.

    Errors: a rate ≤ 0 is `invalid_amount`; an unknown `currency`, or the
    sale's own, is `invalid_currency`.
    """
    currency: str
    """The currency the commissions are paid in."""
    rate: _Money
    """Units of `currency` per unit of the sale's currency, a positive
    decimal string.
    """

GroupCommitMode: TypeAlias = Union[Literal["auto"], Literal["always"], Literal["never"]]
"""When a PostgreSQL writer hands events off (`upline_postgres::GroupCommit`)."""

class Head(TypedDict):
    """The chain's head: the last sequence number and its hash."""
    hash: str
    """Its hash (`Hash::ZERO` for an empty chain)."""
    seq: int
    """The last applied event's sequence number (0 for an empty chain)."""

class Hit(TypedDict):
    """One rule that matched a sale: which lines, and why."""
    action: Action
    """What it did."""
    amount: Decimal
    """Their amount in total (at the currency's scale)."""
    detail: str
    """What was found, in words."""
    earners: list[str]
    """The earners of those levels, in level order."""
    levels: list[int]
    """The levels it decided, ascending."""
    matched: list[str]
    """The signals that matched (`device`, `ip`, `clicked_at`, …)."""
    members: list[str]
    """The cluster evidence: the members involved, the buyer first."""
    reason: str
    """The rule's reason."""
    rule: str
    """The rule's id."""

Leaderboard = TypedDict(
    "Leaderboard",
    {
        # The currency of a money metric.
        "currency": NotRequired[str],
        # The top members, best first.
        "entries": list[LeaderboardEntry],
        # Window start (inclusive).
        "from": datetime,
        # The metric ranked.
        "metric": str,
        # Window end (exclusive).
        "to": datetime,
    },
)
"""A leaderboard: `{metric, from, to, currency?, entries}`."""

class LeaderboardEntry(TypedDict):
    """One row of a leaderboard."""
    member: str
    """The member id."""
    rank: int
    """1 for the top."""
    reached_at: datetime
    """When the member reached that value (its last change in the window)."""
    value: Decimal
    """The value over the window (a count, or an amount at the currency's
    scale), as a decimal string.
    """

class LevelSpec(TypedDict):
    """One level of a rate table, in wire form."""
    caps: NotRequired[Union[Mapping[str, _Money], None]]
    """Largest line per sale, per currency (`{"USD": "10.00"}`)."""
    min_active_directs: NotRequired[Union[int, None]]
    """Active direct referrals the earner needs to earn at this level."""
    rate: _Money
    """The share of the sale paid at this level (`"0.20"`)."""

class Line(TypedDict):
    """One paid level of a sale."""
    amount: Decimal
    """The commission, at the currency's scale."""
    base: Decimal
    """The sale amount the rate applied to."""
    earner: str
    """Who earns it."""
    held: bool
    """Whether it was credited as held (the earner was on hold)."""
    level: int
    """The level, from 1."""
    rate: Decimal
    """The level's rate."""

class MemberMetrics(TypedDict):
    """One member's growth metrics."""
    active_direct_referrals: int
    """Active direct referrals."""
    depth: int
    """Its ancestors."""
    direct_referrals: int
    """Direct referrals."""
    downline_depth: int
    """Levels below the member that have members (0 for a leaf)."""
    downline_size: int
    """Members below, at any depth."""
    earnings: list[Earnings]
    """Earnings per currency, by currency code."""
    joined_at: datetime
    """When it joined."""
    levels: list[int]
    """Members per level below (index 0 = direct referrals)."""
    member: str
    """The member id."""
    qualified_referrals: int
    """Direct referrals with a counting sale not fully refunded."""
    status: MemberStatus
    """Its status."""
    window: list[Union[datetime, datetime]]
    """The window of `Earnings::period`, `[from, to)`."""

class MemberProgress(TypedDict):
    """One member's progress in a challenge."""
    member: str
    """The member id."""
    progress: Decimal
    """Its own contribution over the window so far."""

MemberStatus: TypeAlias = Union[Literal["active"], Literal["inactive"], Literal["terminated"]]
"""A member's standing in the programme."""

Metric: TypeAlias = Union[Literal["qualified_referrals"], Literal["direct_referrals"], Literal["downline_size"], Literal["own_sales"], Literal["net_earnings"]]
"""What a milestone counts."""

class MilestoneReversal(TypedDict):
    """A refund took a member's metric back below a milestone it had reached."""
    applied: OnRefund
    """What applied: `keep` (the award stands) or `clawback` (its bonuses
    were reversed by `bonus_reversal` entries; a later crossing awards
    it again).
    """
    member: str
    """Whose award."""
    milestone: str
    """The milestone's id."""
    reversed: list[BonusPaid]
    """Bonuses reversed (empty under `keep`)."""
    value: Decimal
    """The metric's value after the refund."""

class MilestoneSpec(TypedDict):
    """A milestone as a host writes it."""
    currency: NotRequired[Union[str, None]]
    """The currency of a `net_earnings` metric."""
    id: str
    """Its id (an award is given once per member and id)."""
    metric: NotRequired[Union[str, None]]
    """The metric; `qualified_referrals` when absent."""
    name: str
    """Its display name."""
    rewards: Sequence[RewardSpec]
    """Bonuses and perks, at most `limits::MAX_MILESTONE_REWARDS`."""
    threshold: Union[str, int]
    """A positive whole count (a JSON integer or a decimal string), or an
    amount string in `currency` for `net_earnings`.
    """

class NetworkMetrics(TypedDict):
    """Whole-network statistics."""
    by_status: StatusCounts
    """Members per status."""
    depth_histogram: list[int]
    """Members per depth (index 0 = roots)."""
    max_depth: int
    """The deepest member's depth."""
    mean_branching_factor: float
    """Mean direct referrals of the members that have at least one
    (non-roots / sponsors); 0 for a network of roots.
    """
    members: int
    """All members."""
    on_hold: int
    """Members on hold."""
    roots: int
    """Members without a sponsor."""

OnRefund: TypeAlias = Union[Literal["keep"], Literal["clawback"]]
"""What happens to an award when refunds push its metric back below the
threshold.
"""

class PayoutItem(TypedDict):
    """One payout of a batch."""
    currency: str
    """The currency."""
    earner: str
    """Who is paid."""
    fee: Decimal
    """The method's fee (never above the gross)."""
    gross: Decimal
    """The amount reserved from available."""
    method: str
    """The payout method's kind."""
    net: Decimal
    """Gross minus fee."""
    payout: str
    """`{batch}:{earner}:{currency}`."""

class PayoutPolicy(TypedDict):
    """The policy of one payout batch, in wire form."""
    fees: NotRequired[Mapping[str, FeeSpec]]
    """Fees per payout method kind (none: free)."""
    minimum: NotRequired[Mapping[str, _Money]]
    """Smallest available balance paid, per currency (none: any positive)."""

class PayoutStateReserved(TypedDict):
    """Reserved, awaiting settlement."""
    state: Literal["reserved"]

class PayoutStateSettled(TypedDict):
    """Paid."""
    at: datetime
    """When."""
    reference: str
    """The host's reference."""
    seq: int
    """The sequence number of the settling event."""
    state: Literal["settled"]

class PayoutStateFailed(TypedDict):
    """Failed; the gross went back to available."""
    at: datetime
    """When."""
    reason: str
    """Why."""
    seq: int
    """The sequence number of the failing event."""
    state: Literal["failed"]

PayoutState: TypeAlias = Union[PayoutStateReserved, PayoutStateSettled, PayoutStateFailed]
"""Where a payout stands."""

class PlanSpec(TypedDict):
    """A plan in wire form, exactly as hosts write it in JSON."""
    commission_window_days: NotRequired[Union[int, None]]
    """Only sales within this many days of the buyer joining earn."""
    compression: NotRequired[Union[bool, None]]
    """Dynamic compression: skip ineligible uplines instead of retaining."""
    hold_days: NotRequired[Union[int, None]]
    """Days a commission stays pending (default 30)."""
    id: str
    """The plan's id (1–128 bytes)."""
    levels: Sequence[LevelSpec]
    """The default rate table, nearest level first (1–16 levels)."""
    max_walk: NotRequired[Union[int, None]]
    """Most ancestors compression may look at (default 64)."""
    min_sale: NotRequired[Union[Mapping[str, _Money], None]]
    """Smallest sale that earns anything, per currency."""
    overrides: NotRequired[Union[Mapping[str, Sequence[LevelSpec]], None]]
    """Rate tables per sale category."""
    rounding: NotRequired[Union[Rounding, None]]
    """Rounding of lines and reversals (default `half_even`)."""
    version: int
    """The plan's version (≥ 1); `(id, version)` names one content forever."""

class Projection(TypedDict):
    """A branching-process projection (see the module docs)."""
    closed_form_total: float
    """The closed form `seed·(1 − Kⁿ⁺¹)/(1 − K)` (`seed·(n+1)` for K = 1)."""
    cycle_days: float
    """The cycle time used, in days."""
    k: float
    """The viral coefficient used."""
    limit: NotRequired[float]
    """`seed/(1 − K)` when K < 1: the size growth tends to."""
    points: list[ProjectionPoint]
    """Per cycle, 0 to n."""
    seed: int
    """Generation 0."""

class ProjectionPoint(TypedDict):
    """One cycle of a projection."""
    cycle: int
    """The cycle, from 0 (the seed)."""
    day: float
    """Days from the start (`cycle × cycle_days`)."""
    new_members: float
    """Expected members of this generation (`seed·K^cycle`)."""
    total: float
    """Expected network size after this cycle (summed cycle by cycle)."""

class Report(TypedDict):
    """What `backtest` found: the candidate rules against the rules that
    were in force when the history happened.
    """
    blocked_difference: dict[str, Decimal]
    """Candidate blocked minus in-force blocked, per currency."""
    candidate: str
    """The candidate rule set's id."""
    candidate_totals: Totals
    """The candidate's totals."""
    events: int
    """Events replayed."""
    held_difference: dict[str, Decimal]
    """Candidate held minus in-force held, per currency."""
    in_force: list[RuleReport]
    """Per rule that was in force in the history."""
    in_force_totals: Totals
    """The in-force totals."""
    refused: int
    """Events the candidate replay refused (a review of a sale the
    candidate did not hold, say), left out of the figures.
    """
    rules: list[RuleReport]
    """Per candidate rule, in rule order."""
    sales: int
    """Sales replayed."""
    sales_changed: int
    """Sales whose decision (rule and action per line) differs."""

class Reversal(TypedDict):
    """The part of one line a refund reversed."""
    amount: Decimal
    """Reversed by this refund."""
    earner: str
    """Whose line."""
    level: int
    """The line's level."""

ReviewDecision: TypeAlias = Union[Literal["release"], Literal["reverse"]]
"""How a fraud review ends."""

class RewardSpecBonus(TypedDict):
    """Money credited through the ledger."""
    bonus: BonusSpec

class RewardSpecPerk(TypedDict):
    """A perk the host grants (listed in the award)."""
    perk: str

RewardSpec: TypeAlias = Union[RewardSpecBonus, RewardSpecPerk]
"""One reward of a milestone: `{"bonus": {"amount", "currency"}}` or
`{"perk": "name"}`.
"""

Rounding: TypeAlias = Union[Literal["half_even"], Literal["half_up"], Literal["down"]]
"""How a computed amount is brought to the currency's minor units."""

class RuleReport(TypedDict):
    """One rule's effect over a replayed history."""
    action: Union[Action, None]
    """Its action."""
    blocked: dict[str, Decimal]
    """Amounts it would block, per currency."""
    earners: int
    """Distinct earners whose lines it decided."""
    held: dict[str, Decimal]
    """Amounts it would hold, per currency."""
    lines: int
    """Lines it decided."""
    matches: int
    """Sales it matched."""
    reviewed: dict[str, Decimal]
    """Amounts it would flag for review, per currency."""
    rule: str
    """The rule's id."""
    rules: str
    """The rule set's id."""

class ScreeningRulesSet(TypedDict):
    """Activates fraud-screening rules for the events applied after it
    (nothing is screened before the first one). Give a `preset`
    (`relaxed`, `moderate`, `strict`) or your own `rules`; with neither,
    `moderate`. See `crate::screen`.
    """
    at: _Time
    """When (kept for the audit trail; the rules apply to events applied
    after this one).
    """
    blocklist: NotRequired[Union[Sequence[str], None]]
    """Blocklisted or disposable e-mail domains (for `email_domain`)."""
    id: str
    """The rule set's id (named by every decision it makes)."""
    preset: NotRequired[Union[str, None]]
    """A built-in preset."""
    rules: NotRequired[Union[Sequence[Any], None]]
    """Rules, evaluated in order; the first match wins."""

class Signals(TypedDict):
    """What a host observed about a join or a sale, for fraud screening. Every
    field is optional; a rule whose signal is missing never matches.

    The engine keeps none of these strings: it keeps a 64-bit keyed hash of
    each normalised value (see `crate::screen` for the normalisation and
    exactly what is kept), and for `clicked_at` only the delay to the
    conversion. The event itself, as the host sent it, is hashed into the
    audit chain and kept by a store if the engine has one: hosts that must
    not keep raw IPs or e-mails should pass their own keyed hashes (HMAC)
    instead, which the rules treat the same way (except that e-mail
    normalisation and blocklists need the real address).
    """
    clicked_at: NotRequired[_Time]
    """When the referral link was clicked (RFC 3339), at or before the
    event's `at`.
    """
    device: NotRequired[Union[str, None]]
    """A device fingerprint."""
    email: NotRequired[Union[str, None]]
    """The member's e-mail address."""
    ip: NotRequired[Union[str, None]]
    """The client's IP address (v4 or v6)."""
    payment_fingerprint: NotRequired[Union[str, None]]
    """A fingerprint of the payment instrument (card, wallet)."""
    user_agent: NotRequired[Union[str, None]]
    """The client's user agent."""

SkipReason: TypeAlias = Union[Literal["negative_balance"], Literal["on_hold"], Literal["below_minimum"], Literal["no_verified_profile"], Literal["below_fee"]]
"""Why an account was left out of a batch (DESIGN.md, "Payouts and tax
summaries"): the first reason that applies, in the order declared here.
"""

class Skipped(TypedDict):
    """An earner left out of a batch."""
    currency: str
    """In which currency."""
    earner: str
    """Who."""
    reason: SkipReason
    """Why."""

class Source(TypedDict):
    """Where a statement line comes from."""
    id: str
    """Its host id."""
    type: SourceKind
    """The kind of thing."""

SourceKind: TypeAlias = Union[Literal["sale"], Literal["refund"], Literal["payout"], Literal["award"], Literal["challenge"], Literal["review"], Literal["adjustment"]]
"""What kind of thing a statement line comes from."""

class Statement(TypedDict):
    """One page of a member's statement."""
    as_of: datetime
    """The instant the states are as of (`None`: after every entry)."""
    entries: list[StatementLine]
    """The entries, oldest first (by ledger position)."""
    member: str
    """The member."""
    next: Union[str, None]
    """Pass this as `after` for the next page; `None` on the last page."""

class StatementLine(TypedDict):
    """One ledger entry of a member, as a statement shows it."""
    amount: Decimal
    """The amount moved, positive (the kind says which way)."""
    at: datetime
    """When it happened."""
    available_at: datetime
    """When its money leaves pending."""
    base: Decimal
    """The amount the rate applied to, for commission lines."""
    currency: str
    """The currency."""
    kind: EntryKind
    """What the entry records."""
    level: Union[int, None]
    """The level paid, for commission lines."""
    rate: Decimal
    """The level's rate, for commission lines."""
    remaining: Decimal
    """For credit lines (commission, bonus, adjustment): the amount minus
    what was clawed back by `as_of`.
    """
    seq: int
    """The entry's position in the ledger, from 0."""
    source: Source
    """The sale, refund, payout, award, challenge or review it comes from."""
    state: EntryState
    """Its state as of the statement's `as_of` (see the [module
    docs](self)).
    """

class StatusCounts(TypedDict):
    """Members per status."""
    active: int
    """Active members."""
    inactive: int
    """Inactive members."""
    terminated: int
    """Terminated members."""

class SubtreeExport(TypedDict):
    """`export_subtree_json`'s result: a breadth-first subtree with lifetime
    earnings on every node.
    """
    nodes: int
    """Members in the export."""
    tree: SubtreeNode
    """The root member and, nested, everyone below it in the export."""
    truncated: bool
    """Whether `max_nodes` or `max_depth` cut the subtree short."""

class SubtreeNode(TypedDict):
    """One member of `export_subtree_json`'s tree."""
    earnings: dict[str, Decimal]
    """Lifetime earnings by currency code."""
    joined_at: datetime
    """When it joined."""
    member: str
    """The member's id."""
    referrals: list[SubtreeNode]
    """Its direct referrals inside the export, in join order."""
    status: MemberStatus
    """Its status."""

class TaxLine(TypedDict):
    """One line of a tax summary."""
    currency: str
    """The currency."""
    earned: Decimal
    """Commissions, bonuses and adjustments credited in the year, minus
    reversals in the year.
    """
    earner: str
    """The earner."""
    paid: Decimal
    """Payouts settled in the year."""
    reaches_threshold: bool
    """Whether `paid` reaches the host's threshold for this currency
    (`false` when the host named none).
    """

class TeamSpec(TypedDict):
    """A challenge team: the leader and how many levels below it belong."""
    depth: int
    """Levels below the leader (0 = the leader alone), at most
    `MAX_TEAM_DEPTH`.
    """
    leader: str
    """The leader's member id."""

class Totals(TypedDict):
    """Totals of one replay."""
    blocked: dict[str, Decimal]
    """Blocked, per currency."""
    earners: int
    """Distinct earners with a held, blocked or flagged line."""
    held: dict[str, Decimal]
    """Held, per currency."""
    reviewed: dict[str, Decimal]
    """Flagged for review, per currency."""
    sales_matched: int
    """Sales with at least one matching rule."""

class TreeNode(TypedDict):
    """One member of `export_json`'s tree."""
    member: str
    """The member's id."""
    referrals: list[TreeNode]
    """Its direct referrals, in join order (empty below `max_depth`)."""
    status: MemberStatus
    """Its status."""

class Unpaid(TypedDict):
    """One level that paid nothing, and why."""
    level: int
    """The level, from 1."""
    reason: UnpaidReason
    """Why it paid nothing."""

UnpaidReason: TypeAlias = Union[Literal["no_upline"], Literal["ineligible"], Literal["capped"], Literal["zero"], Literal["below_min_sale"], Literal["outside_window"], Literal["fraud_blocked"]]
"""Why a level paid nothing."""

class ViralReport(TypedDict):
    """Viral coefficient per cohort, overall, and the viral cycle time."""
    cohort_days: int
    """Width of a cohort in days."""
    cohorts: list[Cohort]
    """Cohorts, oldest first (only those with members)."""
    cycle_samples: int
    """Referral gaps the cycle time was measured over."""
    cycle_time_days: float
    """The same in days."""
    cycle_time_ms: int
    """Median gap from a sponsor's join to its referral's join, in ms."""
    overall: Cohort
    """All the cohorts together."""
    window_days: int
    """W: referrals count when made within this many days of joining."""

# ---- roots: what each method takes or returns ----

EventList: TypeAlias = Sequence[Event]
"""A list of events (`backtest`'s history)."""

Thresholds: TypeAlias = Mapping[str, _Money]
"""Thresholds per currency code (`tax_summary`)."""

TaxSummary: TypeAlias = list[TaxLine]
"""Tax summary lines (`tax_summary`)."""

Awards: TypeAlias = list[Award]
"""A member's awards (`awards`)."""

BacktestReport: TypeAlias = Report
"""A screening backtest report (`backtest`)."""

ScreeningRules: TypeAlias = list[Any]
"""A screening preset's rules (`screening_preset`)."""
