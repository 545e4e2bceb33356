"""Shared helpers for the upline test suite."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import upline

HERE = Path(__file__).resolve().parent
VECTORS = HERE.parent.parent.parent / "shared" / "vectors"
# The project's own vectors in the shared format (screening, rewards).
PROJECT_VECTORS = HERE.parent.parent / "core" / "tests" / "vectors"
UTC = dt.timezone.utc


def vector_files() -> list[Path]:
    files = sorted(VECTORS.glob("*.json"))
    assert files, f"no vectors found in {VECTORS}"
    return files + sorted(PROJECT_VECTORS.glob("*.json"))


def load_cases() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in vector_files():
        for case in json.loads(path.read_text())["cases"]:
            out.append((f"{path.stem}::{case['name']}", case))
    return out


def class_for(code: str) -> type[upline.UplineError]:
    cls = getattr(upline, "".join(p.capitalize() for p in code.split("_")))
    assert issubclass(cls, upline.UplineError)
    return cls  # type: ignore[no-any-return]


def matches(expected: Any, actual: Any, path: str = "result") -> None:
    """Every field `expected` lists must match; lists in order and in full.
    Amounts (Decimal) compare as positional text, times via the vector's text."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}: missing {key!r} in {actual!r}"
            matches(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected a list, got {actual!r}"
        assert len(actual) == len(expected), f"{path}: {len(actual)} items, expected {len(expected)}: {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            matches(e, a, f"{path}[{i}]")
    elif isinstance(actual, Decimal):
        # Positional text: Python writes Decimal("0.000000000000000000") as
        # "0E-18"; the digits and the exponent (the scale) must both match.
        assert isinstance(expected, str), f"{path}: {actual!r} vs {expected!r}"
        assert format(actual, "f") == expected, f"{path}: {format(actual, 'f')!r} != {expected!r}"
    elif isinstance(actual, dt.datetime):
        assert isinstance(expected, str), f"{path}: {actual!r} vs {expected!r}"
        want = dt.datetime.fromisoformat(expected.replace("Z", "+00:00"))
        assert actual == want and actual.tzinfo is not None, f"{path}: {actual!r} != {expected!r}"
    else:
        assert type(actual) is type(expected) and actual == expected, f"{path}: {actual!r} != {expected!r}"
