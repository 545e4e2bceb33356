"""A small typed program against the stubs; checked with `mypy --strict`."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import upline

if TYPE_CHECKING:
    # The generated TypedDicts (stub-only): for annotations.
    from upline._types import Applied, Head, LeaderboardEntry, TaxLine


def run() -> Decimal:
    engine = upline.Engine()
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    events: list[dict[str, Any]] = [
        {"type": "member_joined", "member": "ann", "sponsor": None, "at": at},
        {"type": "member_joined", "member": "bob", "sponsor": "ann", "at": at},
    ]
    for slot in engine.apply_batch(events):
        if "error" in slot:
            raise RuntimeError(slot["error"]["code"])
    plan = upline.Plan.from_dict({"id": "launch", "version": 1, "levels": [{"rate": Decimal("0.10")}]})
    engine.activate_plan(plan, at)
    result: Applied = engine.apply(
        {"type": "sale_recorded", "sale": "s1", "buyer": "bob", "amount": Decimal("100.00"),
         "currency": "USD", "at": "2026-02-01T12:00:00Z"}
    )
    line_amount: Decimal = result["distribution"]["lines"][0]["amount"]
    balances = engine.balances("ann", "USD", "2026-03-15T00:00:00Z")
    available: Decimal = balances["available"]
    head: Head = engine.audit_head()
    seq: int = head["seq"]
    ancestors: list[str] = engine.upline("bob", 7)
    size: int = engine.downline_size("ann")
    tax: list[TaxLine] = engine.tax_summary(2026, {"USD": Decimal("600")})
    earned: Decimal = tax[0]["earned"]
    board = engine.leaderboard("net_earnings", at, "2027-01-01T00:00:00Z", currency="USD")
    top: LeaderboardEntry = board["entries"][0]
    reached: dt.datetime = top["reached_at"]
    metrics = engine.member_metrics("ann")
    window_start: dt.datetime = metrics["window"][0]
    period: Decimal = metrics["earnings"][0]["period"]
    entry_at: dt.datetime = result["entries"][0]["available_at"]
    state = engine.payout_state("none")
    assert state is None and earned >= 0 and period >= 0 and reached <= window_start + dt.timedelta(days=10**6)
    assert entry_at.tzinfo is not None
    copy = upline.Engine.from_snapshot(engine.snapshot())
    try:
        engine.apply({"type": "sale_recorded", "sale": "s2", "buyer": "bob", "amount": "1.001",
                      "currency": "USD", "at": at})
    except upline.InvalidAmount as err:
        code: str = err.code
        field: str | None = err.field
        assert code == "invalid_amount" and field == "amount"
    except upline.UplineError:
        raise
    assert seq == copy.audit_head()["seq"] and ancestors == ["ann"] and size == 1 and len(tax) == 1
    text: str = engine.apply_batch_json(json.dumps([
        {"type": "sale_recorded", "sale": "s3", "buyer": "bob", "amount": "5.00",
         "currency": "USD", "at": "2026-02-02T00:00:00Z"},
    ]), records=False)
    slots: list[dict[str, Any]] = json.loads(text)
    assert slots[0]["seq"] == seq + 1
    codes: tuple[str, ...] = upline.ERROR_CODES
    assert "over_refund" in codes
    return line_amount + available


if __name__ == "__main__":
    print(run())
