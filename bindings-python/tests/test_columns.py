"""Arrow tables in and out: `apply_joins`, `apply_sales`, `apply_refunds`
and `what_if`. pyarrow and polars are test dependencies only."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from decimal import Decimal
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

import upline
from helpers import load_cases

CASES = load_cases()
CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z")
KINDS = {
    "member_joined": ("joins", ["member", "sponsor", "at"], []),
    "sale_recorded": ("sales", ["sale", "buyer", "amount", "currency", "at"], ["category"]),
    "refund_recorded": ("refunds", ["refund", "sale", "amount", "at"], []),
}


def kind(event: Any) -> str | None:
    """The table kind that can carry `event`, or None."""
    if not isinstance(event, dict) or event.get("type") not in KINDS:
        return None
    name, required, optional = KINDS[event["type"]]
    fields = set(event) - {"type"}
    if not set(required) <= fields or not fields <= set(required) | set(optional):
        return None
    ok = all(isinstance(event[k], str) or (k == "sponsor" and event[k] is None) for k in fields)
    return name if ok else None


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def table(name: str, run: list[dict[str, Any]], typed: bool) -> pa.Table:
    """A run of events as an Arrow table: all text, or (typed) timestamps
    and decimal128 where the text is canonical."""
    _, required, optional = KINDS[run[0]["type"]]
    columns: dict[str, pa.Array] = {}
    for key in required + [k for k in optional if any(k in e for e in run)]:
        values = [e.get(key) for e in run]
        if typed and key == "at" and all(CANONICAL_TIME.fullmatch(v) for v in values):
            columns[key] = pa.array([parse_time(v) for v in values], pa.timestamp("ms", tz="UTC"))
        elif typed and key == "amount" and all(re.fullmatch(r"\d+(\.\d+)?", v) for v in values):
            scales = {len(v.split(".")[1]) if "." in v else 0 for v in values}
            if len(scales) == 1:
                scale = scales.pop()
                columns[key] = pa.array([Decimal(v) for v in values], pa.decimal128(38, scale))
            else:
                columns[key] = pa.array(values, pa.string())
        elif typed and key in ("currency", "sponsor"):
            columns[key] = pa.array(values, pa.string()).dictionary_encode()
        else:
            columns[key] = pa.array(values, pa.string())
    return pa.table(columns)


def send(engine: upline.Engine, name: str, data: Any) -> pa.Table:
    if name == "joins":
        return pa.table(engine.apply_joins(data))
    if name == "sales":
        results, lines = engine.apply_sales(data, lines=True)
        assert pa.table(lines).schema.names == ["sale", "level", "earner", "amount", "currency", "rate"]
        return pa.table(results)
    return pa.table(engine.apply_refunds(data))


def slot(result: dict[str, Any]) -> tuple[int, str]:
    return (result["seq"], result["hash"])


@pytest.mark.parametrize("form", ["text", "typed", "polars"])
@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[n for n, _ in CASES])
def test_vector_rows_through_columns_match_the_dict_path(case: dict[str, Any], form: str) -> None:
    events = [step["apply"] for step in case["steps"] if "apply" in step]
    by_dict = upline.Engine()
    expected: list[Any] = []
    for event in events:
        try:
            expected.append(slot(by_dict.apply(event)))
        except upline.UplineError as err:
            expected.append(err.code)
    by_columns = upline.Engine()
    actual: list[Any] = []
    i = 0
    while i < len(events):
        name = kind(events[i])
        if name is None:
            try:
                actual.append(slot(by_columns.apply(events[i])))
            except upline.UplineError as err:
                actual.append(err.code)
            i += 1
            continue
        end = i + 1
        while end < len(events) and kind(events[end]) == name:
            end += 1
        data: Any = table(name, events[i:end], typed=form != "text")
        if form == "polars":
            data = pl.from_arrow(data)
        out = send(by_columns, name, data).to_pylist()
        for row in out:
            if row["error_code"] is not None:
                assert row["seq"] is None and row["hash"] is None
                actual.append(row["error_code"])
            else:
                actual.append((row["seq"], row["hash"].hex()))
        i = end
    assert actual == expected
    assert by_columns.audit_head() == by_dict.audit_head()


def joined() -> upline.Engine:
    engine = upline.Engine()
    engine.apply_joins(
        pa.table(
            {
                "member": ["ann", "bob", "cy"],
                "sponsor": [None, "ann", "bob"],
                "at": pa.array([dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)] * 3, pa.timestamp("us", tz="UTC")),
            }
        )
    )
    return engine


def sales(**replace: pa.Array) -> pa.Table:
    columns: dict[str, pa.Array] = {
        "sale": pa.array(["s1"]),
        "buyer": pa.array(["cy"]),
        "amount": pa.array([Decimal("100.00")], pa.decimal128(12, 2)),
        "currency": pa.array(["USD"]),
        "at": pa.array([dt.datetime(2026, 2, 1, 12, tzinfo=dt.timezone.utc)], pa.timestamp("ms", tz="UTC")),
    }
    columns.update(replace)
    return pa.table(columns)


def test_sales_return_lines_and_results_polars_and_pyarrow_take() -> None:
    engine = joined()
    results, lines = engine.apply_sales(sales(), lines=True)
    # polars reads the table as a DataFrame, and `from_arrow` (which gives
    # non-pyarrow streams back as a struct Series in polars 2) takes it too.
    frame = pl.DataFrame(lines)
    assert frame["earner"].to_list() == ["bob", "ann"]
    unnested = pl.from_arrow(lines)
    assert isinstance(unnested, pl.Series)
    assert unnested.struct.unnest().equals(frame)
    assert [str(a) for a in frame["amount"].to_list()] == ["20.00", "15.00"]
    row = pa.table(results).to_pylist()[0]
    assert row["seq"] == 4 and row["hash"].hex() == engine.audit_head()["hash"]
    assert row["replayed"] is False and row["error_code"] is None
    again = pa.table(engine.apply_sales(sales())).to_pylist()[0]
    assert again["seq"] == 4 and again["replayed"] is True


@pytest.mark.parametrize(
    ("replace", "cls", "field"),
    [
        ({"amount": pa.array([100.0], pa.float64())}, upline.InvalidAmount, "amount"),
        ({"at": pa.array([dt.datetime(2026, 2, 1, 12)], pa.timestamp("ms"))}, upline.InvalidTime, "at"),
        ({"categroy": pa.array(["books"])}, upline.Malformed, "categroy"),
        ({"buyer": pa.array([None], pa.string())}, upline.Malformed, "buyer"),
        ({"amount": pa.array([None], pa.decimal128(12, 2))}, upline.Malformed, "amount"),
    ],
    ids=["float_money", "naive_timestamp", "misspelt_column", "null_buyer", "null_amount"],
)
def test_a_bad_column_fails_the_whole_call_naming_it(replace: dict[str, pa.Array], cls: type, field: str) -> None:
    engine = joined()
    head = engine.audit_head()
    with pytest.raises(cls) as raised:
        engine.apply_sales(sales(**replace))
    assert raised.value.field == field  # type: ignore[attr-defined]
    assert engine.audit_head() == head


def test_a_missing_column_is_malformed() -> None:
    engine = joined()
    with pytest.raises(upline.Malformed) as raised:
        engine.apply_sales(sales().drop_columns(["buyer"]))
    assert raised.value.field == "buyer"


def test_more_rows_than_the_batch_limit_is_limit_exceeded() -> None:
    engine = upline.Engine()
    n = 100_001
    big = pa.table(
        {
            "member": pa.array([f"m{i}" for i in range(n)]),
            "sponsor": pa.nulls(n, pa.string()),
            "at": pa.array([0] * n, pa.timestamp("ms", tz="UTC")),
        }
    )
    with pytest.raises(upline.LimitExceeded):
        engine.apply_joins(big)
    assert engine.audit_head()["seq"] == 0


def test_a_non_arrow_argument_is_malformed() -> None:
    with pytest.raises(upline.Malformed):
        upline.Engine().apply_joins({"member": ["a"]})


def test_import_upline_needs_neither_pyarrow_nor_polars() -> None:
    code = (
        "import sys; sys.modules['pyarrow'] = None; sys.modules['polars'] = None; "
        "sys.modules['numpy'] = None; import upline; upline.Engine()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def what_if_books() -> upline.Engine:
    """ann ← bob ← cy ← dee; s1 (dee, 100.00) and s2 (cy, 33.33) in
    February, s3 (dee, 50.00) in March."""
    engine = upline.Engine()
    engine.apply_joins(
        pa.table(
            {
                "member": ["ann", "bob", "cy", "dee"],
                "sponsor": [None, "ann", "bob", "cy"],
                "at": ["2026-01-01T00:00:00Z"] * 4,
            }
        )
    )
    engine.apply_sales(
        pa.table(
            {
                "sale": ["s1", "s2", "s3"],
                "buyer": ["dee", "cy", "dee"],
                "amount": ["100.00", "33.33", "50.00"],
                "currency": ["USD"] * 3,
                "at": ["2026-02-01T12:00:00Z", "2026-02-10T12:00:00Z", "2026-03-05T12:00:00Z"],
            }
        )
    )
    return engine


FEB = dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)
MAR = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
DEFAULT = {
    "id": "default",
    "version": 1,
    "levels": [{"rate": r} for r in ["0.20", "0.15", "0.10", "0.08", "0.05", "0.03", "0.02"]],
}


def test_what_if_under_the_plan_in_force_changes_nobody() -> None:
    engine = what_if_books()
    head = engine.audit_head()
    table, summary = engine.what_if(DEFAULT, FEB, MAR)
    rows = pa.table(table).to_pylist()
    assert [(r["earner"], str(r["in_force"]), str(r["difference"])) for r in rows] == [
        ("ann", "15.00", "0.00"),
        ("bob", "21.67", "0.00"),
        ("cy", "20.00", "0.00"),
    ]
    assert summary["sales"] == 2 and summary["sales_changed"] == 0 and summary["complete"] is True
    assert engine.audit_head() == head


def test_what_if_on_a_hand_built_candidate() -> None:
    engine = what_if_books()
    head = engine.audit_head()
    flat = {"id": "flat", "version": 1, "levels": [{"rate": "0.25"}, {"rate": "0.05"}]}
    table, summary = engine.what_if(flat, FEB, MAR)
    frame = pl.DataFrame(table)
    # s1: cy 25.00, bob 5.00; s2 (33.33): bob 8.3325 → 8.33, ann 1.6665 → 1.67.
    assert [(e, str(c), str(d)) for e, c, d in frame.select("earner", "candidate", "difference").rows()] == [
        ("ann", "1.67", "-13.33"),
        ("bob", "13.33", "-8.34"),
        ("cy", "25.00", "5.00"),
    ]
    assert [(g["earner"], g["difference"]) for g in summary["gains"]] == [("cy", Decimal("5.00"))]
    assert [l["earner"] for l in summary["losses"]] == ["ann", "bob"]
    assert [(l["level"], l["in_force"], l["candidate"]) for l in summary["levels"]] == [
        (1, Decimal("26.67"), Decimal("33.33")),
        (2, Decimal("20.00"), Decimal("6.67")),
        (3, Decimal("10.00"), Decimal("0.00")),
    ]
    assert summary["sales_changed"] == 2
    assert engine.audit_head() == head


def test_what_if_progress_false_cancels() -> None:
    engine = what_if_books()
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> bool:
        calls.append((done, total))
        return done < 2

    _, summary = engine.what_if(DEFAULT, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", progress=progress, every=1)
    assert calls == [(1, 3), (2, 3)]
    assert summary["sales"] == 2 and summary["complete"] is False


def test_what_if_progress_that_raises_propagates() -> None:
    engine = what_if_books()

    def progress(done: int, total: int) -> bool:
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        engine.what_if(DEFAULT, FEB, MAR, progress=progress, every=1)


# ---- what-if over a sales table, and with no engine ----------------------

FLAT = {"id": "flat", "version": 1, "levels": [{"rate": "0.25"}, {"rate": "0.05"}]}
MEMBERS = pa.table(
    {
        "member": ["ann", "bob", "cy", "dee"],
        "sponsor": [None, "ann", "bob", "cy"],
        "at": pa.array([dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)] * 4, pa.timestamp("ms", tz="UTC")),
    }
)


def february_sales(**replace: pa.Array) -> pa.Table:
    """s1 (dee, 100.00) and s2 (cy, 33.33) in February, typed columns."""
    columns: dict[str, pa.Array] = {
        "sale": pa.array(["s1", "s2"]),
        "buyer": pa.array(["dee", "cy"]),
        "amount": pa.array([Decimal("100.00"), Decimal("33.33")], pa.decimal128(12, 2)),
        "currency": pa.array(["USD", "USD"]).dictionary_encode(),
        "at": pa.array(
            [dt.datetime(2026, 2, 1, 12, tzinfo=dt.timezone.utc), dt.datetime(2026, 2, 10, 12, tzinfo=dt.timezone.utc)],
            pa.timestamp("ms", tz="UTC"),
        ),
    }
    columns.update(replace)
    return pa.table(columns)


def members_engine() -> upline.Engine:
    engine = upline.Engine()
    engine.apply_joins(MEMBERS)
    return engine


def earner_rows(table: Any) -> list[tuple[str, str, str, str]]:
    return [
        (r["earner"], str(r["in_force"]), str(r["candidate"]), str(r["difference"]))
        for r in pa.table(table).to_pylist()
    ]


def test_what_if_on_a_sales_table_under_the_plan_in_force_changes_nobody() -> None:
    engine = members_engine()
    head = engine.audit_head()
    table, summary = engine.what_if(DEFAULT, sales=february_sales())
    # s1: cy 20% = 20.00, bob 15% = 15.00, ann 10% = 10.00;
    # s2 (33.33): bob 20% = 6.666 → 6.67, ann 15% = 4.9995 → 5.00.
    assert earner_rows(table) == [
        ("ann", "15.00", "15.00", "0.00"),
        ("bob", "21.67", "21.67", "0.00"),
        ("cy", "20.00", "20.00", "0.00"),
    ]
    assert (summary["sales"], summary["sales_changed"], summary["sales_refused"]) == (2, 0, 0)
    assert summary["gains"] == [] and summary["losses"] == []
    assert engine.audit_head() == head


def test_what_if_on_a_sales_table_with_a_hand_built_candidate() -> None:
    engine = members_engine()
    head = engine.audit_head()
    # Text columns, in polars, with a row the engine would refuse.
    frame = pl.DataFrame(
        {
            "sale": ["s1", "x", "s2"],
            "buyer": ["dee", "eve", "cy"],
            "amount": ["100.00", "1.00", "33.33"],
            "currency": ["USD"] * 3,
            "at": ["2026-02-01T12:00:00Z", "2026-02-01T12:00:00Z", "2026-02-10T12:00:00Z"],
        }
    )
    table, summary = engine.what_if(FLAT, sales=frame)
    # s1 (100.00): cy 25% = 25.00, bob 5% = 5.00, ann no level 3.
    # s2 (33.33): bob 25% = 8.3325 → 8.33, ann 5% = 1.6665 → 1.67.
    assert earner_rows(table) == [
        ("ann", "15.00", "1.67", "-13.33"),
        ("bob", "21.67", "13.33", "-8.34"),
        ("cy", "20.00", "25.00", "5.00"),
    ]
    assert [(l["level"], l["in_force"], l["candidate"]) for l in summary["levels"]] == [
        (1, Decimal("26.67"), Decimal("33.33")),
        (2, Decimal("20.00"), Decimal("6.67")),
        (3, Decimal("10.00"), Decimal("0.00")),
    ]
    assert [(g["earner"], g["difference"]) for g in summary["gains"]] == [("cy", Decimal("5.00"))]
    assert [(l["earner"], l["difference"]) for l in summary["losses"]] == [
        ("ann", Decimal("-13.33")),
        ("bob", Decimal("-8.34")),
    ]
    assert (summary["sales"], summary["sales_changed"], summary["sales_in_period"]) == (2, 2, 3)
    assert summary["sales_refused"] == 1
    assert summary["refused"] == [
        {"row": 1, "code": "unknown_member", "field": "buyer", "message": summary["refused"][0]["message"]}
    ]
    assert "eve" in summary["refused"][0]["message"]
    assert engine.audit_head() == head


def test_what_if_on_a_sales_table_reports_progress_and_false_cancels() -> None:
    engine = members_engine()
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> bool:
        calls.append((done, total))
        return False

    _, summary = engine.what_if(FLAT, sales=february_sales(), progress=progress, every=1)
    assert calls == [(1, 2)]
    assert summary["sales"] == 1 and summary["complete"] is False


@pytest.mark.parametrize(
    ("replace", "cls", "field"),
    [
        ({"amount": pa.array([100.0, 33.33], pa.float64())}, upline.InvalidAmount, "amount"),
        ({"at": pa.array([dt.datetime(2026, 2, 1, 12)] * 2, pa.timestamp("ms"))}, upline.InvalidTime, "at"),
        ({"categroy": pa.array(["books", None])}, upline.Malformed, "categroy"),
        ({"buyer": pa.array([None, "cy"], pa.string())}, upline.Malformed, "buyer"),
        ({"amount": pa.array([None, Decimal("1.00")], pa.decimal128(12, 2))}, upline.Malformed, "amount"),
    ],
    ids=["float_money", "naive_timestamp", "misspelt_column", "null_buyer", "null_amount"],
)
def test_what_if_on_a_bad_sales_table_raises_naming_the_column(
    replace: dict[str, pa.Array], cls: type, field: str
) -> None:
    engine = members_engine()
    head = engine.audit_head()
    with pytest.raises(cls) as raised:
        engine.what_if(FLAT, sales=february_sales(**replace))
    assert raised.value.field == field  # type: ignore[attr-defined]
    with pytest.raises(cls) as raised:
        upline.what_if(FLAT, members=MEMBERS, sales=february_sales(**replace))
    assert raised.value.field == f"sales.{field}"  # type: ignore[attr-defined]
    assert engine.audit_head() == head


def test_what_if_needs_a_period_or_a_table_not_both() -> None:
    engine = members_engine()
    with pytest.raises(upline.Malformed) as raised:
        engine.what_if(FLAT, FEB, MAR, sales=february_sales())
    assert raised.value.field == "from_"
    with pytest.raises(upline.Malformed) as raised:
        engine.what_if(FLAT, FEB)
    assert raised.value.field == "to"
    with pytest.raises(upline.Malformed) as raised:
        engine.what_if(FLAT, sales={"sale": ["s1"]})
    assert raised.value.field == "sales"


def test_upline_what_if_without_an_engine() -> None:
    table, summary = upline.what_if(FLAT, members=MEMBERS, sales=february_sales())
    assert earner_rows(table) == [
        ("ann", "15.00", "1.67", "-13.33"),
        ("bob", "21.67", "13.33", "-8.34"),
        ("cy", "20.00", "25.00", "5.00"),
    ]
    assert summary["sales_changed"] == 2
    # Under the plan in force (here the candidate itself) nothing changes.
    table, summary = upline.what_if(FLAT, members=pl.from_arrow(MEMBERS), sales=february_sales(), current=FLAT)
    assert all(d == "0.00" for _, _, _, d in earner_rows(table))
    assert summary["sales_changed"] == 0 and summary["sales"] == 2
    # A 3% one-level plan in force: cy 3.00 on s1, bob 1.00 on s2 (0.9999).
    now = upline.Plan.from_dict({"id": "now", "version": 1, "levels": [{"rate": "0.03"}]})
    table, _ = upline.what_if(FLAT, members=MEMBERS, sales=february_sales(), current=now)
    assert earner_rows(table) == [
        ("ann", "0.00", "1.67", "1.67"),
        ("bob", "1.00", "13.33", "12.33"),
        ("cy", "3.00", "25.00", "22.00"),
    ]


def test_upline_what_if_bad_members_raise_naming_the_table_and_column() -> None:
    naive = MEMBERS.set_column(2, "at", pa.array([dt.datetime(2026, 1, 1)] * 4, pa.timestamp("ms")))
    with pytest.raises(upline.InvalidTime) as raised:
        upline.what_if(FLAT, members=naive, sales=february_sales())
    assert raised.value.field == "members.at"  # type: ignore[attr-defined]
    orphan = pa.table({"member": ["ann", "bob"], "sponsor": [None, "eve"], "at": ["2026-01-01T00:00:00Z"] * 2})
    with pytest.raises(upline.UnknownMember) as raised:
        upline.what_if(FLAT, members=orphan, sales=february_sales())
    assert raised.value.field == "members.sponsor"  # type: ignore[attr-defined]
    assert raised.value.message.startswith("members row 1: ")  # type: ignore[attr-defined]
    with pytest.raises(upline.Malformed) as raised:
        upline.what_if(FLAT, members=[1, 2], sales=february_sales())
    assert raised.value.field == "members"  # type: ignore[attr-defined]
    bad = {"id": "bad", "version": 1, "levels": [{"rate": "0.80"}, {"rate": "0.80"}]}
    with pytest.raises(upline.InvalidPlan):
        upline.what_if(FLAT, members=MEMBERS, sales=february_sales(), current=bad)
