"""SQLite-backed engines: persistence, reopening, verify and tampering."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import upline

JAN = "2026-01-01T00:00:00Z"


def events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    sponsor = None
    for i in range(4):
        out.append({"type": "member_joined", "member": f"m{i}", "sponsor": sponsor, "at": JAN})
        sponsor = f"m{i}"
    out.append({"type": "sale_recorded", "sale": "s1", "buyer": "m3", "amount": Decimal("100.00"),
                "currency": "USD", "at": JAN})
    return out


def test_store_persists_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "books.sqlite"
    engine = upline.Engine(path)
    assert all("error" not in r for r in engine.apply_batch(events()))
    head = engine.audit_head()
    assert engine.verify() == head
    with pytest.raises(upline.UnknownMember):
        engine.apply({"type": "sale_recorded", "sale": "s2", "buyer": "ghost", "amount": "1.00",
                      "currency": "USD", "at": JAN})
    del engine

    again = upline.Engine(str(path))
    assert again.audit_head() == head
    assert again.balances("m2", "USD", "2026-03-01T00:00:00Z")["available"] == Decimal("20.00")
    again.save_snapshot()
    again.apply({"type": "member_joined", "member": "late", "sponsor": "m0", "at": JAN})
    head2 = again.audit_head()
    del again
    third = upline.Engine(path)
    assert third.audit_head() == head2
    assert third.verify() == head2


def test_tampering_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "books.sqlite"
    engine = upline.Engine(path)
    engine.apply_batch(events())
    del engine
    with sqlite3.connect(path) as conn:
        changed = conn.execute("UPDATE events SET event = replace(event, '100.00', '900.00') WHERE seq = 5").rowcount
    assert changed == 1
    with pytest.raises(upline.Tampered) as info:
        upline.Engine(path)
    assert info.value.code == "tampered" and info.value.field == "seq"


def test_verify_without_store_is_storage_error() -> None:
    with pytest.raises(upline.Storage):
        upline.Engine().verify()
    with pytest.raises(upline.Storage):
        upline.Engine().save_snapshot()


def test_unusable_path_is_storage_error(tmp_path: Path) -> None:
    not_db = tmp_path / "text.sqlite"
    not_db.write_text("this is not a database" * 100)
    with pytest.raises(upline.Storage):
        upline.Engine(not_db)
    with pytest.raises(upline.Storage):
        upline.Engine(tmp_path / "missing-dir" / "x.sqlite")
    with pytest.raises(upline.Malformed):
        upline.Engine(42)  # type: ignore[arg-type]


def test_a_sqlite_follower_reads_another_writer_and_never_creates_a_file(tmp_path: Path) -> None:
    missing = tmp_path / "typo.sqlite"
    with pytest.raises(upline.Storage) as info:
        upline.Engine.follower(missing)
    assert info.value.code == "storage"
    assert not missing.exists(), "a follower never creates a store"

    path = tmp_path / "books.sqlite"
    writer = upline.Engine(path)
    writer.apply_batch(events()[:4])
    follower = upline.Engine.follower(path)
    assert follower.audit_head() == writer.audit_head()
    writer.apply(events()[4])
    follower.refresh()
    assert follower.audit_head() == writer.audit_head()
    assert follower.balances("m2", "USD", "2026-03-01T00:00:00Z")["available"] == Decimal("20.00")
    with pytest.raises(upline.ReadOnly) as refused:
        follower.apply({"type": "member_joined", "member": "x", "sponsor": "m0", "at": JAN})
    assert refused.value.code == "read_only"


# A snapshot of format 3, written by the build before format 4 (sale lines
# that repeated their entries' earner, amount and dates).
FORMAT_3 = Path(__file__).resolve().parents[2] / "core" / "tests" / "data" / "snapshot-format-3.json"


def test_a_snapshot_of_an_older_format_is_storage_naming_it() -> None:
    with pytest.raises(upline.Storage) as info:
        upline.Engine.from_snapshot(FORMAT_3.read_text())
    assert info.value.code == "storage"
    assert "snapshot format 3 predates format 4" in str(info.value)
    # Today's snapshot restores.
    engine = upline.Engine()
    engine.apply({"type": "member_joined", "member": "a", "sponsor": None, "at": "2026-01-01T00:00:00Z"})
    assert upline.Engine.from_snapshot(engine.snapshot()).audit_head() == engine.audit_head()
