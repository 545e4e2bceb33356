"""A plain-Python reference model of Upline's default commission calculation.

The "lean loop" a Python user would write instead of using the engine: a dict
of sponsors, ``decimal.Decimal`` money rounded with
``quantize(Decimal('0.01'), ROUND_HALF_EVEN)``, and per-earner totals. For the
default plan (7 levels paying 20/15/10/8/5/3/2%, no qualification, no
compression, no caps, half-even rounding to the cent) it follows DESIGN.md's
calculation:

    line_k = min(round(A * rate_k), A - sum of earlier lines)

walking u1 = sponsor(buyer), u2 = sponsor(u1), ...; a level with no ancestor
pays nothing, zero lines are left out, and ``retained = A - sum(lines)``.

It does only the calculation: no ledger, no idempotency, no audit hash, no
validation of ids or amounts (amounts must already be ``Decimal`` with at most
two decimals). No float touches money.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Optional

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# The default plan: 20%, 15%, 10%, 8%, 5%, 3%, 2%.
DEFAULT_RATES: tuple[Decimal, ...] = tuple(
    Decimal(r) for r in ("0.20", "0.15", "0.10", "0.08", "0.05", "0.03", "0.02")
)


class Model:
    """Per-earner commission totals over a stream of sales.

    ``sponsors`` maps each member id to its sponsor's id; a root is absent
    from the mapping (or maps to ``None``).
    """

    def __init__(
        self,
        sponsors: Mapping[Hashable, Optional[Hashable]],
        rates: Iterable[Decimal] = DEFAULT_RATES,
    ) -> None:
        self.sponsors = sponsors
        self.rates = tuple(rates)
        self.earned: dict[Hashable, Decimal] = {}
        self.paid = ZERO  # sum of all lines
        self.retained = ZERO  # sum of all retained amounts

    def sale(self, buyer: Hashable, amount: Decimal) -> Decimal:
        """Apply one sale; return the amount retained by the platform."""
        sponsors = self.sponsors
        earned = self.earned
        left = amount
        member = sponsors.get(buyer)
        for rate in self.rates:
            if member is None:
                break
            line = (amount * rate).quantize(CENT, ROUND_HALF_EVEN)
            if line > left:
                line = left
            if line:
                left -= line
                earned[member] = earned.get(member, ZERO) + line
            member = sponsors.get(member)
        self.paid += amount - left
        self.retained += left
        return left

    def lines(self, buyer: Hashable, amount: Decimal) -> list[tuple[Hashable, int, Decimal]]:
        """The lines ``(earner, level, amount)`` one sale would pay (changes nothing)."""
        out = []
        left = amount
        member = self.sponsors.get(buyer)
        for level, rate in enumerate(self.rates, start=1):
            if member is None:
                break
            line = min((amount * rate).quantize(CENT, ROUND_HALF_EVEN), left)
            if line:
                left -= line
                out.append((member, level, line))
            member = self.sponsors.get(member)
        return out

    def run(self, buyers: Iterable[Hashable], amounts: Iterable[Decimal]) -> None:
        """Apply many sales: the lean loop, inlined (this is what is timed)."""
        sponsors = self.sponsors
        earned = self.earned
        get = earned.get
        sponsor_of = sponsors.get
        rates = self.rates
        quantize_to, half_even = CENT, ROUND_HALF_EVEN
        paid = self.paid
        retained = self.retained
        for buyer, amount in zip(buyers, amounts):
            left = amount
            member = sponsor_of(buyer)
            for rate in rates:
                if member is None:
                    break
                line = (amount * rate).quantize(quantize_to, half_even)
                if line > left:
                    line = left
                if line:
                    left -= line
                    earned[member] = get(member, ZERO) + line
                member = sponsor_of(member)
            paid += amount - left
            retained += left
        self.paid = paid
        self.retained = retained


def _self_test() -> None:
    # DESIGN.md's worked example: a chain of eight members, the buyer at the bottom.
    sponsors = {f"u{i}": f"u{i + 1}" for i in range(7)}
    m = Model(sponsors)
    got = [a for _, _, a in m.lines("u0", Decimal("100.00"))]
    assert got == [Decimal(x) for x in ("20.00", "15.00", "10.00", "8.00", "5.00", "3.00", "2.00")], got
    got = [(lvl, a) for _, lvl, a in m.lines("u0", Decimal("0.25"))]
    assert got == [(1, Decimal("0.05")), (2, Decimal("0.04")), (3, Decimal("0.02")),
                   (4, Decimal("0.02")), (5, Decimal("0.01")), (6, Decimal("0.01"))], got
    assert m.sale("u0", Decimal("0.25")) == Decimal("0.10")
    m.run(["u0"], [Decimal("100.00")])
    assert m.retained == Decimal("37.10") and m.paid == Decimal("63.15")
    assert m.earned["u1"] == Decimal("20.05")


if __name__ == "__main__":
    _self_test()
    print("model self-test passed")
