"""Every case of every shared vector file, through `apply` and `apply_batch`."""

from __future__ import annotations

from typing import Any

import pytest

import upline
from helpers import class_for, load_cases, matches, vector_files

CASES = load_cases()
IDS = [name for name, _ in CASES]


def run_apply(case: dict[str, Any]) -> upline.Engine:
    engine = upline.Engine()
    for i, step in enumerate(case["steps"]):
        where = f"step {i}"
        if "balances" in step:
            q = step["balances"]
            got = engine.balances(q["member"], q["currency"], q["as_of"])
            matches(step["expect"], got, f"{where} balances")
        elif "error" in step:
            before = engine.snapshot()
            head = engine.audit_head()
            with pytest.raises(upline.UplineError) as info:
                engine.apply(step["apply"])
            err = info.value
            assert err.code == step["error"], f"{where}: {err.code} ({err}) != {step['error']}"
            assert isinstance(err, class_for(step["error"]))
            assert engine.snapshot() == before, f"{where}: a refused event changed the engine"
            assert engine.audit_head() == head
        else:
            got = engine.apply(step["apply"])
            matches(step["expect"], got, where)
    return engine


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=IDS)
def test_vector_apply(case: dict[str, Any]) -> None:
    run_apply(case)


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=IDS)
def test_vector_batch(case: dict[str, Any]) -> None:
    """Consecutive apply steps go in one apply_batch call; balances steps
    are queried between batches. The final audit head must equal the
    one-at-a-time run's (same events, same state, same hash chain)."""
    engine = upline.Engine()
    pending: list[tuple[int, dict[str, Any]]] = []

    def flush() -> None:
        if not pending:
            return
        results = engine.apply_batch([step["apply"] for _, step in pending])
        assert len(results) == len(pending)
        for (i, step), got in zip(pending, results):
            if "error" in step:
                assert set(got) == {"error"}, f"step {i}: expected an error slot, got {got!r}"
                assert got["error"]["code"] == step["error"], f"step {i}: {got!r}"
                assert set(got["error"]) == {"code", "message", "field"}
            else:
                assert "error" not in got, f"step {i}: {got!r}"
                matches(step["expect"], got, f"step {i}")
        pending.clear()

    for i, step in enumerate(case["steps"]):
        if "balances" in step:
            flush()
            q = step["balances"]
            matches(step["expect"], engine.balances(q["member"], q["currency"], q["as_of"]), f"step {i}")
        else:
            pending.append((i, step))
    flush()
    assert engine.audit_head() == run_apply(case).audit_head()


def test_vectors_cover_every_file() -> None:
    # Every file in ../shared/vectors (and the project's own) is run, found
    # by listing the folder: a new vector file needs no change here.
    stems = {path.stem for path in vector_files()}
    assert {name.split("::")[0] for name in IDS} == stems
    assert stems >= {"calc", "plans", "refunds", "ledger", "errors", "limits_and_time"}
