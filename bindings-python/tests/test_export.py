"""Engine.export_ledger: to a path, a binary and a text file object, JSON
Lines and CSV; every JSON Lines export re-verifies in the independent
verifier (tools/verify_export.py, standard library only) to the engine's
head, and a changed amount is found at its event."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import pytest

import upline

ROOT = Path(__file__).resolve().parents[2]
JAN = "2026-01-01T00:00:00Z"


def verifier() -> Any:
    spec = importlib.util.spec_from_file_location("verify_export", ROOT / "tools" / "verify_export.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def books(path: Path) -> upline.Engine:
    engine = upline.Engine(path)
    events: list[dict[str, Any]] = []
    sponsor = None
    for i in range(5):
        events.append({"type": "member_joined", "member": f"m{i}", "sponsor": sponsor, "at": JAN})
        sponsor = f"m{i}"
    events += [
        {"type": "sale_recorded", "sale": "s1", "buyer": "m4", "amount": "100.00",
         "currency": "USD", "at": "2026-02-01T12:00:00Z"},
        {"type": "refund_recorded", "refund": "r1", "sale": "s1", "amount": "40.00",
         "at": "2026-02-02T12:00:00+02:00"},
        {"type": "sale_recorded", "sale": "s2", "buyer": "m3", "amount": "7.77",
         "currency": "EUR", "at": "2026-02-03T00:00:00.5Z"},
    ]
    assert all("error" not in r for r in engine.apply_batch(events))
    return engine


def test_a_path_export_verifies_independently_to_the_head(tmp_path: Path) -> None:
    engine = books(tmp_path / "books.sqlite")
    out = tmp_path / "ledger.jsonl"
    head = engine.export_ledger(out)
    assert head == engine.audit_head()
    lines = out.read_text().splitlines()
    assert len(lines) == head["seq"] + 2
    assert json.loads(lines[0])["audit_tag"] == "upline/audit/v2\x00"
    assert json.loads(lines[-1])["head"] == head
    check = verifier()
    assert check.verify(lines) == (head["seq"], head["hash"])

    # A changed commission amount is found at its event (6: sale s1).
    changed = [line.replace('"amount":"20.00"', '"amount":"20.01"', 1) if i == 6 else line
               for i, line in enumerate(lines)]
    assert changed != lines
    with pytest.raises(check.Mismatch, match="event 6 does not match its hash"):
        check.verify(changed)


def test_file_objects_ranges_and_csv(tmp_path: Path) -> None:
    engine = books(tmp_path / "books.sqlite")
    head = engine.audit_head()
    binary = io.BytesIO()
    assert engine.export_ledger(binary, format="jsonl") == head
    text = io.StringIO()
    assert engine.export_ledger(text) == head
    assert binary.getvalue().decode() == text.getvalue()

    part = io.StringIO()
    ranged = engine.export_ledger(part, "jsonl", from_seq=6, to_seq=7)
    assert ranged["seq"] == 7
    assert verifier().verify(part.getvalue().splitlines()) == (7, ranged["hash"])

    rows = io.StringIO()
    engine.export_ledger(rows, format="csv")
    table = list(csv.reader(io.StringIO(rows.getvalue())))
    assert table[0] == ["seq", "hash", "type", "event", "records"]
    assert table[1] == ["0", "0" * 64, "prev", "", ""]
    assert table[-1] == [str(head["seq"]), head["hash"], "head", "", ""]
    sale = table[2 + 5]
    assert sale[2] == "sale_recorded"
    records = json.loads(sale[4])
    assert records["outcome"]["distribution"]["lines"][0]["amount"] == "20.00"


def test_bad_arguments_and_engines_without_a_store(tmp_path: Path) -> None:
    engine = books(tmp_path / "books.sqlite")
    with pytest.raises(upline.Malformed) as bad_format:
        engine.export_ledger(io.StringIO(), format="xml")
    assert bad_format.value.field == "format"
    with pytest.raises(upline.Malformed) as zero:
        engine.export_ledger(io.StringIO(), from_seq=0)
    assert zero.value.field == "from_seq"
    with pytest.raises(upline.Malformed):
        engine.export_ledger(io.StringIO(), from_seq=5, to_seq=4)
    with pytest.raises(upline.Malformed):
        engine.export_ledger(io.StringIO(), from_seq=1.5)  # type: ignore[arg-type]
    with pytest.raises(upline.Malformed):
        engine.export_ledger(42)  # type: ignore[arg-type]
    with pytest.raises(upline.Storage):
        upline.Engine().export_ledger(io.StringIO())
    with pytest.raises(upline.Storage):
        engine.export_ledger(tmp_path / "missing-dir" / "out.jsonl")
