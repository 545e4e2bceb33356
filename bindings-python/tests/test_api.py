"""Conversions, queries, snapshots, errors and the panic guard."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

import upline
from helpers import UTC

JAN = dt.datetime(2026, 1, 1, tzinfo=UTC)


def chain(n: int, engine: upline.Engine | None = None) -> upline.Engine:
    e = engine or upline.Engine()
    sponsor = None
    for i in range(n):
        e.apply({"type": "member_joined", "member": f"m{i}", "sponsor": sponsor, "at": JAN})
        sponsor = f"m{i}"
    return e


def sale(sale_id: str, buyer: str, amount: Any, currency: str = "USD", at: Any = "2026-02-01T12:00:00Z") -> dict[str, Any]:
    return {"type": "sale_recorded", "sale": sale_id, "buyer": buyer, "amount": amount, "currency": currency, "at": at}


def test_decimal_round_trip_and_scale() -> None:
    e = chain(9)
    r = e.apply(sale("s1", "m8", Decimal("100.00")))
    d = r["distribution"]
    amounts = [line["amount"] for line in d["lines"]]
    assert all(type(a) is Decimal for a in amounts)
    assert [str(a) for a in amounts] == ["20.00", "15.00", "10.00", "8.00", "5.00", "3.00", "2.00"]
    assert str(d["retained"]) == "37.00" and d["retained"].as_tuple().exponent == -2
    assert d["amount"] == Decimal("100.00") and str(d["amount"]) == "100.00"
    assert type(d["lines"][0]["rate"]) is Decimal and d["lines"][0]["rate"] == Decimal("0.2")
    assert str(d["lines"][0]["base"]) == "100.00"


def test_int_and_str_amounts_accepted() -> None:
    e = chain(2)
    assert str(e.apply(sale("s1", "m1", 100))["distribution"]["lines"][0]["amount"]) == "20.00"
    assert str(e.apply(sale("s2", "m1", "0.25"))["distribution"]["lines"][0]["amount"]) == "0.05"
    # Decimal with an exponent is sent as plain text.
    assert str(e.apply(sale("s3", "m1", Decimal("1E+2")))["distribution"]["lines"][0]["amount"]) == "20.00"


def test_currency_scales() -> None:
    e = chain(2)
    jpy = e.apply(sale("s1", "m1", 1000, "JPY"))["distribution"]["lines"][0]["amount"]
    assert str(jpy) == "200"
    kwd = e.apply(sale("s2", "m1", Decimal("12.345"), "KWD"))["distribution"]["lines"][0]["amount"]
    assert str(kwd) == "2.469"


def test_times_out_are_aware_utc() -> None:
    e = chain(2)
    plus = dt.timezone(dt.timedelta(hours=1, minutes=30))
    r = e.apply(sale("s1", "m1", "10.00", at=dt.datetime(2026, 2, 1, 13, 30, 0, 123456, tzinfo=plus)))
    entry = r["entries"][0]
    assert entry["at"] == dt.datetime(2026, 2, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert entry["at"].utcoffset() == dt.timedelta(0)
    assert entry["available_at"] == dt.datetime(2026, 3, 3, 12, 0, 0, 123000, tzinfo=UTC)


def test_int_rate_in_plan_is_decimal_text() -> None:
    plan = upline.Plan.from_dict({"id": "all", "version": 1, "levels": [{"rate": 1}], "hold_days": 0})
    assert plan.to_dict()["levels"][0]["rate"] == Decimal("1")
    assert plan.id == "all" and plan.version == 1
    assert upline.Plan.from_json(plan.to_json()).to_json() == plan.to_json()
    e = chain(2)
    e.activate_plan(plan, JAN)
    r = e.apply(sale("s1", "m1", "10.00"))
    assert str(r["distribution"]["lines"][0]["amount"]) == "10.00"
    assert str(r["distribution"]["retained"]) == "0.00"


def test_plan_object_inside_event_dict() -> None:
    plan = upline.Plan.from_dict({"id": "p", "version": 1, "levels": [{"rate": Decimal("0.5")}]})
    e = chain(2)
    e.apply({"type": "plan_activated", "plan": plan, "effective_from": JAN})
    assert str(e.apply(sale("s1", "m1", "10.00"))["distribution"]["lines"][0]["amount"]) == "5.00"


def test_balances_and_payout_flow() -> None:
    e = chain(3)
    e.apply(sale("s1", "m2", "100.00", at=JAN))
    b = e.balances("m1", "USD", "2026-01-15T00:00:00Z")
    assert b == {"pending": Decimal("20.00"), "available": Decimal("0.00"), "held": Decimal("0.00"),
                 "reserved": Decimal("0.00"), "paid": Decimal("0.00")}
    assert all(type(v) is Decimal for v in b.values())
    e.apply({"type": "payout_profile_set", "member": "m1", "method": "bank", "verified": True})
    r = e.prepare_payouts("b1", dt.datetime(2026, 3, 1, tzinfo=UTC),
                          {"minimum": {"USD": 10}, "fees": {"bank": {"flat": Decimal("0.25"), "percent": 1}}})
    batch = r["batch"]
    assert batch["as_of"] == dt.datetime(2026, 3, 1, tzinfo=UTC)
    item = batch["items"][0]
    assert (item["payout"], str(item["gross"]), str(item["fee"]), str(item["net"])) == ("b1:m1:USD", "20.00", "0.45", "19.55")
    assert [(s["earner"], s["reason"]) for s in batch["skipped"]] == [("m0", "no_verified_profile")]
    assert e.payout_state("b1:m1:USD") == {"state": "reserved"}
    e.apply({"type": "payout_settled", "payout": "b1:m1:USD", "at": "2026-03-02T00:00:00Z", "reference": "w1"})
    state = e.payout_state("b1:m1:USD")
    assert state is not None and state["state"] == "settled" and state["at"] == dt.datetime(2026, 3, 2, tzinfo=UTC)
    assert e.payout_state("nope") is None
    assert e.balances("m1", "USD", "2026-03-02T00:00:00Z")["paid"] == Decimal("20.00")
    tax = e.tax_summary(2026, {"USD": Decimal("15")})
    m1 = [t for t in tax if t["earner"] == "m1"][0]
    assert m1 == {"earner": "m1", "currency": "USD", "earned": Decimal("20.00"), "paid": Decimal("20.00"),
                  "reaches_threshold": True}
    assert [t["reaches_threshold"] for t in e.tax_summary(2026, {"USD": 600})] == [False, False]
    assert all(not t["reaches_threshold"] for t in e.tax_summary(2026))
    with pytest.raises(upline.InvalidTime):
        e.tax_summary(0)
    with pytest.raises(upline.InvalidTime):
        e.tax_summary(10**12)


def test_refund_result_shape() -> None:
    e = chain(3)
    e.apply(sale("s1", "m2", "100.00"))
    r = e.apply({"type": "refund_recorded", "refund": "r1", "sale": "s1", "amount": Decimal("50.00"), "at": "2026-02-02T00:00:00Z"})
    assert str(r["refunded_total"]) == "50.00"
    assert [(x["earner"], x["level"], str(x["amount"])) for x in r["reversals"]] == [("m1", 1, "10.00"), ("m0", 2, "7.50")]
    with pytest.raises(upline.OverRefund):
        e.apply({"type": "refund_recorded", "refund": "r2", "sale": "s1", "amount": "60.00", "at": "2026-02-02T00:00:00Z"})
    with pytest.raises(upline.UnknownSale) as info:
        e.apply({"type": "refund_recorded", "refund": "r3", "sale": "zz", "amount": "1.00", "at": "2026-02-02T00:00:00Z"})
    assert isinstance(info.value, KeyError)


def test_graph_queries() -> None:
    e = chain(5)
    e.apply({"type": "member_joined", "member": "x", "sponsor": "m1", "at": JAN})
    assert e.upline("m4", 2) == ["m3", "m2"]
    assert e.upline("m4", 100) == ["m3", "m2", "m1", "m0"]
    assert e.upline("m4", 0) == []
    assert e.direct_referrals("m1") == ["m2", "x"]
    assert e.downline_size("m0") == 5
    assert e.downline_levels("m0", 10) == [1, 2, 1, 1]
    assert e.depth("m4") == 4
    dot = e.export_dot("m1", 2)
    assert "digraph" in dot and "m2" in dot
    tree = e.export_json("m1", 1)
    assert isinstance(tree, dict) and "m2" in str(tree)
    for call in (lambda: e.upline("ghost", 1), lambda: e.depth("ghost"), lambda: e.direct_referrals("ghost"),
                 lambda: e.downline_size("ghost"), lambda: e.export_dot("ghost", 1)):
        with pytest.raises(upline.UnknownMember) as info:
            call()
        assert info.value.field == "member"
        assert isinstance(info.value, KeyError) and str(info.value).startswith("unknown_member: ")


def test_deep_export_is_refused_not_crashed() -> None:
    e = upline.Engine()
    events: list[dict[str, Any]] = []
    sponsor = None
    for i in range(3000):
        events.append({"type": "member_joined", "member": f"d{i}", "sponsor": sponsor, "at": "2026-01-01T00:00:00Z"})
        sponsor = f"d{i}"
    assert all("error" not in r for r in e.apply_batch(events))
    assert e.depth("d2999") == 2999
    assert e.downline_size("d0") == 2999
    with pytest.raises(upline.LimitExceeded):
        e.export_json("d0", 5000)
    assert isinstance(e.export_json("d0", 100), dict)


def test_idempotent_retry_and_duplicate() -> None:
    e = chain(2)
    first = e.apply(sale("s1", "m1", "10.00"))
    again = e.apply(sale("s1", "m1", "10.00"))
    assert again["replayed"] is True and again["seq"] == first["seq"] and again["hash"] == first["hash"]
    assert "replayed" not in first
    with pytest.raises(upline.DuplicateId):
        e.apply(sale("s1", "m1", "11.00"))


def test_snapshot_round_trip_and_replay() -> None:
    events = [
        {"type": "member_joined", "member": "a", "sponsor": None, "at": JAN},
        {"type": "member_joined", "member": "b", "sponsor": "a", "at": JAN},
        sale("s1", "b", "40.00"),
    ]
    e = upline.Engine.replay(events)
    head = e.audit_head()
    assert head["seq"] == 3 and len(head["hash"]) == 64
    restored = upline.Engine.from_snapshot(e.snapshot())
    assert restored.audit_head() == head
    assert restored.balances("a", "USD", "2026-04-01T00:00:00Z") == e.balances("a", "USD", "2026-04-01T00:00:00Z")
    assert upline.Engine().audit_head() == {"seq": 0, "hash": "0" * 64}
    with pytest.raises(upline.Malformed):
        upline.Engine.from_snapshot("{}")
    with pytest.raises(upline.UnknownMember) as info:
        upline.Engine.replay([sale("s1", "ghost", "1.00")])
    assert info.value.code == "unknown_member"
    assert repr(e) == "<upline.Engine seq=3>"


def test_batch_mixes_results_and_errors() -> None:
    e = chain(2)
    out = e.apply_batch((sale("s1", "m1", "10.00"), sale("s2", "m1", 1.5), {"type": "nope"}, sale("s3", "m1", "5.00")))
    assert [("error" in r) for r in out] == [False, True, True, False]
    assert out[1]["error"] == {"code": "invalid_amount", "field": "amount", "message": out[1]["error"]["message"]}
    assert out[2]["error"]["code"] == "malformed"
    assert out[3]["seq"] == out[0]["seq"] + 1
    assert e.apply_batch([]) == []
    with pytest.raises(upline.Malformed):
        e.apply_batch({"type": "member_joined"})  # type: ignore[arg-type]


def test_batch_over_limit_refused_whole() -> None:
    e = chain(1)
    head = e.audit_head()
    with pytest.raises(upline.LimitExceeded) as info:
        e.apply_batch([{"type": "nope"}] * 100_001)
    assert info.value.field == "events"
    assert e.audit_head() == head


def test_error_classes() -> None:
    assert len(upline.ERROR_CODES) == len(set(upline.ERROR_CODES))
    for code in upline.ERROR_CODES:
        cls = getattr(upline, "".join(p.capitalize() for p in code.split("_")))
        assert issubclass(cls, upline.UplineError) and cls.code == code
        assert cls.__module__ == "upline"
        assert cls.__name__ in upline.__all__
        assert issubclass(cls, ValueError) == (code.startswith("invalid_") or code == "malformed")
        assert issubclass(cls, KeyError) == code.startswith("unknown_")
    for must in ("invalid_amount", "unknown_member", "duplicate_id", "over_refund", "invalid_plan", "tampered",
                 "storage", "internal", "limit_exceeded", "malformed"):
        assert must in upline.ERROR_CODES
    assert issubclass(upline.UplineError, Exception)


def test_panic_becomes_internal_and_stops_the_engine() -> None:
    e = chain(2)
    with pytest.raises(upline.Internal) as info:
        e._debug_panic()  # type: ignore[attr-defined]
    assert info.value.code == "internal" and "panic" in info.value.message
    with pytest.raises(upline.Internal):
        e.apply(sale("s1", "m1", "1.00"))
    with pytest.raises(upline.Internal):
        e.balances("m1", "USD", JAN)
    # Other engines are unaffected.
    assert chain(2).depth("m1") == 1


def test_apply_batch_without_records_returns_only_the_chain_position() -> None:
    full = upline.Engine()
    lean = upline.Engine()
    events = [
        {"type": "member_joined", "member": "a", "sponsor": None, "at": "2026-01-01T00:00:00Z"},
        {"type": "member_joined", "member": "b", "sponsor": "a", "at": "2026-01-01T00:00:00Z"},
        {"type": "sale_recorded", "sale": "s1", "buyer": "b", "amount": "10.00",
         "currency": "USD", "at": "2026-02-01T00:00:00Z"},
        {"type": "sale_recorded", "sale": "s1", "buyer": "b", "amount": "10.00",
         "currency": "USD", "at": "2026-02-01T00:00:00Z"},
        {"type": "sale_recorded", "sale": "s2", "buyer": "ghost", "amount": "10.00",
         "currency": "USD", "at": "2026-02-01T00:00:00Z"},
    ]
    records = full.apply_batch(events)
    slots = lean.apply_batch(events, records=False)
    assert slots[2] == {"seq": 3, "hash": records[2]["hash"]}
    assert slots[3] == {"seq": 3, "hash": records[2]["hash"], "replayed": True}
    assert slots[4]["error"]["code"] == "unknown_member"
    assert lean.audit_head() == full.audit_head()
    assert lean.balances("a", "USD", "2026-02-01T00:00:00Z")["pending"] == Decimal("2.00")


def test_engine_with_a_plan_puts_it_in_force_from_the_start(tmp_path: Any) -> None:
    plan = {"id": "flat", "version": 1, "levels": [{"rate": "0.5"}]}
    path = tmp_path / "books.sqlite"
    engine = upline.Engine(path, plan=plan)
    engine.apply({"type": "member_joined", "member": "a", "sponsor": None, "at": "2026-01-01T00:00:00Z"})
    engine.apply({"type": "member_joined", "member": "b", "sponsor": "a", "at": "2026-01-01T00:00:00Z"})
    result = engine.apply({"type": "sale_recorded", "sale": "s1", "buyer": "b", "amount": "10.00",
                           "currency": "USD", "at": "2026-02-01T00:00:00Z"})
    assert result["distribution"]["plan"] == "flat"
    assert result["distribution"]["lines"][0]["amount"] == Decimal("5.00")
    head = engine.audit_head()
    del engine
    reopened = upline.Engine(path, plan=upline.Plan.from_dict(plan))
    assert reopened.audit_head() == head  # the activation was a retry
    with pytest.raises(upline.InvalidPlan):
        upline.Engine(plan={"id": "bad", "version": 1, "levels": []})
