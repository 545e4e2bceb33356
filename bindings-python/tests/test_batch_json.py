"""`Engine.apply_batch_json`: JSON text in, JSON text out."""

from __future__ import annotations

import json
from typing import Any

import pytest

import upline
from helpers import load_cases, matches
from test_vectors import run_apply

CASES = load_cases()
IDS = [name for name, _ in CASES]

T = "2026-01-01T00:00:00Z"


def joined(member: str, sponsor: str | None) -> dict[str, Any]:
    return {"type": "member_joined", "member": member, "sponsor": sponsor, "at": T}


def sale(sale_id: str, buyer: str, amount: Any) -> dict[str, Any]:
    return {"type": "sale_recorded", "sale": sale_id, "buyer": buyer, "amount": amount,
            "currency": "USD", "at": "2026-02-01T00:00:00Z"}


def apply_json(engine: upline.Engine, events: list[Any], **kw: Any) -> list[dict[str, Any]]:
    out = engine.apply_batch_json(json.dumps(events), **kw)
    assert isinstance(out, str)
    slots = json.loads(out)
    assert isinstance(slots, list) and len(slots) == len(events)
    return slots


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=IDS)
def test_vector_batch_json(case: dict[str, Any]) -> None:
    """Each apply step as a one-element array; a refused step is an error
    slot and leaves the engine unchanged. Same audit head as `apply`."""
    engine = upline.Engine()
    for i, step in enumerate(case["steps"]):
        where = f"step {i}"
        if "balances" in step:
            q = step["balances"]
            matches(step["expect"], engine.balances(q["member"], q["currency"], q["as_of"]), where)
            continue
        before = engine.snapshot()
        [got] = apply_json(engine, [step["apply"]])
        if "error" in step:
            assert set(got) == {"error"}, f"{where}: expected an error slot, got {got!r}"
            assert set(got["error"]) == {"code", "message", "field"}
            assert got["error"]["code"] == step["error"], f"{where}: {got!r}"
            assert engine.snapshot() == before, f"{where}: a refused event changed the engine"
        else:
            assert "error" not in got, f"{where}: {got!r}"
            matches(step["expect"], got, where)
    assert engine.audit_head() == run_apply(case).audit_head()


def test_slots_match_apply_batch_and_bad_slots_stand_alone() -> None:
    events: list[Any] = [
        joined("a", None),
        joined("b", "a"),
        sale("s1", "b", "10.00"),
        sale("s2", "b", "10.001"),  # refused by the core
        {"type": "nope"},  # undecodable
        5,  # not an object
        {"type": "sale_recorded", "sale": "s3"},  # missing fields
        sale("s4", "ghost", "1.00"),  # unknown member
        sale("s1", "b", "10.00"),  # an idempotent retry
        sale("s5", "b", "20.00"),
    ]
    via_json = upline.Engine()
    via_dicts = upline.Engine()
    slots = apply_json(via_json, events)
    dicts = via_dicts.apply_batch([e if isinstance(e, dict) else {"x": e} for e in events])
    assert [("error" in s) for s in slots] == [False, False, False, True, True, True, True, True, False, False]
    assert slots[3]["error"] == {"code": "invalid_amount", "field": "amount",
                                 "message": slots[3]["error"]["message"]}
    for i in (4, 5, 6):
        assert slots[i]["error"]["code"] == "malformed", slots[i]
    assert slots[7]["error"]["code"] == "unknown_member"
    assert slots[8]["replayed"] is True and slots[8]["seq"] == slots[2]["seq"]
    assert slots[9]["seq"] == slots[2]["seq"] + 1
    # The same slots as apply_batch: amounts as their decimal text.
    for s, d in zip(slots, dicts):
        assert ("error" in s) == ("error" in d)
        if "error" in s:
            assert s["error"]["code"] == d["error"]["code"]
        else:
            assert (s["seq"], s["hash"], s.get("replayed")) == (d["seq"], d["hash"], d.get("replayed"))
    lines = slots[2]["distribution"]["lines"]
    assert lines == [{**line, "rate": str(want["rate"]), "base": str(want["base"]), "amount": str(want["amount"])}
                     for line, want in zip(lines, dicts[2]["distribution"]["lines"])]
    assert lines[0]["amount"] == "2.00"
    assert slots[2]["entries"][0]["at"] == "2026-02-01T00:00:00Z"
    assert via_json.audit_head() == via_dicts.audit_head()
    assert json.loads(via_json.snapshot()) == json.loads(via_dicts.snapshot())
    assert via_json.apply_batch_json("[]") == "[]"


def test_records_false_is_only_the_chain_position() -> None:
    full = upline.Engine()
    lean = upline.Engine()
    events = [joined("a", None), joined("b", "a"), sale("s1", "b", "10.00"), sale("s1", "b", "10.00"),
              sale("s2", "ghost", "10.00")]
    records = apply_json(full, events)
    slots = apply_json(lean, events, records=False)
    assert slots[0] == {"seq": 1, "hash": records[0]["hash"]}
    assert slots[2] == {"seq": 3, "hash": records[2]["hash"]}
    assert slots[3] == {"seq": 3, "hash": records[2]["hash"], "replayed": True}
    assert set(slots[4]) == {"error"} and slots[4]["error"]["code"] == "unknown_member"
    assert lean.audit_head() == full.audit_head()
    assert str(lean.balances("a", "USD", "2026-02-01T00:00:00Z")["pending"]) == "2.00"


@pytest.mark.parametrize("text", ["", "{}", '{"type": "member_joined"}', "nope", "[1,", "null", "[] []"])
def test_text_that_is_not_a_json_array_is_malformed(text: str) -> None:
    engine = upline.Engine()
    engine.apply(joined("a", None))
    head = engine.audit_head()
    with pytest.raises(upline.Malformed) as info:
        engine.apply_batch_json(text)
    assert info.value.code == "malformed"
    assert isinstance(info.value, ValueError)
    assert engine.audit_head() == head


def test_text_must_be_a_str() -> None:
    engine = upline.Engine()
    for bad in (b"[]", ["[]"], None, 1):
        with pytest.raises(upline.Malformed) as info:
            engine.apply_batch_json(bad)  # type: ignore[arg-type]
        assert info.value.field == "text"
    with pytest.raises(upline.Malformed):
        engine.apply_batch_json("[\ud800]")
    with pytest.raises(TypeError):
        engine.apply_batch_json("[]", records=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        engine.apply_batch_json("[]", False)  # type: ignore[misc]


def test_over_the_event_limit_is_refused_whole() -> None:
    engine = upline.Engine()
    engine.apply(joined("a", None))
    head = engine.audit_head()
    with pytest.raises(upline.LimitExceeded) as info:
        engine.apply_batch_json("[" + ",".join([json.dumps(joined("x", "a"))] * 100_001) + "]")
    assert info.value.code == "limit_exceeded"
    assert engine.audit_head() == head


def test_non_ascii_ids_round_trip() -> None:
    engine = upline.Engine()
    slots = apply_json(engine, [joined("ann\u00e9", None), joined("\U0001f600", "ann\u00e9"),
                                sale("s\u00e9", "\U0001f600", "10.00")])
    assert slots[2]["distribution"]["sale"] == "s\u00e9"
    assert slots[2]["distribution"]["lines"][0]["earner"] == "ann\u00e9"
    assert engine.upline("\U0001f600", 1) == ["ann\u00e9"]
