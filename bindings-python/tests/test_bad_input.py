"""Bad input for each event kind: the right exception class and code, and
the engine unchanged (its snapshot and audit head compared before/after)."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from typing import Any, Callable

import pytest

import upline
from helpers import UTC

T = "2026-03-01T00:00:00Z"


def base_engine() -> upline.Engine:
    e = upline.Engine()
    e.apply({"type": "member_joined", "member": "a", "sponsor": None, "at": "2026-01-01T00:00:00Z"})
    e.apply({"type": "member_joined", "member": "b", "sponsor": "a", "at": "2026-01-01T00:00:00Z"})
    e.apply({"type": "member_joined", "member": "c", "sponsor": "b", "at": "2026-01-01T00:00:00Z"})
    e.apply({"type": "sale_recorded", "sale": "s1", "buyer": "c", "amount": "100.00",
             "currency": "USD", "at": "2026-01-01T00:00:00Z"})
    e.apply({"type": "payout_profile_set", "member": "b", "method": "bank", "verified": True})
    r = e.prepare_payouts("b1", "2026-02-15T00:00:00Z")
    assert [i["payout"] for i in r["batch"]["items"]] == ["b1:b:USD"]
    return e


BASE = base_engine().snapshot()

# kind: (a valid event, its money field or None, its time field or None,
#        an id field, a string field)
KINDS: dict[str, tuple[dict[str, Any], str | None, str | None, str, str]] = {
    "member_joined": ({"member": "d", "sponsor": "a", "at": T}, None, "at", "member", "member"),
    "member_status_changed": ({"member": "c", "status": "inactive", "at": T}, None, "at", "member", "status"),
    "sponsor_changed": ({"member": "c", "sponsor": "a", "reason": "move", "at": T}, None, "at", "sponsor", "reason"),
    "member_hold_set": ({"member": "c", "on": True, "reason": "review", "at": T}, None, "at", "member", "reason"),
    "plan_activated": ({"plan": {"id": "p2", "version": 1, "levels": [{"rate": "0.1"}]}, "effective_from": T},
                       "plan.levels[0].rate", "effective_from", "plan.id", "plan.id"),
    "currency_registered": ({"currency": "PTS", "minor_units": 0}, None, None, "currency", "currency"),
    "sale_recorded": ({"sale": "s2", "buyer": "c", "amount": "10.00", "currency": "USD", "at": T},
                      "amount", "at", "sale", "buyer"),
    "refund_recorded": ({"refund": "r1", "sale": "s1", "amount": "10.00", "at": T}, "amount", "at", "refund", "sale"),
    "payout_profile_set": ({"member": "a", "method": "bank", "verified": True}, None, None, "member", "method"),
    "payouts_prepared": ({"batch": "b2", "as_of": T, "policy": {"minimum": {"USD": "1.00"},
                                                                 "fees": {"bank": {"flat": "0.10", "percent": "1"}}}},
                         "policy.minimum.USD", "as_of", "batch", "batch"),
    "payout_settled": ({"payout": "b1:b:USD", "at": T, "reference": "wire-1"}, None, "at", "payout", "reference"),
    "payout_failed": ({"payout": "b1:b:USD", "reason": "bounced", "at": T}, None, "at", "payout", "reason"),
}


def event(kind: str) -> dict[str, Any]:
    return {"type": kind, **copy.deepcopy(KINDS[kind][0])}


def put(ev: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Sets `path` (`plan.levels[0].rate`, `policy.minimum.USD`) to `value`."""
    target: Any = ev
    parts = path.replace("[", ".[").split(".")
    for part in parts[:-1]:
        target = target[int(part[1:-1])] if part.startswith("[") else target[part]
    last = parts[-1]
    if value is DROP:
        del target[last]
    elif last.startswith("["):
        target[int(last[1:-1])] = value
    else:
        target[last] = value
    return ev


DROP = object()


def refused(ev: Any, cls: type[upline.UplineError], code: str, field: str | None = "?",
            via: Callable[[upline.Engine, Any], Any] | None = None) -> upline.UplineError:
    engine = upline.Engine.from_snapshot(BASE)
    before, head = engine.snapshot(), engine.audit_head()
    with pytest.raises(cls) as info:
        (via or upline.Engine.apply)(engine, ev)
    err = info.value
    assert err.code == code, f"{err.code}: {err}"
    assert type(err).code == code
    if field != "?":
        assert err.field == field, f"field {err.field!r}, expected {field!r}: {err}"
    assert str(err).startswith(code + ": ")
    assert engine.snapshot() == before
    assert engine.audit_head() == head
    if via is None:
        # The same event in a batch is refused in its slot with the same code.
        slot = engine.apply_batch([ev])[0]
        assert slot["error"]["code"] == code, slot
        assert engine.audit_head() == head
    return err


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_valid_base_event_applies(kind: str) -> None:
    engine = upline.Engine.from_snapshot(BASE)
    result = engine.apply(event(kind))
    assert result["seq"] == engine.audit_head()["seq"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_float_refused(kind: str) -> None:
    _, money, _, _, text = KINDS[kind]
    path = money or text
    err = refused(put(event(kind), path, 10.5), upline.InvalidAmount, "invalid_amount", path)
    assert isinstance(err, ValueError)
    assert "float" in err.message


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_float_refused_even_when_integral(kind: str) -> None:
    _, money, _, _, text = KINDS[kind]
    refused(put(event(kind), money or text, 10.0), upline.InvalidAmount, "invalid_amount", money or text)


@pytest.mark.parametrize("kind", sorted(k for k, v in KINDS.items() if v[2]))
def test_float_time_is_invalid_time(kind: str) -> None:
    _, _, time, _, _ = KINDS[kind]
    assert time is not None
    err = refused(put(event(kind), time, 1.5), upline.InvalidTime, "invalid_time", time)
    assert "float" in err.message


# The core reports a bad rate inside a plan as `invalid_plan` (naming the
# rate); a bad amount anywhere else is `invalid_amount`.
def money_code(kind: str) -> tuple[type[upline.UplineError], str]:
    if kind == "plan_activated":
        return upline.InvalidPlan, "invalid_plan"
    return upline.InvalidAmount, "invalid_amount"


@pytest.mark.parametrize("kind", sorted(k for k, v in KINDS.items() if v[1]))
def test_bool_for_money_refused(kind: str) -> None:
    money = KINDS[kind][1]
    assert money
    err = refused(put(event(kind), money, True), *money_code(kind), money)
    assert "true" in err.message


@pytest.mark.parametrize("kind", sorted(k for k, v in KINDS.items() if v[1]))
def test_non_finite_decimal_refused(kind: str) -> None:
    money = KINDS[kind][1]
    assert money
    for bad in (Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("sNaN")):
        refused(put(event(kind), money, bad), upline.InvalidAmount, "invalid_amount", money)


@pytest.mark.parametrize("kind", sorted(k for k, v in KINDS.items() if v[1]))
def test_amount_text_refused(kind: str) -> None:
    money = KINDS[kind][1]
    assert money
    refused(put(event(kind), money, "ten"), *money_code(kind), money)


@pytest.mark.parametrize("kind", sorted(k for k, v in KINDS.items() if v[2]))
def test_naive_datetime_refused(kind: str) -> None:
    time = KINDS[kind][2]
    assert time
    err = refused(put(event(kind), time, dt.datetime(2026, 3, 1)), upline.InvalidTime, "invalid_time", time)
    assert isinstance(err, ValueError)


@pytest.mark.parametrize("kind", sorted(k for k, v in KINDS.items() if v[2]))
def test_naive_time_text_refused(kind: str) -> None:
    time = KINDS[kind][2]
    assert time
    refused(put(event(kind), time, "2026-03-01T00:00:00"), upline.InvalidTime, "invalid_time", time)


@pytest.mark.parametrize("kind", sorted(k for k, v in KINDS.items() if v[2]))
def test_aware_datetime_accepted(kind: str) -> None:
    time = KINDS[kind][2]
    assert time
    engine = upline.Engine.from_snapshot(BASE)
    tz = dt.timezone(dt.timedelta(hours=2))
    engine.apply(put(event(kind), time, dt.datetime(2026, 3, 1, 2, 0, tzinfo=tz)))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_missing_field_refused(kind: str) -> None:
    # Every listed field is required; `sponsor` may be None but not missing.
    for field in KINDS[kind][0]:
        refused(put(event(kind), field, DROP), upline.Malformed, "malformed", field)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_wrong_types_refused(kind: str) -> None:
    text = KINDS[kind][4]
    for bad in (42, ["x"], {"x": "y"}, None):
        refused(put(event(kind), text, bad), upline.Malformed, "malformed", text)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unknown_field_refused(kind: str) -> None:
    refused({**event(kind), "surprise": "x"}, upline.Malformed, "malformed", "surprise")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_foreign_python_types_refused(kind: str) -> None:
    text = KINDS[kind][4]
    for bad in ({"x"}, b"bytes", dt.date(2026, 3, 1), object(), 1 + 2j):
        refused(put(event(kind), text, bad), upline.Malformed, "malformed", text)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_oversized_id_refused(kind: str) -> None:
    field = KINDS[kind][3]
    code = {"currency_registered": "invalid_currency", "plan_activated": "invalid_plan"}.get(kind, "invalid_id")
    refused(put(event(kind), field, "x" * 129), upline.UplineError, code)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_id_at_limit_is_not_an_id_error(kind: str) -> None:
    """128 bytes is allowed: whatever happens, it is not `invalid_id`."""
    field = KINDS[kind][3]
    engine = upline.Engine.from_snapshot(BASE)
    try:
        engine.apply(put(event(kind), field, "é" * 64))
    except upline.UplineError as err:
        assert err.code != "invalid_id", err


def test_unknown_type_refused() -> None:
    refused({"type": "member_left", "member": "a", "at": T}, upline.Malformed, "malformed", "type")
    refused({"member": "a", "at": T}, upline.Malformed, "malformed", "type")
    refused({"type": 7}, upline.Malformed, "malformed", "type")


def test_non_dict_event_refused() -> None:
    refused(["member_joined"], upline.Malformed, "malformed")
    refused("member_joined", upline.Malformed, "malformed")


def test_non_str_key_refused() -> None:
    ev: dict[Any, Any] = event("member_joined")
    ev[1] = "x"
    refused(ev, upline.Malformed, "malformed")


def test_too_deep_refused() -> None:
    deep: Any = "x"
    for _ in range(200):
        deep = [deep]
    refused({**event("member_joined"), "member": deep}, upline.LimitExceeded, "limit_exceeded")


def test_self_referencing_list_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)
    refused({**event("member_joined"), "member": loop}, upline.LimitExceeded, "limit_exceeded")


def test_huge_int_amount_refused() -> None:
    refused(put(event("sale_recorded"), "amount", 10**60), upline.InvalidAmount, "invalid_amount", "amount")


def test_huge_decimal_exponent_refused() -> None:
    refused(put(event("sale_recorded"), "amount", Decimal("1E+999999")), upline.InvalidAmount, "invalid_amount",
            "amount")


def test_inexact_amount_refused() -> None:
    refused(put(event("sale_recorded"), "amount", Decimal("10.001")), upline.InvalidAmount, "invalid_amount")


def test_float_inside_nested_plan_named() -> None:
    ev = event("plan_activated")
    ev["plan"]["levels"].append({"rate": "0.05", "caps": {"USD": 2.5}})
    refused(ev, upline.InvalidAmount, "invalid_amount", "plan.levels[1].caps.USD")


def test_float_in_fee_named() -> None:
    ev = put(event("payouts_prepared"), "policy.fees.bank.percent", 1.5)
    refused(ev, upline.InvalidAmount, "invalid_amount", "policy.fees.bank.percent")


def test_float_in_convenience_calls() -> None:
    refused(None, upline.InvalidAmount, "invalid_amount", "policy.minimum.USD",
            via=lambda e, _: e.prepare_payouts("b9", T, {"minimum": {"USD": 1.0}}))
    refused(None, upline.InvalidAmount, "invalid_amount", "thresholds.USD",
            via=lambda e, _: e.tax_summary(2026, {"USD": 600.0}))
    refused(None, upline.InvalidTime, "invalid_time", "as_of",
            via=lambda e, _: e.balances("a", "USD", dt.datetime(2026, 1, 1)))
    refused(None, upline.Malformed, "malformed", "member",
            via=lambda e, _: e.balances(7, "USD", T))
    refused(None, upline.Malformed, "malformed", "levels",
            via=lambda e, _: e.upline("c", -1))


def test_plan_from_dict_refusals() -> None:
    with pytest.raises(upline.InvalidAmount) as info:
        upline.Plan.from_dict({"id": "p", "version": 1, "levels": [{"rate": 0.1}]})
    assert info.value.field == "levels[0].rate"
    with pytest.raises(upline.InvalidPlan):
        upline.Plan.from_dict({"id": "p", "version": 1, "levels": []})
    with pytest.raises(upline.InvalidPlan) as info2:
        upline.Plan.from_dict({"id": "p", "version": 1, "levels": [{"rate": "0.6"}, {"rate": "0.5"}]})
    assert info2.value.field == "levels"
    with pytest.raises(upline.Malformed):
        upline.Plan.from_dict({"id": "p", "version": 1, "levels": [{"rate": "0.1"}], "bogus": 1})
    with pytest.raises(upline.Malformed):
        upline.Plan.from_json("{not json")
    with pytest.raises(upline.InvalidPlan) as info3:
        upline.Plan.from_dict({"id": "p", "version": 1, "levels": [{"rate": True}]})
    assert info3.value.field == "levels[0].rate"
