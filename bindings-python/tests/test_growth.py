"""Rewards, leaderboards, challenges and growth metrics through Python:
types (Decimal money, aware datetimes, float statistics) and the numbers of a
small hand-built network, worked out below."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

import upline

UTC = dt.timezone.utc


def day(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture()
def engine() -> upline.Engine:
    """lead ← a, b; a ← c, d. Milestones (default set) from Jan 1.
    s1: a buys 100.00 → lead 20.00 (level 1); lead's first qualified
    referral → First Referral bonus 10.00. s2: c buys 50.00 → a 10.00,
    lead 7.50. A sales-volume challenge over February, team lead+2 levels,
    target 100.00, reward 90.00 pro rata."""
    e = upline.Engine()

    def ev(**k: Any) -> Any:
        return e.apply(k)

    ev(type="member_joined", member="lead", sponsor=None, at="2026-01-01T00:00:00Z")
    ev(type="milestones_set", at="2026-01-01T00:00:00Z")
    for m, s, d in [("a", "lead", "01-03"), ("b", "lead", "01-05"), ("c", "a", "01-10"), ("d", "a", "02-20")]:
        ev(type="member_joined", member=m, sponsor=s, at=f"2026-{d}T00:00:00Z")
    ev(type="sale_recorded", sale="s1", buyer="a", amount=Decimal("100.00"), currency="USD", at=day("2026-02-01"))
    ev(type="sale_recorded", sale="s2", buyer="c", amount="50.00", currency="USD", at="2026-02-02T00:00:00Z")
    ev(
        type="challenge_created", id="ch", name="Push", team={"leader": "lead", "depth": 2},
        metric="sales_volume", target=Decimal("100.00"), reward={"amount": "90.00", "currency": "USD"},
        split="pro_rata", **{"from": "2026-02-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
    )
    return e


def test_milestone_award_is_in_the_sale_record_and_the_ledger(engine: upline.Engine) -> None:
    [award] = engine.awards("lead")
    assert award["milestone"] == "first_referral"
    assert award["bonuses"] == [{"amount": Decimal("10.00"), "currency": "USD"}]
    assert award["threshold"] == Decimal("1") and award["value"] == Decimal("1")
    # 20.00 + 7.50 commissions + 10.00 bonus, all pending until the hold ends.
    b = engine.balances("lead", "USD", day("2026-02-15"))
    assert b["pending"] == Decimal("37.50") and b["available"] == Decimal("0.00")
    assert [a["milestone"] for a in engine.awards("a")] == ["first_referral"]
    assert engine.awards("b") == []


def test_leaderboard_orders_by_value_with_decimals_and_datetimes(engine: upline.Engine) -> None:
    board = engine.leaderboard("net_earnings", day("2026-01-01"), day("2026-03-01"), currency="USD")
    # a: 10.00 from s2 plus its own First Referral bonus (c bought) = 20.00.
    assert [(r["rank"], r["member"], r["value"]) for r in board["entries"]] == [
        (1, "lead", Decimal("37.50")),
        (2, "a", Decimal("20.00")),
    ]
    assert isinstance(board["entries"][0]["reached_at"], dt.datetime)
    top1 = engine.leaderboard("downline_growth", day("2026-01-01"), day("2026-03-01"), limit=1)
    assert [(r["member"], r["value"]) for r in top1["entries"]] == [("lead", Decimal("4"))]
    with pytest.raises(upline.InvalidTime) as err:
        engine.leaderboard("net_earnings", day("2026-03-01"), day("2026-01-01"), currency="USD")
    assert err.value.field == "to"
    with pytest.raises(upline.Malformed):
        engine.leaderboard("net_earnings", day("2026-01-01"), day("2026-03-01"), limit=True)  # type: ignore[arg-type]


def test_challenge_status_and_exact_pro_rata_close(engine: upline.Engine) -> None:
    status = engine.challenge_status("ch", day("2026-02-15"))
    assert status["state"] == "open" and status["met"] is True
    assert status["total"] == Decimal("150.00") and status["target"] == Decimal("100.00")
    assert [(m["member"], m["progress"]) for m in status["members"]] == [
        ("a", Decimal("100.00")),
        ("c", Decimal("50.00")),
    ]
    closed = engine.apply({"type": "challenge_closed", "id": "ch", "at": "2026-03-01T00:00:00Z"})
    # 90.00 × 100/150 = 60.00, × 50/150 = 30.00: nothing lost or created.
    assert [(s["member"], s["amount"]) for s in closed["challenge"]["shares"]] == [
        ("a", Decimal("60.00")),
        ("c", Decimal("30.00")),
    ]
    assert [e["kind"] for e in closed["entries"]] == ["bonus", "bonus"]
    with pytest.raises(upline.UnknownChallenge) as err:
        engine.challenge_status("nope", day("2026-02-15"))
    assert err.value.code == "unknown_challenge" and isinstance(err.value, KeyError)
    with pytest.raises(upline.ChallengeState):
        engine.apply({"type": "challenge_closed", "id": "ch", "at": "2026-03-02T00:00:00Z"})


def test_member_and_network_metrics(engine: upline.Engine) -> None:
    m = engine.member_metrics("lead", day("2026-02-01"), day("2026-03-01"))
    assert (m["direct_referrals"], m["qualified_referrals"], m["downline_size"], m["downline_depth"]) == (2, 1, 4, 2)
    assert m["levels"] == [2, 2]
    assert m["earnings"] == [{"currency": "USD", "lifetime": Decimal("37.50"), "period": Decimal("37.50")}]
    assert m["window"] == [day("2026-02-01"), day("2026-03-01")]
    n = engine.network_metrics()
    assert n["members"] == 5 and n["depth_histogram"] == [1, 2, 2] and n["max_depth"] == 2
    # 4 members with a sponsor / 2 members with referrals.
    assert n["mean_branching_factor"] == 2.0


def test_viral_coefficient_and_projection(engine: upline.Engine) -> None:
    v = engine.viral_coefficient()
    # lead made a (2 d) and b (4 d), a made c (7 d) within 30 days; d came 48
    # days after a. 3 referrals / 5 members.
    assert v["overall"]["k"] == pytest.approx(0.6)
    assert v["overall"]["referrals"] == 3 and v["overall"]["size"] == 5
    # Cycle gaps 2, 4, 7 and 48 days: median (4 + 7) / 2 = 5.5.
    assert v["cycle_time_days"] == pytest.approx(5.5)
    p = engine.projection(3)
    # 5 · (1 + 0.6 + 0.36 + 0.216) = 10.88; limit 5 / (1 − 0.6) = 12.5.
    assert p["closed_form_total"] == pytest.approx(10.88)
    assert p["points"][-1]["total"] == pytest.approx(10.88)
    assert p["limit"] == pytest.approx(12.5)
    with pytest.raises(upline.Malformed):
        engine.projection(-1)


def test_subtree_exports_carry_earnings(engine: upline.Engine) -> None:
    tree = engine.export_subtree_json("lead", 1)
    assert tree["tree"]["earnings"] == {"USD": Decimal("37.50")}
    assert [r["member"] for r in tree["tree"]["referrals"]] == ["a", "b"]
    assert tree["tree"]["referrals"][0]["referrals"] == []
    small = engine.export_subtree_json("lead", 5, max_nodes=2)
    assert small["truncated"] is True
    dot = engine.export_subtree_dot("lead", 2)
    assert dot.startswith("digraph") and "USD 37.50" in dot
    with pytest.raises(upline.UnknownMember):
        engine.export_subtree_dot("ghost", 2)
