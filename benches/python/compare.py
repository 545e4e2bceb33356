"""Sales per second: the plain-Python model vs the Upline Python binding
(``engine.apply`` one sale per call, ``engine.apply_batch``,
``engine.apply_batch_json``), on one generated network, in one run, with a
cross-check of the money.

    target/py-venv/bin/python benches/python/compare.py           # 1M members, 1M sales
                                                                    # (apply: a 100k prefix)
    target/py-venv/bin/python benches/python/compare.py --quick   # 10k members, 10k sales (CI smoke)

Options: --members N, --sales N, --apply-sales N (how many sales go through
one-call-per-sale ``apply``; default min(sales, 100,000)), --batch N (default
10,000), --seed N (default 42), --sample N (earners whose balances are
checked one by one, default 1,000).

Network (as in shared/PEERS.md): member m0 is the root; each later member's
sponsor is, with probability 0.7, uniform among the 50 most recent members,
else uniform among all earlier ones. Buyers uniform over all members; sale
amounts uniform in 1.00-999.99 USD. All drawn from random.Random(seed), so
every run sees the same data.

What is timed: the model's loop over all sales (calc only, per-earner totals);
each ``apply_batch`` call (converting the event dicts in, building the result
dicts out); for the JSON path, ``json.dumps(events)`` (amounts as strings) +
``engine.apply_batch_json(text, records=False)`` + ``json.loads(result)``;
each ``apply`` call. Building the input events and reading the results for
the cross-check happen outside the timers.

Arrow rows (when pyarrow is installed; it is a test dependency, not
upline's): the same sales again (new ids, dated in March) as one pyarrow
table through ``engine.apply_sales`` 100,000 rows a call (the batch limit),
with the malloc heap in use (glibc ``mallinfo2``) read around each call
(``profile_columns.py --memory`` samples a call's peak); then ``engine.what_if`` over exactly those sales under a
25/10/5% candidate, ``engine.what_if(candidate, sales=table)`` over the same
table, and ``upline.what_if(candidate, members=..., sales=table)`` with no
engine, whose in-force and candidate totals are each checked against the
model run under each plan.

Cross-check: the total commission paid (sum of all lines = amount - retained)
over the apply_batch sales must equal the model's to the cent, the same for
the apply prefix (checked against a second, untimed model run), and a sample
of earners' engine balances (pending + available + held + reserved + paid)
must equal the model's per-earner totals (the full sales go through the
engine three times: apply_batch, apply_batch(records=False) and
apply_batch_json, each with its own sale ids). Exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import gc
import json
import os
import platform
import random
import sys
import threading
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import upline  # noqa: E402
from model import Model  # noqa: E402

try:  # the Arrow rows need pyarrow (a test dependency, not upline's)
    import pyarrow as pa
except ImportError:
    pa = None

JOIN_AT = "2026-01-01T00:00:00Z"
SALE_AT = "2026-02-01T12:00:00Z"
BALANCE_AS_OF = "2027-01-01T00:00:00Z"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]


def _heap_in_use():
    """glibc's bytes in use by malloc (``mallinfo2``: ``uordblks`` in the
    arenas plus ``hblkhd`` mmapped), or None off glibc. The Rust core and
    binding allocate through it; pyarrow's own pool and Python's object
    arenas do not, so the Arrow input is not in it."""
    try:
        libc = ctypes.CDLL(None)
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _MallInfo2

    def in_use() -> int:
        info = mallinfo2()
        return int(info.uordblks + info.hblkhd)

    return in_use


heap_in_use = _heap_in_use()


class PeakHeap:
    """Samples the malloc heap in use (or RSS off glibc) every 5 ms on a
    thread (the core runs without the GIL, so the sampler runs during the
    call). ``mallinfo2`` walks the free lists under the arena lock, so
    sampling much more often slows the sampled call down."""

    def __init__(self) -> None:
        self.read = heap_in_use or rss_bytes
        self.start = self.read()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.read())

    def __enter__(self) -> "PeakHeap":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.read())


CANDIDATE_RATES = ("0.25", "0.10", "0.05")
MARCH = "2026-03-01T12:00:00Z"


def run_columnar(engine: "upline.Engine", buyers: list, amounts: list, sponsors: dict, seed: int) -> dict:
    """(f) the sales as one Arrow table through ``apply_sales`` (100,000 rows
    a call, the batch limit), timed and with RSS sampled; (g) ``what_if``
    over exactly those sales (they are the only ones in March) under a
    25/10/5% candidate. Cross-checked against the model under both plans."""
    assert pa is not None
    n = len(buyers)
    at = datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.timezone.utc)
    table = pa.table({
        "sale": pa.array([f"c{i}" for i in range(n)]),
        "buyer": pa.array(buyers),
        "amount": pa.array(amounts, pa.decimal128(12, 2)),
        "currency": pa.array(["USD"] * n).dictionary_encode(),
        "at": pa.array([at] * n, pa.timestamp("ms", tz="UTC")),
    })
    input_bytes = table.nbytes
    problems = []
    result_bytes = 0
    refused = 0
    apply_secs = 0.0
    # Per call: the heap in use before it and after it, with its result
    # held and then dropped (the engine only grows, so "after, result
    # dropped" minus "before" is what the engine kept). No sampler runs
    # during the timed calls: `mallinfo2` walks malloc's free lists under
    # the arena lock, which slowed them tenfold; a call's peak is measured
    # by `profile_columns.py --memory`, which times nothing.
    read = heap_in_use or rss_bytes
    engine_kept = 0
    held_by_result = 0
    rss_before = rss_bytes()
    for start in range(0, n, 100_000):
        part = table.slice(start, 100_000)
        gc.collect()
        before = read()
        t0 = time.perf_counter()
        out = engine.apply_sales(part)
        apply_secs += time.perf_counter() - t0
        with_result = read()
        got = pa.table(out)
        result_bytes += got.nbytes
        refused += got.column("error_code").null_count != got.num_rows
        del got, out
        gc.collect()
        after = read()
        engine_kept += after - before
        held_by_result = max(held_by_result, with_result - after)
    if refused:
        problems.append(f"apply_sales: {refused} calls had refused rows")
    rss_growth = rss_bytes() - rss_before

    candidate = {"id": "candidate", "version": 1, "levels": [{"rate": r} for r in CANDIDATE_RATES]}
    t0 = time.perf_counter()
    by_earner, summary = engine.what_if(candidate, "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")
    what_if_secs = time.perf_counter() - t0
    by_earner = pa.table(by_earner)
    in_force = sum(by_earner.column("in_force").to_pylist(), Decimal("0.00"))
    proposed = sum(by_earner.column("candidate").to_pylist(), Decimal("0.00"))
    in_force_model = Model(sponsors)
    in_force_model.run(buyers, amounts)
    candidate_model = Model(sponsors, rates=[Decimal(r) for r in CANDIDATE_RATES])
    candidate_model.run(buyers, amounts)
    if summary["sales"] != n:
        problems.append(f"what_if replayed {summary['sales']} sales, expected {n}")
    if in_force != in_force_model.paid:
        problems.append(f"what_if in force {in_force}, model {in_force_model.paid}")
    if proposed != candidate_model.paid:
        problems.append(f"what_if candidate {proposed}, model {candidate_model.paid}")

    # (h) what_if over the same sales given as the table (both sides
    # calculated), and (i) with no engine: the network as a members table
    # (built outside the timer), joined into a throwaway engine first.
    def totals(report: object, label: str) -> None:
        rows = pa.table(report)
        got_in_force = sum(rows.column("in_force").to_pylist(), Decimal("0.00"))
        got_candidate = sum(rows.column("candidate").to_pylist(), Decimal("0.00"))
        if (got_in_force, got_candidate) != (in_force_model.paid, candidate_model.paid):
            problems.append(f"{label}: in force {got_in_force}, candidate {got_candidate}; model "
                            f"{in_force_model.paid}, {candidate_model.paid}")

    t0 = time.perf_counter()
    over_table, summary = engine.what_if(candidate, sales=table)
    what_if_table_secs = time.perf_counter() - t0
    if summary["sales"] != n:
        problems.append(f"what_if(sales=table) replayed {summary['sales']} sales, expected {n}")
    totals(over_table, "what_if(sales=table)")
    ids = [f"m{i}" for i in range(len(sponsors) + 1)]
    members = pa.table({
        "member": pa.array(ids),
        "sponsor": pa.array([None] + [sponsors[m] for m in ids[1:]]),
        "at": pa.array([datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)] * len(ids),
                       pa.timestamp("ms", tz="UTC")),
    })
    t0 = time.perf_counter()
    no_engine, summary = upline.what_if(candidate, members=members, sales=table)
    what_if_members_secs = time.perf_counter() - t0
    if summary["sales"] != n:
        problems.append(f"upline.what_if replayed {summary['sales']} sales, expected {n}")
    totals(no_engine, "upline.what_if")
    return {
        "apply_secs": apply_secs,
        "what_if_secs": what_if_secs,
        "what_if_table_secs": what_if_table_secs,
        "what_if_members_secs": what_if_members_secs,
        "members": len(ids),
        "input_bytes": input_bytes,
        "result_bytes": result_bytes,
        "engine_kept": engine_kept,
        "held_by_result": held_by_result,
        "rss_growth": rss_growth,
        "heap_measured": heap_in_use is not None,
        "problems": problems,
    }


def fmt(x: float) -> str:
    return f"{round(x):,}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="10k members, 10k sales (CI smoke)")
    p.add_argument("--members", type=int)
    p.add_argument("--sales", type=int)
    p.add_argument("--apply-sales", type=int)
    p.add_argument("--batch", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--sample", type=int, default=1_000)
    a = p.parse_args()
    members = a.members if a.members is not None else (10_000 if a.quick else 1_000_000)
    sales = a.sales if a.sales is not None else (10_000 if a.quick else 1_000_000)
    apply_sales = a.apply_sales if a.apply_sales is not None else min(sales, 100_000)
    apply_sales = min(apply_sales, sales)
    batch = a.batch
    if members < 1 or sales < 1 or apply_sales < 1 or not 1 <= batch <= 100_000:
        p.error("need members >= 1, sales >= 1, apply-sales >= 1, 1 <= batch <= 100000")

    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)")
    print(f"Python {platform.python_version()} ({platform.python_implementation()}), upline {upline.__version__}")

    # ---- data ----
    t0 = time.perf_counter()
    rng = random.Random(a.seed)
    randrange, rand = rng.randrange, rng.random
    ids = [f"m{i}" for i in range(members)]
    sponsor_idx = [-1] * members
    for i in range(1, members):
        sponsor_idx[i] = i - 1 - randrange(min(50, i)) if rand() < 0.7 else randrange(i)
    sponsors = {ids[i]: ids[s] for i, s in enumerate(sponsor_idx) if s >= 0}
    buyers = [ids[randrange(members)] for _ in range(sales)]
    amounts = []
    for _ in range(sales):
        c = randrange(100, 100_000)  # 1.00 .. 999.99
        amounts.append(Decimal(f"{c // 100}.{c % 100:02d}"))
    gen_secs = time.perf_counter() - t0

    def sale_events(prefix: str, start: int, stop: int, text_amounts: bool = False) -> list[dict]:
        return [
            {"type": "sale_recorded", "sale": f"{prefix}{i}", "buyer": buyers[i],
             "amount": str(amounts[i]) if text_amounts else amounts[i], "currency": "USD", "at": SALE_AT}
            for i in range(start, stop)
        ]

    # ---- (a) plain-Python model ----
    model = Model(sponsors)
    t0 = time.perf_counter()
    model.run(buyers, amounts)
    model_secs = time.perf_counter() - t0

    # ---- the engine: load the network ----
    engine = upline.Engine()
    t0 = time.perf_counter()
    for start in range(0, members, batch):
        events = [
            {"type": "member_joined", "member": ids[i],
             "sponsor": None if sponsor_idx[i] < 0 else ids[sponsor_idx[i]], "at": JOIN_AT}
            for i in range(start, min(members, start + batch))
        ]
        for r in engine.apply_batch(events):
            if "error" in r:
                raise SystemExit(f"join refused: {r['error']}")
    join_secs = time.perf_counter() - t0

    # ---- (c) engine.apply_batch, batches of `batch` ----
    batch_secs = 0.0
    batch_paid = Decimal("0.00")
    for start in range(0, sales, batch):
        events = sale_events("s", start, min(sales, start + batch))
        t0 = time.perf_counter()
        results = engine.apply_batch(events)
        batch_secs += time.perf_counter() - t0
        for r in results:
            if "error" in r:
                raise SystemExit(f"sale refused: {r['error']}")
            d = r["distribution"]
            batch_paid += d["amount"] - d["retained"]
        del results, events

    # ---- (d) engine.apply_batch(records=False): the same sales again (new
    # ids), returning only each event's place in the audit chain ----
    lean_secs = 0.0
    for start in range(0, sales, batch):
        events = sale_events("l", start, min(sales, start + batch))
        t0 = time.perf_counter()
        results = engine.apply_batch(events, records=False)
        lean_secs += time.perf_counter() - t0
        for r in results:
            if "error" in r:
                raise SystemExit(f"sale refused: {r['error']}")
        del results, events

    # ---- (e) engine.apply_batch_json(records=False): the same sales again
    # (new ids), as one JSON string in and one out; json.dumps and
    # json.loads are inside the timer ----
    json_secs = 0.0
    json_last_seq = 0
    dumps, loads = json.dumps, json.loads
    for start in range(0, sales, batch):
        events = sale_events("j", start, min(sales, start + batch), text_amounts=True)
        t0 = time.perf_counter()
        results = loads(engine.apply_batch_json(dumps(events), records=False))
        json_secs += time.perf_counter() - t0
        if len(results) != len(events):
            raise SystemExit(f"apply_batch_json: {len(results)} slots for {len(events)} events")
        for r in results:
            if "error" in r:
                raise SystemExit(f"sale refused: {r['error']}")
        json_last_seq = results[-1]["seq"]
        del results, events

    # ---- (b) engine.apply, one sale per call (on a prefix of the same sales) ----
    events = sale_events("a", 0, apply_sales)
    apply = engine.apply
    clock = time.perf_counter
    apply_secs = 0.0
    apply_paid = Decimal("0.00")
    for ev in events:
        t0 = clock()
        r = apply(ev)
        apply_secs += clock() - t0
        d = r["distribution"]
        apply_paid += d["amount"] - d["retained"]
    del events

    # ---- (f) engine.apply_sales: the same sales again (new ids, in March) as
    # one Arrow table, applied 100,000 rows a call (the batch limit); and
    # (g) engine.what_if over those 1M sales under a candidate plan ----
    columnar = run_columnar(engine, buyers, amounts, sponsors, a.seed) if pa is not None else None

    # ---- cross-check ----
    prefix_model = Model(sponsors)
    prefix_model.run(buyers[:apply_sales], amounts[:apply_sales])
    problems = []
    if json_last_seq != members + 3 * sales:
        problems.append(f"apply_batch_json: last seq {json_last_seq}, expected {members + 3 * sales}")
    if batch_paid != model.paid:
        problems.append(f"total paid over {sales:,} sales: engine apply_batch {batch_paid}, model {model.paid}")
    if apply_paid != prefix_model.paid:
        problems.append(f"total paid over the {apply_sales:,}-sale prefix: engine apply {apply_paid}, model {prefix_model.paid}")
    earners = sorted(set(model.earned) | set(prefix_model.earned), key=lambda m: int(m[1:]))
    sample = random.Random(a.seed + 1).sample(earners, min(a.sample, len(earners)))
    zero = Decimal("0.00")
    for m in sample:
        b = engine.balances(m, "USD", BALANCE_AS_OF)
        got = b["pending"] + b["available"] + b["held"] + b["reserved"] + b["paid"]
        # The full sales were applied three times (apply_batch with records
        # on, then off, then apply_batch_json), each with new sale ids.
        # The Arrow pass applied them a fourth time.
        passes = 4 if columnar is not None else 3
        want = passes * model.earned.get(m, zero) + prefix_model.earned.get(m, zero)
        if got != want:
            problems.append(f"earner {m}: engine {got}, model {want}")
            if len(problems) > 10:
                break

    # ---- report ----
    model_rate = sales / model_secs
    apply_rate = apply_sales / apply_secs
    batch_rate = sales / batch_secs
    lean_rate = sales / lean_secs
    json_rate = sales / json_secs
    print(f"network: {members:,} members, seed {a.seed}; data generated in {gen_secs:.2f} s; "
          f"joined via apply_batch in {join_secs:.2f} s ({fmt(members / join_secs)} members/s)")
    if apply_sales < sales:
        print(f"note: engine.apply (one call per sale) is measured on a prefix: the first "
              f"{apply_sales:,} of the {sales:,} sales (new sale ids), run after the apply_batch pass")
    rows = [
        ("pure-Python model (Decimal, calc only)", sales, model_secs, model_rate),
        ("engine.apply, one sale per call", apply_sales, apply_secs, apply_rate),
        (f"engine.apply_batch, batches of {batch:,}", sales, batch_secs, batch_rate),
        (f"engine.apply_batch(records=False), {batch:,}", sales, lean_secs, lean_rate),
        (f"dumps+apply_batch_json(records=False)+loads, {batch:,}", sales, json_secs, json_rate),
    ]
    if columnar is not None:
        rows += [
            ("engine.apply_sales(Arrow table, lines=False), 100,000", sales, columnar["apply_secs"],
             sales / columnar["apply_secs"]),
            ("engine.what_if (calculation only)", sales, columnar["what_if_secs"],
             sales / columnar["what_if_secs"]),
            ("engine.what_if(sales=Arrow table), both sides calculated", sales,
             columnar["what_if_table_secs"], sales / columnar["what_if_table_secs"]),
            (f"upline.what_if(members=, sales=), {columnar['members']:,} members joined first", sales,
             columnar["what_if_members_secs"], sales / columnar["what_if_members_secs"]),
        ]
        problems += columnar["problems"]
    w = max(len(r[0]) for r in rows)
    print()
    print(f"{'path':<{w}}  {'sales':>11}  {'seconds':>8}  {'sales/s':>11}  {'vs model':>8}")
    print(f"{'-' * w}  {'-' * 11}  {'-' * 8}  {'-' * 11}  {'-' * 8}")
    for name, n, secs, rate in rows:
        print(f"{name:<{w}}  {n:>11,}  {secs:>8.2f}  {fmt(rate):>11}  {rate / model_rate:>7.2f}x")
    print()
    print(f"ratios: apply / model = {apply_rate / model_rate:.2f}x, "
          f"apply_batch / model = {batch_rate / model_rate:.2f}x, "
          f"apply_batch(records=False) / model = {lean_rate / model_rate:.2f}x, "
          f"apply_batch_json(records=False) / model = {json_rate / model_rate:.2f}x")
    print("(the model only calculates; the engine also writes ledger entries, checks "
          "idempotency, extends the audit hash chain and builds full result dicts)")
    if columnar is None:
        print("note: pyarrow is not installed: the Arrow rows (apply_sales, what_if) were skipped")
    else:
        mib = 1 << 20
        print(f"goals: apply_sales / model = {sales / columnar['apply_secs'] / model_rate:.2f}x (goal 5x), "
              f"what_if / model = {sales / columnar['what_if_secs'] / model_rate:.2f}x (goal 20x)")
        what = "malloc heap in use (glibc mallinfo2)" if columnar["heap_measured"] else "RSS (not glibc)"
        print(f"memory of apply_sales over {sales:,} rows, by {what}: Arrow input "
              f"{columnar['input_bytes'] / mib:.1f} MiB; the engine kept {columnar['engine_kept'] / mib:.1f} MiB; "
              f"a call's result held {columnar['held_by_result'] / mib:.1f} MiB of heap, the results of all calls "
              f"{columnar['result_bytes'] / mib:.1f} MiB (Arrow nbytes); RSS grew {columnar['rss_growth'] / mib:.1f} MiB; "
              f"a call's peak beyond the engine: benches/python/profile_columns.py --memory")
    print()
    if problems:
        print("CHECK FAILED:")
        for line in problems:
            print(f"  {line}")
        return 1
    print(f"check: total commission paid over {sales:,} sales equal to the cent: "
          f"model {model.paid} USD, engine apply_batch {batch_paid} USD (retained {model.retained} USD)")
    print(f"check: apply prefix ({apply_sales:,} sales) equal: model {prefix_model.paid} USD, engine apply {apply_paid} USD")
    print(f"check: {len(sample):,} sampled earners' engine balances equal the model's per-earner totals "
          f"(x3 for the full sales)")
    print(f"check: apply_batch_json: every slot applied, last seq {json_last_seq:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
