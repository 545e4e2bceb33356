"""One engine shared by several threads: disjoint batches, totals conserve."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import upline

THREADS = 4
MEMBERS = 12  # a chain per thread
SALES = 150   # per thread
BATCH = 25


def test_threads_share_one_engine() -> None:
    engine = upline.Engine()
    setup: list[dict[str, Any]] = []
    for t in range(THREADS):
        sponsor = None
        for i in range(MEMBERS):
            setup.append({"type": "member_joined", "member": f"t{t}m{i}", "sponsor": sponsor,
                          "at": "2026-01-01T00:00:00Z"})
            sponsor = f"t{t}m{i}"
    assert all("error" not in r for r in engine.apply_batch(setup))

    errors: list[BaseException] = []
    totals: dict[int, Decimal] = {}
    amounts: dict[int, Decimal] = {}

    def work(t: int) -> None:
        try:
            paid = Decimal(0)
            sold = Decimal(0)
            for start in range(0, SALES, BATCH):
                events = []
                for k in range(start, start + BATCH):
                    amount = Decimal(k % 97 + 1) + Decimal("0.37")
                    sold += amount
                    events.append({"type": "sale_recorded", "sale": f"t{t}s{k}", "buyer": f"t{t}m{MEMBERS - 1 - k % 5}",
                                   "amount": amount, "currency": "USD", "at": "2026-01-02T00:00:00Z"})
                for r in engine.apply_batch(events):
                    assert "error" not in r, r
                    d = r["distribution"]
                    lines = sum((line["amount"] for line in d["lines"]), Decimal(0))
                    assert lines + d["retained"] == d["amount"]
                    paid += lines
                # Reads interleave with other threads' writes.
                engine.balances(f"t{t}m0", "USD", "2026-06-01T00:00:00Z")
                engine.audit_head()
            totals[t] = paid
            amounts[t] = sold
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors

    assert engine.audit_head()["seq"] == len(setup) + THREADS * SALES
    for t in range(THREADS):
        credited = sum((engine.balances(f"t{t}m{i}", "USD", "2026-06-01T00:00:00Z")["available"]
                        for i in range(MEMBERS)), Decimal(0))
        assert credited == totals[t]
        assert credited > 0
    # The interleaved state survives a snapshot round trip intact.
    restored = upline.Engine.from_snapshot(engine.snapshot())
    assert restored.audit_head() == engine.audit_head()


def test_gil_released_during_batch() -> None:
    """Another Python thread makes progress while a large batch runs."""
    engine = upline.Engine()
    events: list[dict[str, Any]] = [{"type": "member_joined", "member": "root", "sponsor": None, "at": "2026-01-01T00:00:00Z"}]
    for i in range(20000):
        events.append({"type": "member_joined", "member": f"n{i}", "sponsor": "root", "at": "2026-01-01T00:00:00Z"})
    ticks = 0
    done = threading.Event()

    def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1

    th = threading.Thread(target=ticker)
    th.start()
    try:
        results = engine.apply_batch(events)
    finally:
        done.set()
        th.join()
    assert len(results) == len(events) and ticks > 0
