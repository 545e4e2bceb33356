"""Reading the books: statements (pages, sources, states, errors) and the
tax summary as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest

import upline
from helpers import UTC

JAN = dt.datetime(2026, 1, 1, tzinfo=UTC)


def books() -> upline.Engine:
    """ann <- bob <- cal; cal buys 100.00 and 50.00 USD; 40% of the first
    is refunded; ann is paid out and settled."""
    e = upline.Engine()
    for member, sponsor in [("ann", None), ("bob", "ann"), ("cal", "bob")]:
        e.apply({"type": "member_joined", "member": member, "sponsor": sponsor, "at": JAN})
    e.apply({"type": "payout_profile_set", "member": "ann", "method": "bank", "verified": True})
    for sale_id, amount, day in [("s1", "100.00", 1), ("s2", "50.00", 2)]:
        e.apply({"type": "sale_recorded", "sale": sale_id, "buyer": "cal", "amount": Decimal(amount),
                 "currency": "USD", "at": dt.datetime(2026, 2, day, tzinfo=UTC)})
    e.apply({"type": "refund_recorded", "refund": "r1", "sale": "s1", "amount": "40.00",
             "at": "2026-02-03T00:00:00Z"})
    e.apply({"type": "payouts_prepared", "batch": "b1", "as_of": "2026-03-10T00:00:00Z", "policy": {}})
    e.apply({"type": "payout_settled", "payout": "b1:ann:USD", "at": "2026-03-11T00:00:00Z",
             "reference": "wire"})
    return e


def test_statement_lines_carry_source_level_rate_base_and_state() -> None:
    e = books()
    page = e.statement("bob", as_of=dt.datetime(2026, 2, 5, tzinfo=UTC))
    assert page["member"] == "bob" and page["next"] is None
    assert page["as_of"] == dt.datetime(2026, 2, 5, tzinfo=UTC)
    first, second, reversal = page["entries"]
    assert first["kind"] == "commission" and first["source"] == {"type": "sale", "id": "s1"}
    assert (first["level"], first["rate"], first["base"]) == (1, Decimal("0.2"), Decimal("100.00"))
    assert type(first["amount"]) is Decimal and str(first["amount"]) == "20.00"
    assert str(first["remaining"]) == "12.00" and first["state"] == "pending"
    assert first["available_at"] == dt.datetime(2026, 3, 3, tzinfo=UTC)
    assert (second["state"], str(second["remaining"])) == ("pending", "10.00")
    assert reversal["kind"] == "reversal" and reversal["source"] == {"type": "refund", "id": "r1"}
    assert (str(reversal["amount"]), reversal["state"], reversal["level"]) == ("8.00", "reversed", None)


def test_payout_lines_are_reserved_then_paid() -> None:
    e = books()
    before = e.statement("ann", as_of="2026-03-10T12:00:00Z")["entries"]
    assert [(x["kind"], x["state"]) for x in before][-1] == ("payout_reserve", "reserved")
    assert before[-1]["source"] == {"type": "payout", "id": "b1:ann:USD"}
    assert str(before[-1]["amount"]) == "16.50"
    now = e.statement("ann")["entries"]
    assert [x["state"] for x in now] == ["available", "available", "reversed", "paid", "paid"]


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5, 100])
def test_pages_stitch_into_the_whole_statement(limit: int) -> None:
    e = books()
    whole = [x["seq"] for x in e.statement("ann")["entries"]]
    seen: list[int] = []
    after = None
    while True:
        page = e.statement("ann", after=after, limit=limit)
        seen += [x["seq"] for x in page["entries"]]
        after = page["next"]
        if after is None:
            break
        assert len(page["entries"]) == limit
    assert seen == whole and len(whole) == 5


def test_filters_narrow_the_statement() -> None:
    e = books()
    page = e.statement("ann", currency="USD", from_="2026-02-02T00:00:00Z",
                       to=dt.datetime(2026, 3, 11, tzinfo=UTC))
    assert [x["kind"] for x in page["entries"]] == ["commission", "reversal", "payout_reserve"]


@pytest.mark.parametrize(
    "member,kwargs,code",
    [
        ("ghost", {}, "unknown_member"),
        ("ann", {"after": "garbage"}, "malformed"),
        ("ann", {"after": 3}, "malformed"),
        ("ann", {"limit": 10_001}, "limit_exceeded"),
        ("ann", {"limit": 0}, "limit_exceeded"),
        ("ann", {"limit": 2.0}, "malformed"),
        ("ann", {"from_": "2026-03-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}, "invalid_time"),
        ("ann", {"as_of": dt.datetime(2026, 3, 1)}, "invalid_time"),
    ],
)
def test_bad_statement_queries_raise_their_codes(member: str, kwargs: dict[str, Any], code: str) -> None:
    e = books()
    with pytest.raises(upline.UplineError) as info:
        e.statement(member, **kwargs)
    assert info.value.code == code


def test_tax_summary_csv_has_a_header_and_exact_amounts() -> None:
    e = books()
    text = e.tax_summary_csv(2026, {"USD": Decimal("10.00")})
    assert text == (
        "earner,currency,earned,paid,reaches_threshold\n"
        "ann,USD,16.50,16.50,true\n"
        "bob,USD,22.00,0.00,false\n"
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [Decimal(r["earned"]) for r in rows] == [x["earned"] for x in e.tax_summary(2026, {"USD": "10.00"})]
    assert e.tax_summary_csv(2025) == "earner,currency,earned,paid,reaches_threshold\n"
    with pytest.raises(upline.UplineError) as info:
        e.tax_summary_csv(2026, {"USD": 10.5})
    assert info.value.code == "invalid_amount"
