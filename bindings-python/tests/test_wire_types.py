"""Conversion by declared type (issue 19): money is ``Decimal`` and times are
aware ``datetime`` wherever the Rust wire types declare them, at any depth,
and nothing else is converted whatever its name. The reference is the JSON
Schema generated from the Rust types (``core/src/wire/schema.json``), not
the binding's own table; the generated stubs must name every type.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import upline

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEMA = json.loads((ROOT / "core" / "src" / "wire" / "schema.json").read_text())
DEFS: dict[str, Any] = SCHEMA["$defs"]
ROOTS: dict[str, Any] = SCHEMA["x-roots"]
UTC = dt.timezone.utc
MISSING = object()


def resolve(s: Any) -> Any:
    while isinstance(s, dict) and "$ref" in s:
        s = DEFS[s["$ref"].removeprefix("#/$defs/")]
    return s


def pick_variant(s: dict[str, Any], js: Any, py: Any) -> Any:
    variants = [resolve(v) for v in s.get("oneOf", s.get("anyOf", [])) if resolve(v).get("type") != "null"]
    value = js if js is not MISSING else py
    if len(variants) == 1:
        return variants[0]
    if isinstance(value, dict):
        for v in variants:
            props = v.get("properties", {})
            tags = [(k, p["const"]) for k, p in props.items() if isinstance(p, dict) and "const" in p]
            if tags and all(value.get(k) == c for k, c in tags):
                return v
        for v in variants:
            if set(value) <= set(v.get("properties", {})):
                return v
    # A union of scalars (a string enum): no conversion either way.
    return True


def check(s: Any, py: Any, js: Any = MISSING, path: str = "$") -> int:
    """Asserts `py` is the converted form of `js` (or, without `js`, that its
    types are) under schema `s`; returns how many money/time values it saw."""
    s = resolve(s)
    if py is None:
        assert js is MISSING or js is None, path
        return 0
    if s is True or s == {}:
        assert js is MISSING or py == js, path
        return 0
    fmt = s.get("format")
    if fmt == "decimal":
        assert type(py) is Decimal, f"{path}: {py!r} is not a Decimal"
        if js is not MISSING:
            assert str(py) == js, f"{path}: {py!r} != {js!r} (scale must be kept)"
        return 1
    if fmt == "date-time":
        assert isinstance(py, dt.datetime) and py.utcoffset() == dt.timedelta(0), f"{path}: {py!r}"
        if js is not MISSING:
            assert py == dt.datetime.fromisoformat(js.replace("Z", "+00:00")), path
        return 1
    if "oneOf" in s or "anyOf" in s:
        return check(pick_variant(s, js, py), py, js, path)
    if isinstance(py, dict):
        assert type(py) is dict, path
        if js is not MISSING:
            assert set(py) == set(js), f"{path}: keys {set(py)} != {set(js)}"
        props = s.get("properties", {})
        extra = s.get("additionalProperties", True)
        n = 0
        for k, v in py.items():
            sub = props.get(k, extra if isinstance(extra, dict) else True)
            n += check(sub, v, js[k] if js is not MISSING else MISSING, f"{path}.{k}")
        return n
    if isinstance(py, list):
        if js is not MISSING:
            assert len(py) == len(js), path
        prefix = s.get("prefixItems")
        n = 0
        for i, v in enumerate(py):
            sub = prefix[i] if prefix else s.get("items", True)
            n += check(sub, v, js[i] if js is not MISSING else MISSING, f"{path}[{i}]")
        return n
    # Not money, not a time: never converted, whatever the key's name.
    assert not isinstance(py, (Decimal, dt.datetime)), f"{path}: {py!r} was converted"
    if js is not MISSING:
        assert py == js and type(py) is type(js), f"{path}: {py!r} != {js!r}"
    return 0


# ---- every type in both generated files ------------------------------------------


def test_every_wire_type_is_in_both_generated_files() -> None:
    ts = (ROOT / "bindings-node" / "generated.d.ts").read_text()
    py = (ROOT / "bindings-python" / "python" / "upline" / "_types.pyi").read_text()
    assert len(DEFS) > 50
    for name in list(DEFS) + list(ROOTS):
        assert re.search(rf"^export (interface|type) {name}\b", ts, re.M), f"{name} missing in generated.d.ts"
        assert re.search(rf"^(class {name}\(TypedDict\)|{name}: TypeAlias =|{name} = TypedDict\()", py, re.M), (
            f"{name} missing in _types.pyi"
        )
    # Doc comments come along.
    assert "Commissions still inside their hold period." in ts
    assert "Commissions still inside their hold period." in py


def test_converters_name_no_money_or_time_key() -> None:
    names: set[str] = set()

    def collect(s: Any) -> None:
        if isinstance(s, dict):
            for k, v in s.get("properties", {}).items():
                r = resolve(v)
                if isinstance(r, dict) and r.get("format") in ("decimal", "date-time"):
                    names.add(k)
                elif isinstance(v, dict) and any(
                    isinstance(x, dict) and resolve(x).get("format") in ("decimal", "date-time")
                    for x in v.get("anyOf", []) + [v.get("additionalProperties"), v.get("items")]
                ):
                    names.add(k)
            for v in s.values():
                collect(v)
        elif isinstance(s, list):
            for v in s:
                collect(v)

    collect(DEFS)
    assert {"amount", "rate", "at", "as_of", "period", "threshold", "caps"} <= names
    convert = (ROOT / "bindings-python" / "src" / "convert.rs").read_text()
    node = (ROOT / "bindings-node" / "src" / "lib.rs").read_text()
    node = node[node.index("// ---- JS value -> JSON") : node.index("fn decode_event")]
    for source, label in [(convert, "convert.rs"), (node, "bindings-node converter")]:
        # `field_or(path, "value")` names a bare value in errors: not a key.
        source = re.sub(r'field_or\([^)]*\)', "", source)
        literals = set(re.findall(r'"([a-z_]+)"', source))
        assert not (literals & names), f"{label} names {sorted(literals & names)}"
        for gone in ["MONEY_KEYS", "MONEY_MAPS", "TIME_KEYS"]:
            assert gone not in source, f"{label} still has {gone}"


# ---- spot checks: by type, not by name ------------------------------------------


def joined(engine: upline.Engine, members: list[tuple[str, str | None]]) -> None:
    for m, s in members:
        engine.apply({"type": "member_joined", "member": m, "sponsor": s, "at": "2026-01-01T00:00:00Z"})


def test_same_name_different_types() -> None:
    engine = upline.Engine()
    joined(engine, [("a", None), ("b", "a")])
    engine.apply({"type": "sale_recorded", "sale": "s1", "buyer": "b", "amount": 100,
                  "currency": "USD", "at": "2026-02-01T00:00:00Z"})
    metrics = engine.member_metrics("a", "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z")
    # `period` is money in an earnings row; `window` is a pair of times.
    assert metrics["earnings"][0]["period"] == Decimal("20.00")
    assert type(metrics["earnings"][0]["period"]) is Decimal
    assert metrics["window"][0] == dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert type(metrics["earnings"][0]["currency"]) is str
    # `total` is money in a challenge, a float statistic in a projection.
    projection = engine.projection(3)
    assert all(type(p["total"]) is float for p in projection["points"])
    # `status` and ids stay strings; `joined_at` is a time at any depth.
    tree = engine.export_subtree_json("a", 3)
    kid = tree["tree"]["referrals"][0]
    assert kid["member"] == "b" and type(kid["status"]) is str
    assert kid["joined_at"] == dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert tree["tree"]["earnings"] == {"USD": Decimal("20.00")}


def test_money_in_by_type_at_any_depth() -> None:
    engine = upline.Engine()
    joined(engine, [("a", None), ("b", "a")])
    # A bonus `amount` and a plan's `caps` values are money: an int there
    # becomes its decimal string. A milestone's `threshold` is a count or
    # an amount (by metric): an int stays an int, as the vectors send it.
    engine.apply({"type": "milestones_set", "at": "2026-01-01T00:00:00Z",
                  "milestones": [{"id": "m1", "name": "First", "metric": "own_sales", "threshold": 1,
                                  "rewards": [{"bonus": {"amount": 5, "currency": "USD"}}]}]})
    plan = upline.Plan.from_dict({"id": "p", "version": 1,
                                  "levels": [{"rate": Decimal("0.5"), "caps": {"USD": 7}}]})
    assert plan.to_dict()["levels"][0]["caps"] == {"USD": Decimal("7")}
    engine.activate_plan(plan, "2026-01-15T00:00:00Z")
    applied = engine.apply({"type": "sale_recorded", "sale": "s1", "buyer": "b", "amount": 60,
                            "currency": "USD", "at": "2026-02-01T00:00:00Z"})
    line = applied["distribution"]["lines"][0]
    assert (line["rate"], line["base"], line["amount"]) == (Decimal("0.5"), Decimal("60.00"), Decimal("7.00"))
    award = applied["distribution"]["awards"][0]
    assert award["threshold"] == Decimal("1") and award["bonuses"][0]["amount"] == Decimal("5.00")
    assert type(award["milestone"]) is str
    # A float is refused wherever it is, naming the field.
    with pytest.raises(upline.InvalidAmount) as err:
        engine.apply({"type": "sale_recorded", "sale": "s2", "buyer": "b", "amount": "1.00",
                      "currency": "USD", "at": "2026-02-01T00:00:00Z",
                      "fx": {"currency": "EUR", "rate": 0.9}})
    assert err.value.field == "fx.rate"


# ---- property: random histories, Python results vs their JSON ------------------

CURRENCIES = [("USD", 2), ("JPY", 0), ("BHD", 3), ("PTS", 6)]


def amount_text(units: int, scale: int) -> str:
    return str(Decimal(units).scaleb(-scale)) if scale else str(units)


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pairs (python event, json event) with the same wire text."""
    base = dt.datetime(2026, 1, 1, tzinfo=UTC)
    out: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def add(py: dict[str, Any], js: dict[str, Any] | None = None) -> None:
        out.append((py, js if js is not None else py))

    def at(days: int) -> tuple[dt.datetime, str]:
        t = base + dt.timedelta(days=days)
        return t, t.isoformat()

    add({"type": "currency_registered", "currency": "PTS", "minor_units": 6})
    t, ts = at(0)
    add({"type": "milestones_set", "at": t,
         "milestones": [{"id": "m1", "name": "Seller", "metric": "own_sales", "threshold": 10,
                         "rewards": [{"bonus": {"amount": Decimal("1.50"), "currency": "USD"}}, {"perk": "badge"}]}]},
        {"type": "milestones_set", "at": ts,
         "milestones": [{"id": "m1", "name": "Seller", "metric": "own_sales", "threshold": 10,
                         "rewards": [{"bonus": {"amount": "1.50", "currency": "USD"}}, {"perk": "badge"}]}]})
    depth = draw(st.integers(2, 6))
    members = [f"m{i}" for i in range(depth)]
    for i, m in enumerate(members):
        t, ts = at(i)
        add({"type": "member_joined", "member": m, "sponsor": members[i - 1] if i else None, "at": t},
            {"type": "member_joined", "member": m, "sponsor": members[i - 1] if i else None, "at": ts})
    add({"type": "payout_profile_set", "member": members[0], "method": "bank", "verified": True})
    sales = draw(st.lists(st.tuples(st.sampled_from(CURRENCIES), st.integers(1, 10**9), st.booleans(),
                                    st.integers(0, 90)), min_size=1, max_size=6))
    for n, ((code, scale), units, as_int, day) in enumerate(sales):
        text = amount_text(units, scale)
        py_amount: Any = Decimal(text)
        if as_int and "." not in text:
            py_amount = int(text)
        t, ts = at(10 + day)
        buyer = members[-1]
        add({"type": "sale_recorded", "sale": f"s{n}", "buyer": buyer, "amount": py_amount,
             "currency": code, "at": t},
            {"type": "sale_recorded", "sale": f"s{n}", "buyer": buyer, "amount": text,
             "currency": code, "at": ts})
        if draw(st.booleans()):
            part = amount_text(max(1, units // 3), scale)
            t2, ts2 = at(11 + day)
            add({"type": "refund_recorded", "refund": f"r{n}", "sale": f"s{n}", "amount": Decimal(part), "at": t2},
                {"type": "refund_recorded", "refund": f"r{n}", "sale": f"s{n}", "amount": part, "at": ts2})
    t, ts = at(200)
    add({"type": "payouts_prepared", "batch": "b1", "as_of": t,
         "policy": {"minimum": {"USD": 1}, "fees": {"bank": {"flat": Decimal("0.25"), "percent": 0}}}},
        {"type": "payouts_prepared", "batch": "b1", "as_of": ts,
         "policy": {"minimum": {"USD": "1"}, "fees": {"bank": {"flat": "0.25", "percent": "0"}}}})
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_results_convert_by_declared_type(history: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    py_engine = upline.Engine()
    js_engine = upline.Engine()
    py_results = py_engine.apply_batch([p for p, _ in history])
    js_results = json.loads(js_engine.apply_batch_json(json.dumps([j for _, j in history])))
    seen = 0
    for i, (py, js) in enumerate(zip(py_results, js_results)):
        assert "error" not in js, (history[i][1], js)
        # The same wire text in, by type: the same audit hash.
        assert py["hash"] == js["hash"], history[i]
        seen += check(ROOTS["Applied"], py, js, f"slot[{i}]")
    assert seen > 0
    members = [e["member"] for e, _ in history if e["type"] == "member_joined"]
    end = "2027-01-01T00:00:00Z"
    for member in members:
        for code, _ in CURRENCIES:
            check(ROOTS["Balances"], py_engine.balances(member, code, end))
        check(ROOTS["MemberMetrics"], py_engine.member_metrics(member))
        check(ROOTS["Awards"], py_engine.awards(member))
    check(ROOTS["SubtreeExport"], py_engine.export_subtree_json(members[0], 10))
    check(ROOTS["TaxSummary"], py_engine.tax_summary(2026, {"USD": 1}))
    check(ROOTS["Leaderboard"], py_engine.leaderboard("net_earnings", "2026-01-01T00:00:00Z", end, currency="USD"))
    check(ROOTS["PayoutState"], py_engine.payout_state(f"b1:{members[0]}:USD"))
    for e, _ in history:
        if e["type"] == "sale_recorded":
            check(ROOTS["Distribution"], py_engine.distribution_of(e["sale"]))
