"""Fraud screening through Python: signals, decisions and their evidence,
reviews, identity clusters, backtests and the new error classes."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

import upline


def network(preset: str) -> tuple[upline.Engine, list[dict[str, Any]]]:
    """lead, and a under lead on lead's device (one identity); b on its own."""
    e = upline.Engine()
    history: list[dict[str, Any]] = []

    def ev(**k: Any) -> Any:
        history.append(k)
        return e.apply(k)

    ev(type="screening_rules_set", id="r1", preset=preset, at="2026-01-01T00:00:00Z")
    for m, s, d in [("lead", None, "dev-lead"), ("a", "lead", "dev-lead"), ("b", "lead", "dev-b")]:
        ev(type="member_joined", member=m, sponsor=s, at="2026-01-02T00:00:00Z", signals={"device": d})
    ev(type="sale_recorded", sale="s1", buyer="a", amount=Decimal("100.00"), currency="USD", at="2026-02-01T00:00:00Z")
    return e, history


def test_a_self_referral_is_held_with_its_evidence_then_released() -> None:
    e, _ = network("moderate")
    d = e.distribution_of("s1")
    assert d is not None
    [hit] = d["screening"]["hits"]
    assert (hit["rule"], hit["action"], hit["levels"], hit["earners"]) == ("self_referral", "hold", [1], ["lead"])
    assert hit["matched"] == ["device"] and hit["members"] == ["a", "lead"]
    assert hit["amount"] == Decimal("20.00")
    assert e.balances("lead", "USD", "2026-02-02T00:00:00Z")["held"] == Decimal("20.00")
    r = e.apply({"type": "fraud_review_resolved", "review": "s1", "decision": "release", "at": "2026-02-10T00:00:00Z"})
    assert [(x["kind"], x["amount"]) for x in r["entries"]] == [("release", Decimal("20.00"))]
    b = e.balances("lead", "USD", "2026-02-11T00:00:00Z")
    assert (b["held"], b["pending"]) == (Decimal("0.00"), Decimal("20.00"))
    with pytest.raises(upline.ReviewState) as err:
        e.apply({"type": "fraud_review_resolved", "review": "s1", "decision": "reverse", "at": "2026-02-11T00:00:00Z"})
    assert err.value.field == "review"
    with pytest.raises(upline.UnknownReview):
        e.apply({"type": "fraud_review_resolved", "review": "nope", "decision": "release", "at": "2026-02-11T00:00:00Z"})


def test_strict_blocks_the_line_and_the_platform_keeps_it() -> None:
    e, _ = network("strict")
    d = e.distribution_of("s1")
    assert d is not None
    assert d["unpaid"][0] == {"level": 1, "reason": "fraud_blocked"}
    assert d["retained"] == Decimal("100.00") and d["lines"] == []


def test_identity_cluster_and_rings() -> None:
    e, _ = network("relaxed")
    assert e.identity_cluster("a") == ["a", "lead"]  # the member first, then join order
    assert e.identity_cluster("lead") == ["lead", "a"]
    assert e.identity_cluster("b") == ["b"]
    assert e.screening_rings() == []
    with pytest.raises(upline.UnknownMember):
        e.identity_cluster("ghost")


def test_backtest_reports_and_changes_nothing() -> None:
    e, history = network("relaxed")
    before = e.snapshot()
    candidate = {"id": "cand", "preset": "strict", "at": "2026-01-01T00:00:00Z"}
    report = upline.backtest(history, candidate)
    # In force: relaxed flags the self-referral (review 20.00); strict would block it.
    assert report["in_force_totals"]["reviewed"] == {"USD": Decimal("20.00")}
    assert report["candidate_totals"]["blocked"] == {"USD": Decimal("20.00")}
    assert report["blocked_difference"] == {"USD": Decimal("20.00")}
    assert report["sales_changed"] == 1
    assert upline.backtest(json.dumps(history, default=str), candidate) == report
    assert e.snapshot() == before
    with pytest.raises(upline.InvalidRules) as err:
        upline.backtest(history, {"id": "x", "preset": "paranoid", "at": "2026-01-01T00:00:00Z"})
    assert "preset" in (err.value.field or "")


def test_presets_and_bad_rules_and_signals() -> None:
    moderate = upline.screening_preset("moderate")
    assert moderate is not None and moderate[0]["id"] == "self_referral"
    assert upline.screening_preset("nope") is None
    e = upline.Engine()
    with pytest.raises(upline.InvalidRules) as err:
        e.apply({"type": "screening_rules_set", "id": "r", "at": "2026-01-01T00:00:00Z",
                 "rules": [{"id": "v", "when": {"check": "velocity", "signal": "shoe_size"}, "action": "hold"}]})
    assert err.value.field == "rules[0].when.signal"
    with pytest.raises(upline.InvalidRules) as err:
        e.apply({"type": "screening_rules_set", "id": "r", "at": "2026-01-01T00:00:00Z",
                 "rules": [{"id": "v", "when": {"check": "timing"}, "action": "shred"}]})
    assert err.value.field == "rules[0].action"
    with pytest.raises(upline.InvalidSignal) as err2:
        e.apply({"type": "member_joined", "member": "m", "sponsor": None, "at": "2026-01-01T00:00:00Z",
                 "signals": {"ip": "999.1.1.1"}})
    assert err2.value.field == "signals.ip" and isinstance(err2.value, ValueError)
    assert e.audit_head()["seq"] == 0
