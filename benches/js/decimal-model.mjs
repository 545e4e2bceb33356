// The same reference calculation as model.mjs, written the way a team that
// reaches for a decimal library would write it: decimal.js values for
// amounts, rates and totals (no float touches money), each line rounded
// half-even to the cent with `toDecimalPlaces`, capped by what is left of
// the sale, the rest retained. It only calculates (per-earner totals): no
// ledger, no idempotency, no audit hash. decimal.js is a devDependency of
// benches/js (`npm ci --prefix benches/js`), not of upline.
import Decimal from 'decimal.js'

export const DEFAULT_RATES = ['0.20', '0.15', '0.10', '0.08', '0.05', '0.03', '0.02']

const ZERO = new Decimal(0)

export class DecimalModel {
  // `sponsors`: Int32Array, sponsor index per member (-1 for a root).
  constructor(sponsors, rates = DEFAULT_RATES) {
    this.sponsors = sponsors
    this.rates = rates.map((r) => new Decimal(r))
    this.earned = new Array(sponsors.length).fill(ZERO)
    this.retained = ZERO
  }

  // One sale (amount as a decimal string); returns what it retained.
  sale(buyer, amountText) {
    const amount = new Decimal(amountText)
    let left = amount
    let member = this.sponsors[buyer]
    for (let k = 0; k < this.rates.length && member >= 0; k++) {
      let line = amount.times(this.rates[k]).toDecimalPlaces(2, Decimal.ROUND_HALF_EVEN)
      if (line.gt(left)) line = left
      if (line.gt(ZERO)) {
        left = left.minus(line)
        this.earned[member] = this.earned[member].plus(line)
      }
      member = this.sponsors[member]
    }
    this.retained = this.retained.plus(left)
    return left
  }
}
