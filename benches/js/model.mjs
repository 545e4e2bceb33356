// A plain-JS reference model of Upline's default calculation: 7 levels paying
// 20/15/10/8/5/3/2% up the sponsor line, each line rounded half-even to the
// cent, capped by what is left of the sale, the rest retained. Money is
// BigInt cents end to end (amounts come in as decimal strings); no float
// touches money. It does only the calculation: per-earner totals, no
// ledger, no idempotency, no audit hash.

export const DEFAULT_RATES = [20n, 15n, 10n, 8n, 5n, 3n, 2n] // percent

// "123.45" -> 12345n (exactly two decimals or fewer; anything else throws).
export function parseCents(text) {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(text)
  if (!m) throw new Error(`not an amount in cents: ${text}`)
  return BigInt(m[1]) * 100n + BigInt((m[2] || '').padEnd(2, '0'))
}

export function formatCents(c) {
  const neg = c < 0n
  const a = neg ? -c : c
  return `${neg ? '-' : ''}${a / 100n}.${(a % 100n).toString().padStart(2, '0')}`
}

// round(n / d) half-even, for n >= 0, d > 0.
export function divHalfEven(n, d) {
  const q = n / d
  const r = n - q * d
  const twice = r * 2n
  if (twice > d || (twice === d && (q & 1n) === 1n)) return q + 1n
  return q
}

export class Model {
  // `sponsors`: Int32Array, sponsor index per member (-1 for a root).
  constructor(sponsors, rates = DEFAULT_RATES) {
    this.sponsors = sponsors
    this.rates = rates
    this.earned = new Array(sponsors.length).fill(0n)
    this.retained = 0n
  }

  // One sale: returns [{ earner, level, amount }] (cents) and retained.
  sale(buyer, amountText, withLines = false) {
    const amount = parseCents(amountText)
    let left = amount
    let member = this.sponsors[buyer]
    const lines = withLines ? [] : null
    for (let k = 0; k < this.rates.length && member >= 0; k++) {
      let line = divHalfEven(amount * this.rates[k], 100n)
      if (line > left) line = left
      if (line > 0n) {
        left -= line
        this.earned[member] += line
        if (lines) lines.push({ earner: member, level: k + 1, amount: line })
      }
      member = this.sponsors[member]
    }
    this.retained += left
    return withLines ? { lines, retained: left } : left
  }
}
