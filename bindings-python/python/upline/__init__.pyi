"""Type stubs for ``upline`` (the Python binding of the Upline engine).

Conventions
-----------
* Events and results are plain dicts with the Rust serde field names and
  ``"type"`` tags (``member_joined``, ``sale_recorded``, ...), exactly as in
  the shared JSON test vectors.
* Money and rates IN: ``decimal.Decimal`` (its exact text, scale kept), ``int``
  or a decimal ``str``. A ``float`` anywhere in an input is refused with
  :class:`InvalidAmount` naming the field path (``amount``,
  ``plan.levels[0].rate``), never converted. ``bool`` where money is expected
  is refused by the core with :class:`InvalidAmount`. NaN and infinities are
  :class:`InvalidAmount`. An ``int`` where the field's declared type is money
  or a rate (a sale's ``amount``, a plan's ``rate`` and ``caps``, a policy's
  ``minimum``, ... at any depth) becomes its decimal string; other ints stay
  integers. No key name is looked at: the types come from the Rust wire types.
* Times IN: a timezone-aware ``datetime`` or an RFC 3339 string with an
  offset. A naive ``datetime`` is refused with :class:`InvalidTime`.
  Precision below a millisecond is truncated by the core.
* Any other Python type in an input is :class:`Malformed`.
* OUT: every field whose declared type is money or a rate is a
  ``decimal.Decimal`` with the currency's scale (``Decimal('20.00')``), at any
  depth; every field declared a time is an aware UTC ``datetime``; nothing
  else is converted, whatever its name. The result types are the
  ``TypedDict``s of ``upline._types`` (generated from the Rust types, with
  their doc comments); import them under ``TYPE_CHECKING`` to annotate.
* Errors: every refusal raises a subclass of :class:`UplineError` with a
  stable ``.code``. A refused event leaves the engine exactly as it was.
"""

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import IO, Any, Callable, Literal, Optional, Protocol, Union, final, overload

from upline import _types as _t

__all__ = [
    "ERROR_CODES",
    "Engine",
    "Plan",
    "UplineError",
    "InvalidAmount",
    "InvalidCurrency",
    "CurrencyMismatch",
    "InvalidTime",
    "InvalidId",
    "InvalidPlan",
    "UnknownMember",
    "UnknownSale",
    "UnknownPayout",
    "DuplicateId",
    "SelfSponsor",
    "Cycle",
    "MemberTerminated",
    "OverRefund",
    "PayoutState",
    "LimitExceeded",
    "Malformed",
    "Storage",
    "Tampered",
    "Internal",
    "InvalidReward",
    "UnknownChallenge",
    "ChallengeState",
    "InvalidRules",
    "InvalidSignal",
    "UnknownReview",
    "ReviewState",
    "Conflict",
    "ReadOnly",
    "backtest",
    "screening_preset",
    "what_if",
    "__version__",
]

__version__: str

ERROR_CODES: tuple[str, ...]
"""Every stable error code, one exception class each."""

_Json = dict[str, Any]
_Money = Union[Decimal, int, str]
_Time = Union[datetime, str]

class _ArrowStream(Protocol):
    """Anything with the Arrow C stream interface: a pyarrow ``Table`` or
    ``RecordBatchReader``, a polars ``DataFrame``, a duckdb result."""

    def __arrow_c_stream__(self, requested_schema: object = None) -> object: ...

class _ArrowArray(Protocol):
    """Anything with the Arrow C array interface (a pyarrow ``RecordBatch``)."""

    def __arrow_c_array__(self, requested_schema: object = None) -> tuple[object, object]: ...

_ArrowIn = Union[_ArrowStream, _ArrowArray]

class UplineError(Exception):
    """Base of every error Upline raises.

    ``str(e)`` is ``"code: message"``.
    """

    code: str
    """The stable snake_case code (``invalid_amount``, ``unknown_member``, ...)."""
    field: Optional[str]
    """The input the error concerns, as a path (``plan.levels[0].rate``), or None."""
    message: str
    """The human-readable reason, without the code."""

class InvalidAmount(UplineError, ValueError):
    """Code ``invalid_amount``."""

class InvalidCurrency(UplineError, ValueError):
    """Code ``invalid_currency``."""

class CurrencyMismatch(UplineError):
    """Code ``currency_mismatch``."""

class InvalidTime(UplineError, ValueError):
    """Code ``invalid_time``."""

class InvalidId(UplineError, ValueError):
    """Code ``invalid_id``."""

class InvalidPlan(UplineError, ValueError):
    """Code ``invalid_plan``."""

class UnknownMember(UplineError, KeyError):
    """Code ``unknown_member``."""

class UnknownSale(UplineError, KeyError):
    """Code ``unknown_sale``."""

class UnknownPayout(UplineError, KeyError):
    """Code ``unknown_payout``."""

class DuplicateId(UplineError):
    """Code ``duplicate_id``."""

class SelfSponsor(UplineError):
    """Code ``self_sponsor``."""

class Cycle(UplineError):
    """Code ``cycle``."""

class MemberTerminated(UplineError):
    """Code ``member_terminated``."""

class OverRefund(UplineError):
    """Code ``over_refund``."""

class PayoutState(UplineError):
    """Code ``payout_state``."""

class LimitExceeded(UplineError):
    """Code ``limit_exceeded``."""

class Malformed(UplineError, ValueError):
    """Code ``malformed``."""

class Storage(UplineError):
    """Code ``storage``."""

class Tampered(UplineError):
    """Code ``tampered``."""

class Internal(UplineError):
    """Code ``internal``."""

class InvalidReward(UplineError, ValueError):
    """Code ``invalid_reward``."""

class UnknownChallenge(UplineError, KeyError):
    """Code ``unknown_challenge``."""

class ChallengeState(UplineError):
    """Code ``challenge_state``."""

class InvalidRules(UplineError, ValueError):
    """Code ``invalid_rules``."""

class InvalidSignal(UplineError, ValueError):
    """Code ``invalid_signal``."""

class UnknownReview(UplineError, KeyError):
    """Code ``unknown_review``."""

class ReviewState(UplineError):
    """Code ``review_state``."""

class Conflict(UplineError):
    """Code ``conflict``: other writers kept appending first; nothing was stored."""

class ReadOnly(UplineError):
    """Code ``read_only``: the engine is a follower and never writes."""

@final
class Plan:
    """A commission plan validated by the core.

    Use it in ``Engine.activate_plan(plan, effective_from)`` or as the
    ``plan`` of a ``plan_activated`` event dict.
    """

    @classmethod
    def from_dict(cls, plan: Mapping[str, Any]) -> Plan:
        """Validate a plan in wire form (``{"id", "version", "levels": [{"rate", ...}], ...}``).

        Raises :class:`InvalidPlan` (or :class:`InvalidAmount`, ...) naming the
        field, :class:`Malformed` for an unknown key or a wrong shape.
        """

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """Validate a plan given as JSON text (same rules as :meth:`from_dict`)."""

    @property
    def id(self) -> str:
        """The plan's id."""

    @property
    def version(self) -> int:
        """The plan's version."""

    def to_dict(self) -> _Json:
        """The plan as a dict (rates and amounts as ``Decimal``)."""

    def to_json(self) -> str:
        """The plan as compact JSON text."""

@final
class Engine:
    """The commission engine: a referral graph, plans, a ledger, payouts and
    a hash-chained audit trail.

    Thread safety: an ``Engine`` may be shared between threads. It holds the
    core engine behind one mutex; every call converts its Python arguments
    while holding the GIL, then releases the GIL (``py.detach``), takes the
    mutex, runs the core, releases the mutex and re-acquires the GIL to
    build the result. Calls on one engine are therefore serialized (each
    call is atomic, a batch included), while other Python threads keep
    running. The mutex is never held while waiting for the GIL, so no
    deadlock is possible.

    Should the core ever panic (a bug) during a call that changes the
    engine, that call raises :class:`Internal` and the engine refuses every
    later call with :class:`Internal` (it may be half-changed): rebuild it
    from a snapshot. A panic in a query raises :class:`Internal` and leaves
    the engine usable.
    """

    def __new__(
        cls,
        path: Optional[Union[str, os.PathLike[str]]] = None,
        *,
        plan: Optional[Union[Plan, Mapping[str, Any]]] = None,
        url: Optional[str] = None,
        programme: Optional[str] = None,
        group_commit: Optional[Literal["auto", "always", "never"]] = None,
    ) -> Engine:
        """A fresh engine: the default plan (20/15/10/8/5/3/2%) in force, no members.

        With ``plan`` (a :class:`Plan` or a plan dict), that plan is activated
        from the start of time instead (``0001-01-01T00:00:00Z``); reopening
        a store that already has it in force is an idempotent retry.

        With ``path``, the engine is persisted in that SQLite file (one file,
        WAL mode, one transaction per applied event or batch): created if
        missing; if it exists, its latest snapshot is restored and the events
        after it are replayed, each checked against its stored audit hash
        (releases the GIL). Every event applied from then on is stored before
        ``apply`` returns. Raises :class:`Storage` when the file cannot be
        used and :class:`Tampered` when the stored chain does not verify.

        With ``url`` (``postgresql://user:password@host:port/dbname``) and
        ``programme``, the engine is a replica of that programme's log in
        PostgreSQL, shared with other processes: a write that meets another
        writer's append catches up and tries again, and :meth:`refresh`
        applies what the others wrote. A bad URL, an unreachable server or
        wrong credentials raise :class:`Storage` naming the host and the
        reason, never the password. ``group_commit`` (``"auto"``, the
        default, ``"always"`` or ``"never"``; needs ``url``) says when a
        writer that meets contention hands its single events to the
        writer holding the append lock, which stores them with its own in
        one commit: ``"auto"`` does once the store's commits take 1 ms
        or more. Another value raises :class:`Malformed`.
        """

    @classmethod
    def follower(
        cls,
        path: Optional[Union[str, os.PathLike[str]]] = None,
        *,
        url: Optional[str] = None,
        programme: Optional[str] = None,
    ) -> Engine:
        """A read-only replica of a store (``path``, or ``url`` and
        ``programme``): :meth:`refresh` brings it up to date, every change
        raises :class:`ReadOnly`. It creates nothing: a missing file, or a
        programme the database holds nothing of, raises :class:`Storage`.
        """

    def refresh(self) -> _Json:
        """Apply what other processes appended to the store since this
        engine's head, each event checked against its stored hash; returns
        the new head ``{"seq", "hash"}``. Raises :class:`Tampered` or
        :class:`Storage`.
        """

    def verify(self) -> _t.Head:
        """Verify the whole stored chain by replaying every stored event in a
        fresh engine (releases the GIL): each recomputed hash, of the event
        and its records, must equal the stored one.

        Returns the head ``{"seq", "hash"}``; raises :class:`Tampered`
        (``.field == "seq"``, the message names the first event that does not
        match) or :class:`Storage` (also for an engine without a store).
        """

    def save_snapshot(self) -> None:
        """Save a snapshot in the store so a later open replays only what
        follows. Raises :class:`Storage` for an engine without a store.
        """

    @classmethod
    def from_snapshot(cls, snapshot: str) -> Engine:
        """Restore an engine from :meth:`snapshot` text (releases the GIL).

        Raises :class:`Storage` naming the format for a snapshot of an older
        format this build no longer restores (formats 1 to 3: open the store
        instead, which replays its events), :class:`Malformed` for any other
        text that is not a snapshot of this format.
        """

    @classmethod
    def replay(cls, events: Sequence[Mapping[str, Any]]) -> Engine:
        """Rebuild an engine by applying ``events`` in order (releases the GIL).

        Raises the first refused event's error; its message names ``events[i]``.
        """

    def apply(self, event: Mapping[str, Any]) -> _t.Applied:
        """Apply one event; return its result.

        The result has ``seq`` (int), ``hash`` (hex str), ``entries`` (ledger
        entries written), ``replayed: True`` for an idempotent retry, and per
        kind ``distribution`` (sales), ``refund``/``sale``/``reversals``/
        ``refunded_total`` (refunds) or ``batch`` (payouts). A refused event
        raises the matching :class:`UplineError` subclass and changes nothing.
        """

    def apply_batch(
        self, events: Sequence[Mapping[str, Any]], *, records: bool = True
    ) -> list[_Json]:
        """Apply many events (a list or tuple) in order, in one call.

        With ``records=False`` each applied slot is only ``{"seq": int,
        "hash": str}`` (plus ``"replayed": True`` for a retry): no
        distribution, reversal or ledger-entry objects are built, which is
        what a high-volume import wants.

        The Rust part runs without the GIL and under the engine's lock, so no
        other call interleaves with the batch. Each event stands on its own:
        a refused event does not stop the others. The returned list has one
        slot per event, in order: the result dict :meth:`apply` would have
        returned, or for a refused event ``{"error": {"code": str,
        "message": str, "field": str | None}}`` (the same code, message and
        field as the exception :meth:`apply` would raise). A result dict never
        has an ``"error"`` key. Raises :class:`LimitExceeded` for more than
        100 000 events (nothing applied), and :class:`Malformed` when
        ``events`` is not a list or tuple.
        """

    def apply_batch_json(self, text: str, *, records: bool = True) -> str:
        """Apply a batch given as JSON text; return the results as JSON text.

        The fastest batch path: the host builds one JSON string (for example
        ``json.dumps(events)``, with amounts as decimal strings such as
        ``"10.50"`` and times as RFC 3339 strings) and parses one string back
        with ``json.loads``; no Python object is built or read per event by
        the binding. Parsing, applying and serializing all run without the
        GIL and under the engine's lock, like :meth:`apply_batch`.

        ``text`` is a JSON array of events in the wire form. The result is a
        JSON array with one slot per event, in order: the applied result (the
        shape :meth:`apply` returns, but amounts as decimal strings and times
        as RFC 3339 strings, as JSON has them), or with ``records=False`` only
        ``{"seq", "hash"}`` (plus ``"replayed": true`` for a retry), or for a
        refused or undecodable event ``{"error": {"code", "message",
        "field"}}``. Each event stands on its own: a bad slot does not stop
        the others.

        Raises :class:`Malformed` when ``text`` is not a ``str`` or not a JSON
        array, and :class:`LimitExceeded` for more than 100 000 events or
        more than 256 MiB of text (nothing applied in either case).
        """

    def apply_joins(self, table: _ArrowIn) -> _ArrowStream:
        """Apply a table of joins given as Arrow columns, in one call.

        Columns (no others): ``member`` and ``sponsor`` (strings: ``utf8``,
        ``large_utf8``, ``utf8_view`` or dictionary-encoded; ``sponsor``
        null for a root) and ``at`` (``timestamp`` with a time zone, any
        unit, or RFC 3339 strings). Each row is a ``member_joined`` event
        and gets the same result, error and audit hash as the dict path
        (times given as timestamps are hashed as their canonical RFC 3339
        text).

        Returns an Arrow table object with ``__arrow_c_stream__``, read
        without a copy by ``pyarrow.table(x)`` or ``polars.DataFrame(x)``
        (``polars.from_arrow(x)`` gives it as a struct ``Series`` in polars
        2; ``.struct.unnest()`` makes the frame), with one row per input row: ``seq`` (uint64), ``hash`` (32 bytes;
        ``.hex()`` is the dict path's ``hash``), ``replayed`` (bool),
        ``error_code`` and ``error_message`` (null when applied; a refused
        row fails alone). Raises, with nothing applied and ``.field`` naming
        the column: :class:`Malformed` for a missing or unknown column, a
        column of the wrong type or nulls in a required column, or an object
        without the Arrow interfaces; :class:`InvalidTime` for a timestamp
        without a time zone; :class:`LimitExceeded` for more than 100 000
        rows. With books shared by other writers, the applied rows are
        stored in one append, as :meth:`apply_batch`'s: a call that meets
        another writer's append catches up and applies its rows again (a
        sale another worker stored first comes back ``replayed``);
        :class:`Conflict` when other writers kept appending first (nothing
        stored), :class:`ReadOnly` at a follower. Reading the table needs
        the GIL; applying it runs without.
        """

    @overload
    def apply_sales(self, table: _ArrowIn, *, lines: Literal[True]) -> tuple[_ArrowStream, _ArrowStream]: ...
    @overload
    def apply_sales(self, table: _ArrowIn, *, lines: Literal[False] = False) -> _ArrowStream:
        """Apply a table of sales given as Arrow columns, in one call.

        Columns: ``sale``, ``buyer``, ``currency`` (strings), ``amount``
        (``decimal128`` or decimal strings; a float column is
        :class:`InvalidAmount`, and so is an integer one), ``at`` (as in
        :meth:`apply_joins`) and optionally ``category`` (strings, nulls
        allowed). Results and errors as in :meth:`apply_joins`. With
        ``lines=True`` returns ``(results, lines)``, the lines one row per
        paid level: ``sale``, ``level`` (uint8), ``earner``, ``amount``
        (``decimal128`` at the batch's largest scale), ``currency``,
        ``rate`` (``decimal128``).
        """

    def apply_refunds(self, table: _ArrowIn) -> _ArrowStream:
        """Apply a table of refunds given as Arrow columns: ``refund``,
        ``sale`` (strings), ``amount`` and ``at`` (as in :meth:`apply_sales`).
        Results and errors as in :meth:`apply_joins`."""

    @overload
    def what_if(
        self,
        plan: Union[Plan, Mapping[str, Any]],
        from_: _Time,
        to: _Time,
        *,
        sales: None = None,
        progress: Optional[Callable[[int, int], Optional[bool]]] = None,
        top: int = 10,
        every: int = 100_000,
    ) -> tuple[_ArrowStream, _Json]: ...
    @overload
    def what_if(
        self,
        plan: Union[Plan, Mapping[str, Any]],
        from_: None = None,
        to: None = None,
        *,
        sales: _ArrowIn,
        progress: Optional[Callable[[int, int], Optional[bool]]] = None,
        top: int = 10,
        every: int = 100_000,
    ) -> tuple[_ArrowStream, _Json]:
        """Replay the sales recorded in ``[from_, to)``, or a table of sales
        given as ``sales=``, under the candidate ``plan``, calculation only:
        nothing in the engine changes.

        For the engine's own sales, the *in force* side is what each sale's
        recorded distribution paid; the *candidate* side is the candidate's
        calculation on today's network (lines fraud screening blocked stay
        blocked). Returns ``(table, summary)``: the table has one row per
        earner and currency (``earner``, ``currency``, ``in_force``,
        ``candidate``, ``difference``, decimals); the summary is
        ``{"sales", "sales_changed", "sales_in_period", "sales_refused",
        "refused", "complete", "levels", "gains", "losses"}``, ``levels``
        one dict per level and currency (``level``, ``currency``,
        ``in_force``, ``candidate``, ``difference`` as ``Decimal``),
        ``gains`` and ``losses`` the ``top`` largest differences each way
        (dicts like the table's rows).

        With ``sales=`` (any Arrow table, columns as in :meth:`apply_sales`,
        any number of rows; ``from_`` and ``to`` must then be left out), the
        sales were never recorded: both sides are calculated on today's
        network, the in-force side under the plan in force at each sale's
        ``at`` (no fraud screening). ``sales_in_period`` is the table's row
        count. A row the engine would refuse as a sale (unknown buyer or
        currency, amount not positive or with too many decimals, a sale
        before its buyer joined, an invalid id) is left out of both sides:
        ``sales_refused`` counts them, ``refused`` lists the first 100 as
        ``{"row", "code", "field", "message"}`` (``row`` from 0). A sale id
        the engine already has is no error here. A table that does not fit
        raises as :meth:`apply_sales` does, ``.field`` naming the column
        (:class:`Malformed`, :class:`InvalidAmount` for a float money
        column, :class:`InvalidTime` for a timestamp without a zone), but
        has no row limit.

        ``progress(done, total)`` is called every ``every`` sales (table
        rows, refused ones included), with the GIL; returning ``False``
        stops the run (``complete`` is then False and the report covers the
        sales done); an exception it raises stops the run and is raised.
        The calculation runs without the GIL. Raises :class:`InvalidPlan`
        for an invalid candidate, :class:`Malformed` (``.field`` ``from_``
        or ``to``) when neither a period nor a table is given.
        """

    def balances(self, member: str, currency: str, as_of: _Time) -> _t.Balances:
        """``member``'s balances in ``currency`` as of ``as_of``:
        ``{"pending", "available", "held", "reserved", "paid"}`` as ``Decimal``.
        """

    def upline(self, member: str, levels: int) -> list[str]:
        """Up to ``levels`` ancestors of ``member``, nearest first."""

    def direct_referrals(self, member: str) -> list[str]:
        """``member``'s direct referrals, in the order they joined."""

    def downline_size(self, member: str) -> int:
        """Members below ``member`` at any depth."""

    def downline_levels(self, member: str, max_levels: int) -> list[int]:
        """Members below ``member`` per level (index 0 = direct referrals)."""

    def depth(self, member: str) -> int:
        """Number of ancestors of ``member``."""

    def export_dot(self, member: str, max_depth: int) -> str:
        """The subtree below ``member`` (at most ``max_depth`` levels) in Graphviz DOT."""

    def export_json(self, member: str, max_depth: int) -> _t.TreeNode:
        """The subtree below ``member`` (at most ``max_depth`` levels) as nested dicts."""

    def distribution_of(self, sale: str) -> Optional[_t.Distribution]:
        """The distribution recorded for ``sale``, or None if there is no such sale."""

    def payout_state(self, payout: str) -> Optional[_t.PayoutState]:
        """``{"state": "reserved" | "settled" | "failed", ...}`` for a prepared payout, or None."""

    def prepare_payouts(
        self, batch: str, as_of: _Time, policy: Optional[Mapping[str, Any]] = None
    ) -> _t.Applied:
        """Apply a ``payouts_prepared`` event; return its result (``result["batch"]``).

        ``policy`` is ``{"minimum": {currency: amount}, "fees": {method:
        {"flat": amount, "percent": amount}}}``; None means no minimum and no fees.
        """

    def activate_plan(self, plan: Union[Plan, Mapping[str, Any]], effective_from: _Time) -> _t.Applied:
        """Apply a ``plan_activated`` event for ``plan`` from ``effective_from`` on."""

    def tax_summary(
        self, year: int, thresholds: Optional[Mapping[str, _Money]] = None
    ) -> list[_t.TaxLine]:
        """Per earner and currency (ordered by earner, then currency): ``earner``,
        ``currency``, ``earned`` and ``paid`` (``Decimal``) in calendar year
        ``year`` (UTC), and ``reaches_threshold`` (paid >= ``thresholds[currency]``;
        False for a currency without a threshold).
        """

    def tax_summary_csv(
        self, year: int, thresholds: Optional[Mapping[str, _Money]] = None
    ) -> str:
        """``tax_summary`` as CSV text: the header
        ``earner,currency,earned,paid,reaches_threshold``, then one row per
        earner and currency, amounts as exact decimal strings.
        """

    def statement(
        self,
        member: str,
        *,
        currency: Optional[str] = None,
        from_: Optional[_Time] = None,
        to: Optional[_Time] = None,
        as_of: Optional[_Time] = None,
        after: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> _Json:
        """One page of ``member``'s statement: ``{"member", "as_of", "entries",
        "next"}``. ``entries`` are its ledger entries oldest first, dated in
        ``[from_, to)`` and not after ``as_of``, in ``currency`` if given, each
        ``{"seq", "kind", "amount", "currency", "at", "available_at",
        "source": {"type", "id"}, "level", "rate", "base", "state",
        "remaining"}``: ``source.type`` is ``sale``, ``refund``, ``payout``,
        ``award``, ``challenge``, ``review`` or ``adjustment``; ``level``,
        ``rate`` and ``base`` are set for commission lines; ``state`` (as of
        ``as_of``, default: after every entry) is ``pending``, ``available``,
        ``held``, ``reserved``, ``paid`` or ``reversed``; ``remaining`` (credit
        lines) is the amount less what was clawed back. Pass ``next`` as
        ``after`` for the following page (``None`` on the last). ``limit``
        defaults to 100, at most 10000 (``limit_exceeded``); a bad cursor is
        ``malformed``, ``from_`` after ``to`` ``invalid_time``.
        """

    def identity_cluster(self, member: str) -> list[str]:
        """Members sharing a payment fingerprint, device, normalised e-mail or
        IP + user agent with ``member``: ``member`` first, then the others in join order."""

    def screening_rings(self) -> list[list[str]]:
        """Referral rings over the whole graph: members whose merged identity
        clusters sponsor themselves through others."""

    def leaderboard(
        self,
        metric: str,
        from_: _Time,
        to: _Time,
        limit: Optional[int] = None,
        currency: Optional[str] = None,
    ) -> _t.Leaderboard:
        """The top ``limit`` (default 100) members by ``metric`` over ``[from_, to)``.

        Metrics: ``qualified_referrals``, ``downline_growth``, and
        ``net_earnings`` / ``sales_volume`` (both need ``currency``). Returns
        ``{"metric", "from", "to", "currency", "entries": [{"rank", "member",
        "value" (Decimal), "reached_at" (datetime)}]}``; ties go to who reached
        the value first, then to the smaller member id.
        """

    def challenge_status(self, id: str, as_of: _Time) -> _t.ChallengeStatus:
        """A team challenge's progress per member and in total as of ``as_of``
        (``target``, ``total`` and each ``progress`` are Decimals)."""

    def awards(self, member: str) -> list[_t.Award]:
        """The milestone awards ``member`` holds (``bonuses`` and ``perks``)."""

    def member_metrics(
        self, member: str, from_: Optional[_Time] = None, to: Optional[_Time] = None
    ) -> _t.MemberMetrics:
        """Direct / active / qualified referrals, downline size and depth, counts
        per level, and earnings per currency (lifetime, and over ``[from_, to)``)."""

    def network_metrics(self) -> _t.NetworkMetrics:
        """Members by status, depth histogram, max depth, mean branching factor."""

    def viral_coefficient(
        self,
        window_days: Optional[int] = None,
        cohort_days: Optional[int] = None,
        from_: Optional[_Time] = None,
        to: Optional[_Time] = None,
    ) -> _t.ViralReport:
        """K per join cohort of ``cohort_days`` (default 30): referrals made within
        ``window_days`` (default 30) of joining,
        divided by the cohort size), overall K, and the viral cycle time.
        K and days are floats: statistics, never money."""

    def projection(
        self, cycles: int, window_days: Optional[int] = None, seed: Optional[int] = None
    ) -> _t.Projection:
        """Expected network size over ``cycles`` cycles of a branching process
        with K and cycle time measured over ``window_days`` (default 30);
        ``seed`` defaults to the member
        count); ``closed_form_total`` and, for K < 1, ``limit``."""

    def export_subtree_json(self, member: str, max_depth: int, max_nodes: Optional[int] = None) -> _t.SubtreeExport:
        """``member``'s subtree, breadth first, at most ``max_nodes`` (default
        10000) nodes, with lifetime
        earnings per currency on every node and a ``truncated`` flag."""

    def export_subtree_dot(self, member: str, max_depth: int, max_nodes: Optional[int] = None) -> str:
        """The same subtree in Graphviz DOT, earnings in the node labels."""

    def audit_head(self) -> _t.Head:
        """The audit chain's head: ``{"seq": int, "hash": str}`` (64 hex digits)."""

    def snapshot(self) -> str:
        """The whole state as JSON text, for :meth:`from_snapshot`."""

    def export_ledger(
        self,
        path_or_file: Union[str, "os.PathLike[str]", IO[str], IO[bytes]],
        format: str = "jsonl",
        from_seq: Optional[int] = None,
        to_seq: Optional[int] = None,
    ) -> _Json:
        """Stream the stored events ``from_seq..=to_seq`` (default: all)
        with their sequence numbers, audit hashes and records, as JSON Lines
        (``format="jsonl"``: a header, one ``{"seq", "hash", "event",
        "records"}`` object a line, a trailer with the head) or CSV
        (``format="csv"``: ``seq,hash,type,event,records``, with ``prev`` and
        ``head`` rows), to a path (created or truncated) or a file object
        opened in text or binary mode. Releases the GIL.

        The records are regenerated by replaying the stored events (each
        must match its stored hash), so the engine needs a store
        (``Engine(path)``): :class:`Storage` without one, or when the
        file cannot be written. ``tools/verify_export.py`` re-verifies a
        JSON Lines export with the Python standard library alone.

        Returns the head of the exported range ``{"seq", "hash"}``; raises
        :class:`Tampered` at a stored event that does not match,
        :class:`Malformed` for an unknown format or a bad range
        (``from_seq`` 0 or after ``to_seq``)."""

def what_if(
    plan: Union[Plan, Mapping[str, Any]],
    *,
    members: _ArrowIn,
    sales: _ArrowIn,
    current: Optional[Union[Plan, Mapping[str, Any]]] = None,
    progress: Optional[Callable[[int, int], Optional[bool]]] = None,
    top: int = 10,
    every: int = 100_000,
) -> tuple[_ArrowStream, _Json]:
    """What-if with no engine: what the sales in ``sales`` would pay under
    the candidate ``plan`` against the plan ``current`` (the default plan,
    20/15/10/8/5/3/2 %, when None), on the network in ``members``.

    ``members`` is an Arrow table in the columns of
    :meth:`Engine.apply_joins` (``member``, ``sponsor`` null for a root,
    ``at`` the join time), sponsors before the members they sponsor, any
    number of rows; ``sales`` is as in :meth:`Engine.what_if`. A
    throwaway in-memory engine is built from ``members`` with ``current``
    in force from the start of time, then ``Engine.what_if(plan,
    sales=sales)`` runs on it; the result is the same ``(table,
    summary)``. Only the built-in currencies are known.

    Raises with ``.field`` naming the table and column
    (``members.sponsor``, ``sales.amount``): the column errors of
    :meth:`Engine.apply_joins` and :meth:`Engine.what_if`, and a members
    row the engine refuses (an unknown sponsor, a duplicate member) with
    its own error, the row in the message (``members row 3: ...``);
    :class:`Malformed` (``.field`` ``members`` or ``sales``) for an object
    that is not an Arrow table; :class:`InvalidPlan` for an invalid
    ``plan``, or ``current`` (``.field`` ``current.plan...``).
    """

def backtest(
    history: Union[str, Sequence[Mapping[str, Any]]], candidate: Mapping[str, Any]
) -> _t.Report:
    """Replay ``history`` (event dicts, or the JSON text of an event array)
    under the ``candidate`` screening rules (a ``screening_rules_set`` dict;
    ``type`` optional) and report per rule the matches, the amounts that
    would be held, blocked and flagged, the earners affected, and the
    difference against the rules in force. Changes nothing."""

def screening_preset(name: str) -> Optional[list[_Json]]:
    """The rules of the ``relaxed``, ``moderate`` or ``strict`` preset, or None."""
