"""A target for a profiler: ``engine.apply_sales`` over Arrow tables at full
size, nothing else timed. The network (1M members, the shape of
``compare.py``) is joined with ``apply_joins`` and the sales applied 100,000
rows a call; the script prints the wall time of each phase so a profile can
be cut to the sales phase (``perf record -D <ms>``).

    perf record -F 499 -g -o perf.data target/py-venv/bin/python benches/python/profile_columns.py
    perf report -i perf.data --no-children --sort symbol

Options: --members N (default 1,000,000), --sales N (default 500,000),
--what-if (also time ``what_if(plan, sales=table)`` over the same table),
--memory (sample the malloc heap in use around each ``apply_sales`` call, as
``compare.py`` does, and report what the engine kept, each call's peak
beyond it and the results' size against the Arrow input's).
"""

from __future__ import annotations

import argparse
import datetime
import random
import time
from decimal import Decimal

import pyarrow as pa

import upline


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--members", type=int, default=1_000_000)
    p.add_argument("--sales", type=int, default=500_000)
    p.add_argument("--what-if", action="store_true")
    p.add_argument("--memory", action="store_true")
    a = p.parse_args()
    t0 = time.perf_counter()
    rng = random.Random(42)
    n = a.members
    sponsor = [None] + [
        f"m{i - 1 - rng.randrange(min(50, i)) if rng.random() < 0.7 else rng.randrange(i)}" for i in range(1, n)
    ]
    utc = datetime.timezone.utc
    members = pa.table({
        "member": pa.array([f"m{i}" for i in range(n)]),
        "sponsor": pa.array(sponsor),
        "at": pa.array([datetime.datetime(2026, 1, 1, tzinfo=utc)] * n, pa.timestamp("ms", tz="UTC")),
    })
    sales = pa.table({
        "sale": pa.array([f"s{i}" for i in range(a.sales)]),
        "buyer": pa.array([f"m{rng.randrange(n)}" for _ in range(a.sales)]),
        "amount": pa.array([Decimal(rng.randrange(100, 100_000)) / 100 for _ in range(a.sales)], pa.decimal128(12, 2)),
        "currency": pa.array(["USD"] * a.sales).dictionary_encode(),
        "at": pa.array([datetime.datetime(2026, 2, 1, 12, tzinfo=utc)] * a.sales, pa.timestamp("ms", tz="UTC")),
    })
    print(f"data: {time.perf_counter() - t0:.2f} s", flush=True)
    engine = upline.Engine()
    t0 = time.perf_counter()
    for start in range(0, n, 100_000):
        engine.apply_joins(members.slice(start, 100_000))
    print(f"joins: {time.perf_counter() - t0:.2f} s", flush=True)
    if a.memory:
        memory(engine, sales)
        return
    t0 = time.perf_counter()
    for start in range(0, a.sales, 100_000):
        engine.apply_sales(sales.slice(start, 100_000))
    secs = time.perf_counter() - t0
    print(f"apply_sales: {secs:.2f} s, {a.sales / secs:,.0f} sales/s", flush=True)
    if a.what_if:
        plan = {"id": "c", "version": 1, "levels": [{"rate": r} for r in ("0.25", "0.10", "0.05")]}
        t0 = time.perf_counter()
        engine.what_if(plan, sales=sales)
        secs = time.perf_counter() - t0
        print(f"what_if(sales=table): {secs:.2f} s, {a.sales / secs:,.0f} sales/s", flush=True)


def memory(engine: upline.Engine, sales: pa.Table) -> None:
    """Per call: heap before, peak during, after with the result held and
    after it is dropped (see ``compare.py``'s ``run_columnar``)."""
    import gc
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from compare import PeakHeap, heap_in_use  # noqa: E402

    assert heap_in_use is not None, "needs glibc (mallinfo2)"
    mib = 1 << 20
    kept = transient = held = results = 0
    t0 = time.perf_counter()
    for start in range(0, sales.num_rows, 100_000):
        part = sales.slice(start, 100_000)
        gc.collect()
        with PeakHeap() as peak:
            out = engine.apply_sales(part)
        with_result = heap_in_use()
        got = pa.table(out)
        results += got.nbytes
        del got, out
        gc.collect()
        after = heap_in_use()
        kept += after - peak.start
        transient = max(transient, peak.peak - after)
        held = max(held, with_result - after)
    secs = time.perf_counter() - t0
    size = sales.nbytes
    print(f"apply_sales, {sales.num_rows:,} rows in calls of 100,000 ({secs:.2f} s with the sampler): "
          f"Arrow input {size / mib:.1f} MiB; engine kept {kept / mib:.1f} MiB; a call's peak beyond the "
          f"engine {transient / mib:.1f} MiB (result held {held / mib:.1f} MiB); all results {results / mib:.1f} MiB; "
          f"keeping every result: {(transient + results) / mib:.1f} MiB = {(transient + results) / size:.2f}x the input",
          flush=True)


if __name__ == "__main__":
    main()
