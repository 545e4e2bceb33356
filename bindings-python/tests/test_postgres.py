"""PostgreSQL-backed engines shared by processes: refresh, the same webhook
at two workers, followers, and connection errors without secrets.

Needs ``UPLINE_PG_URL`` (``.ci/run`` starts a server and sets it); without
it the tests skip, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from decimal import Decimal
from typing import Any

import pytest

import upline

JAN = "2026-01-01T00:00:00Z"


@pytest.fixture
def pg_url() -> str:
    url = os.environ.get("UPLINE_PG_URL", "")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("UPLINE_PG_URL is unset under CI=true: .ci/run starts PostgreSQL and sets it")
        pytest.skip("UPLINE_PG_URL is unset (bash .ci/postgres.sh start prints it)")
    return url


def programme() -> str:
    # A fresh programme per test: one database holds many.
    return f"py-{uuid.uuid4().hex[:12]}"


def sale(sale_id: str, buyer: str, amount: str) -> dict[str, Any]:
    return {"type": "sale_recorded", "sale": sale_id, "buyer": buyer,
            "amount": Decimal(amount), "currency": "USD", "at": JAN}


def in_other_process(url: str, prog: str, script: str) -> Any:
    """Runs `script` in a fresh Python process with `engine` opened on the
    programme; returns what it prints as JSON."""
    code = (
        "import json, sys\n"
        "from decimal import Decimal\n"
        "import upline\n"
        f"engine = upline.Engine(url={url!r}, programme={prog!r})\n"
        + script
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_two_processes_see_each_other_after_refresh(pg_url: str) -> None:
    prog = programme()
    engine = upline.Engine(url=pg_url, programme=prog)
    engine.apply({"type": "member_joined", "member": "ann", "sponsor": None, "at": JAN})
    engine.apply({"type": "member_joined", "member": "bob", "sponsor": "ann", "at": JAN})
    # The other process joins cat under bob and records a sale by cat.
    other = in_other_process(pg_url, prog, (
        "engine.apply({'type': 'member_joined', 'member': 'cat', 'sponsor': 'bob', "
        "'at': '2026-01-01T00:00:00Z'})\n"
        "r = engine.apply({'type': 'sale_recorded', 'sale': 's1', 'buyer': 'cat', "
        "'amount': Decimal('100.00'), 'currency': 'USD', 'at': '2026-01-01T00:00:00Z'})\n"
        "print(json.dumps({'seq': r['seq'], 'head': engine.audit_head()['seq']}))\n"
    ))
    assert other == {"seq": 4, "head": 4}
    assert engine.audit_head()["seq"] == 2
    head = engine.refresh()
    assert head["seq"] == 4
    assert head == engine.audit_head()
    assert engine.upline("cat", 2) == ["bob", "ann"]
    lines = engine.distribution_of("s1")["lines"]
    assert [(line["earner"], line["amount"]) for line in lines] == [
        ("bob", Decimal("20.00")), ("ann", Decimal("15.00"))]


def test_a_webhook_retried_at_both_workers_records_one_sale(pg_url: str) -> None:
    prog = programme()
    engine = upline.Engine(url=pg_url, programme=prog)
    engine.apply({"type": "member_joined", "member": "ann", "sponsor": None, "at": JAN})
    engine.apply({"type": "member_joined", "member": "bob", "sponsor": "ann", "at": JAN})
    first = engine.apply(sale("w1", "bob", "80.00"))
    # The same webhook reaches another worker, which has not refreshed.
    other = in_other_process(pg_url, prog, (
        "r = engine.apply({'type': 'sale_recorded', 'sale': 'w1', 'buyer': 'bob', "
        "'amount': Decimal('80.00'), 'currency': 'USD', 'at': '2026-01-01T00:00:00Z'})\n"
        "print(json.dumps({'seq': r['seq'], 'hash': r['hash'], 'replayed': r.get('replayed', False)}))\n"
    ))
    assert other == {"seq": first["seq"], "hash": first["hash"], "replayed": True}
    assert engine.refresh()["seq"] == 3
    follower = upline.Engine.follower(url=pg_url, programme=prog)
    assert follower.audit_head()["seq"] == 3
    assert follower.verify()["seq"] == 3
    with pytest.raises(upline.ReadOnly) as err:
        follower.apply(sale("w2", "bob", "1.00"))
    assert err.value.code == "read_only"


def test_connection_errors_name_the_host_and_never_the_password(pg_url: str) -> None:
    secret = "s3cr3t-Pw"
    with pytest.raises(upline.Storage) as err:
        upline.Engine(url=f"postgresql://app:{secret}@127.0.0.1:1/books", programme="acme")
    assert "127.0.0.1:1/books as app" in str(err.value)
    assert secret not in str(err.value)
    port = pg_url.rsplit(":", 1)[1].split("/")[0]
    with pytest.raises(upline.Storage) as err:
        upline.Engine(url=f"postgresql://nobody:{secret}@127.0.0.1:{port}/postgres", programme="acme")
    assert "nobody" in str(err.value) and secret not in str(err.value)
    with pytest.raises(upline.Storage) as err:
        upline.Engine(url=f"postgresql://app:{secret}@127.0.0.1:notaport/books", programme="acme")
    assert secret not in str(err.value)
    with pytest.raises(upline.InvalidId):
        upline.Engine(url=pg_url)
    with pytest.raises(upline.Malformed):
        upline.Engine("books.sqlite", url=pg_url, programme="acme")


def test_a_follower_of_an_unknown_programme_fails_and_registers_nothing(pg_url: str) -> None:
    # As a SQLite follower of a missing file: a typo is an error, not an
    # empty programme (which it registered, so the next open succeeded).
    prog = programme()
    for _ in range(2):
        with pytest.raises(upline.Storage) as err:
            upline.Engine.follower(url=pg_url, programme=prog)
        assert err.value.code == "storage"
        assert f'holds no programme "{prog}"' in str(err.value)
    # Once a writer opened it (nothing stored yet), a follower waits on it.
    writer = upline.Engine(url=pg_url, programme=prog)
    follower = upline.Engine.follower(url=pg_url, programme=prog)
    assert follower.audit_head()["seq"] == 0
    writer.apply({"type": "member_joined", "member": "ann", "sponsor": None, "at": JAN})
    assert follower.refresh() == writer.audit_head()


def read_only(url: str) -> str:
    """`url` with sessions that take no writes, as on a read-only database
    or a standby (`default_transaction_read_only`, set through `options`)."""
    return url + ("&" if "?" in url else "?") + "options=-cdefault_transaction_read_only%3Don"


def test_on_a_read_only_server_followers_read_and_writers_fail_with_storage(pg_url: str) -> None:
    prog = programme()
    writer = upline.Engine(url=pg_url, programme=prog)
    writer.apply({"type": "member_joined", "member": "ann", "sponsor": None, "at": JAN})
    writer.apply({"type": "member_joined", "member": "bob", "sponsor": "ann", "at": JAN})
    ro = read_only(pg_url)
    follower = upline.Engine.follower(url=ro, programme=prog)
    assert follower.audit_head() == writer.audit_head()
    writer.apply(sale("s1", "bob", "100.00"))
    assert follower.refresh() == writer.audit_head()
    assert follower.balances("ann", "USD", JAN)["pending"] == Decimal("20.00")
    # A writer opens (followers and writers share the open), and its first
    # write is refused with `storage`, naming why; nothing is stored.
    stray = upline.Engine(url=ro, programme=prog)
    with pytest.raises(upline.Storage) as err:
        stray.apply(sale("s2", "bob", "5.00"))
    assert err.value.code == "storage"
    assert "takes no writes" in str(err.value) and "25006" in str(err.value)
    assert upline.Engine(url=pg_url, programme=prog).audit_head()["seq"] == 3
    # A programme it holds nothing of cannot be registered there.
    with pytest.raises(upline.Storage) as err:
        upline.Engine.follower(url=ro, programme=programme())
    assert "takes no writes" in str(err.value) and "holds no programme" in str(err.value)


def test_group_commit_is_a_mode_for_postgresql_writers(pg_url: str) -> None:
    # Refused before any connection: a bad mode, or a mode without a url.
    with pytest.raises(upline.Malformed) as err:
        upline.Engine(url="postgresql://app:pw@127.0.0.1:1/books", programme="acme",
                      group_commit="sometimes")
    assert err.value.code == "malformed" and "group_commit" in str(err.value)
    assert "pw" not in str(err.value)
    with pytest.raises(upline.Malformed) as err:
        upline.Engine(group_commit="always")
    assert "needs a url" in str(err.value)
    # A writer that always hands off applies like any other when alone.
    prog = programme()
    engine = upline.Engine(url=pg_url, programme=prog, group_commit="always")
    engine.apply({"type": "member_joined", "member": "ann", "sponsor": None, "at": JAN})
    engine.apply({"type": "member_joined", "member": "bob", "sponsor": "ann", "at": JAN})
    applied = engine.apply(sale("g1", "bob", "100.00"))
    assert applied["seq"] == 3
    assert [line["amount"] for line in applied["distribution"]["lines"]] == [Decimal("20.00")]
    assert upline.Engine(url=pg_url, programme=prog, group_commit="never").verify()["seq"] == 3


def test_large_arrow_tables_stream_into_postgresql_and_answer_as_in_memory(pg_url: str) -> None:
    # 1,500 joins and 3,000 sales as Arrow tables: each call large enough to
    # stream into a `COPY` while it stages; the sales mix new rows, retries
    # of rows stored by an earlier call (their hashes only in the store)
    # and unknown buyers. The answers equal an engine in memory's, and the
    # books reopen to its head.
    pa = pytest.importorskip("pyarrow")
    prog = programme()
    stored = upline.Engine(url=pg_url, programme=prog)
    memory = upline.Engine()
    members = [f"m{i}" for i in range(1_500)]
    joins = pa.table({
        "member": members,
        "sponsor": [None] + [f"m{(i - 1) // 2}" for i in range(1, 1_500)],
        "at": [JAN] * 1_500,
    })
    assert pa.table(stored.apply_joins(joins)).to_pylist() == pa.table(memory.apply_joins(joins)).to_pylist()
    first = pa.table({
        "sale": [f"s{i}" for i in range(600)],
        "buyer": [members[i % 1_500] for i in range(600)],
        "amount": [Decimal(f"{10 + i % 90}.{i % 100:02}") for i in range(600)],
        "currency": ["USD"] * 600,
        "at": [JAN] * 600,
    })
    assert pa.table(stored.apply_sales(first)).to_pylist() == pa.table(memory.apply_sales(first)).to_pylist()
    ids = [f"s{k // 5}" if k % 5 == 3 else f"n{k}" for k in range(3_000)]
    buyers = ["nobody" if k % 5 == 1 and k % 7 == 0 else members[(k // 5 if k % 5 == 3 else k) % 1_500] for k in range(3_000)]
    amounts = [Decimal(f"{10 + (k // 5) % 90}.{(k // 5) % 100:02}") if k % 5 == 3 else Decimal("12.34")
               for k in range(3_000)]
    sales = pa.table({
        "sale": ids,
        "buyer": buyers,
        "amount": amounts,
        "currency": ["USD"] * 3_000,
        "at": [JAN] * 3_000,
    })
    ours, our_lines = stored.apply_sales(sales, lines=True)
    theirs, their_lines = memory.apply_sales(sales, lines=True)
    ours_rows = pa.table(ours).to_pylist()
    assert ours_rows == pa.table(theirs).to_pylist()
    assert pa.table(our_lines).to_pylist() == pa.table(their_lines).to_pylist()
    assert sum(1 for row in ours_rows if row.get("replayed")) == 600
    assert stored.audit_head() == memory.audit_head()
    assert upline.Engine(url=pg_url, programme=prog).audit_head() == memory.audit_head()
