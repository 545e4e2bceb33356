// The demo books' generator, in JavaScript: the Rust demo's generator
// (`examples/src/demo.rs`, same SplitMix64 seed and draws, so the same
// members, sponsors, sales and refunds): 70% of sponsors among the 50 most recent
// members, 30% uniform among all earlier ones; a month of sales in February
// 2026 and refunds for about 5% of them. On top of the Rust demo it adds what
// the dashboard's other pages show: the first programme's milestones, a
// screening rule set that holds large commissions for review (some reviews
// resolved, the others waiting), members on hold, and a payout batch with
// settled, failed and still reserved payouts. It also owns the live
// generator that keeps applying joins, sales and refunds (`--live`).
//
// Money is built as decimal strings from integer cents; no float touches it.

/** SplitMix64 (the Rust demo's generator), on BigInt. */
export class Rng {
  constructor(seed) {
    this.state = BigInt.asUintN(64, BigInt(seed))
  }
  next() {
    const M = (1n << 64n) - 1n
    this.state = (this.state + 0x9e3779b97f4a7c15n) & M
    let z = this.state
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M
    return z ^ (z >> 31n)
  }
  /** A whole number in [0, n). */
  below(n) {
    return Number(this.next() % BigInt(Math.max(1, n)))
  }
}

const DAY_MS = 86_400_000
const EPOCH = Date.UTC(2026, 0, 1)

/** Day `day` (0 = 2026-01-01) at `millisOfDay`, as an RFC 3339 string. */
export function time(day, millisOfDay) {
  return new Date(EPOCH + day * DAY_MS + millisOfDay).toISOString()
}

/** Cents (a whole number) as a decimal string with two places. */
export function cents(n) {
  const s = String(n).padStart(3, '0')
  return `${s.slice(0, -2)}.${s.slice(-2)}`
}

export const memberId = (i) => `u${String(i).padStart(6, '0')}`
export const saleId = (s) => `s${String(s).padStart(7, '0')}`

/** The rules the demo books screen sales with. */
export const SCREENING_RULES = [
  {
    id: 'large-line-hold',
    when: { check: 'high_value', above: { USD: '185.00' } },
    action: 'hold',
    reason: 'a single commission above 185 USD waits for a review',
  },
  {
    id: 'large-line-flag',
    when: { check: 'high_value', above: { USD: '170.00' } },
    action: 'review',
    reason: 'a single commission above 170 USD is flagged',
  },
]

export const PAYOUT_POLICY = {
  minimum: { USD: '50.00' },
  fees: { bank: { flat: '0.25', percent: '1' }, crypto: { percent: '2' } },
}

/**
 * The first part of the books: programme set-up, joins with payout
 * profiles, February's sales, refunds, and a few members put on hold.
 */
export function baseEvents({ members, sales, seed = 2026 }) {
  const rng = new Rng(seed)
  const events = [
    { type: 'milestones_set', at: time(0, 0) },
    { type: 'screening_rules_set', id: 'demo-rules-1', rules: SCREENING_RULES, at: time(0, 0) },
  ]
  const joinedAt = []
  for (let i = 0; i < members; i++) {
    let sponsor = null
    if (i > 0) {
      sponsor = rng.below(100) < 70 ? i - 1 - rng.below(Math.min(i, 50)) : rng.below(i)
    }
    // Not before the sponsor joined (the engine refuses that: invalid_time).
    const drawn = time(Math.floor((i * 31) / members), rng.below(DAY_MS))
    const at = sponsor !== null && joinedAt[sponsor] > drawn ? joinedAt[sponsor] : drawn
    joinedAt.push(at)
    events.push({
      type: 'member_joined',
      member: memberId(i),
      sponsor: sponsor === null ? null : memberId(sponsor),
      at,
    })
    if (rng.below(10) < 8) {
      events.push({
        type: 'payout_profile_set',
        member: memberId(i),
        method: rng.below(4) === 0 ? 'crypto' : 'bank',
        verified: rng.below(10) < 9,
      })
    }
  }
  const refunds = []
  for (let s = 0; s < sales; s++) {
    const millis = Math.floor((s * 28 * DAY_MS) / sales)
    const day = 31 + Math.floor(millis / DAY_MS)
    const amount = 100 + rng.below(99_900)
    events.push({
      type: 'sale_recorded',
      sale: saleId(s),
      buyer: memberId(rng.below(members)),
      amount: cents(amount),
      currency: 'USD',
      at: time(day, millis % DAY_MS),
    })
    if (rng.below(100) < 5) {
      // Half the refunds are whole, half are half the sale, rounded to the cent
      // half to even (as the Rust demo's `round_dp(2)` does).
      const half = Math.floor(amount / 2)
      const part = rng.below(2) === 0 ? amount : half + (amount % 2 === 1 && half % 2 === 1 ? 1 : 0)
      refunds.push([s, part, Math.min(day + 3 + rng.below(10), 89)])
    }
  }
  for (const [s, amount, day] of refunds) {
    events.push({
      type: 'refund_recorded',
      refund: `r${String(s).padStart(7, '0')}`,
      sale: saleId(s),
      amount: cents(amount),
      at: time(day, 0),
    })
  }
  // About one member in 200 is put on hold in late February.
  const holds = Math.max(1, Math.floor(members / 200))
  const reasons = ['identity check pending', 'chargeback investigation', 'duplicate account suspected']
  for (let h = 0; h < holds; h++) {
    events.push({
      type: 'member_hold_set',
      member: memberId(rng.below(members)),
      on: true,
      reason: reasons[h % reasons.length],
      at: time(55, h * 1000),
    })
  }
  return events
}

/** Resolves the older 60% of the `held` sale ids (released, every fifth reversed). */
export function reviewEvents(held) {
  const out = []
  const n = Math.floor((held.length * 6) / 10)
  for (let i = 0; i < n; i++) {
    out.push({
      type: 'fraud_review_resolved',
      review: held[i],
      decision: i % 5 === 4 ? 'reverse' : 'release',
      at: time(80, i * 1000),
      note: i % 5 === 4 ? 'buyer could not be verified' : 'checked: genuine order',
    })
  }
  return out
}

/** Settles most payouts of `batch`, fails one in twenty, leaves one in ten reserved. */
export function settlementEvents(batch) {
  const out = []
  batch.items.forEach((item, i) => {
    if (i % 10 === 9) return
    if (i % 20 === 3) {
      out.push({ type: 'payout_failed', payout: item.payout, reason: 'rejected by the payment provider', at: time(91, i * 1000) })
    } else {
      out.push({ type: 'payout_settled', payout: item.payout, reference: `wire-${item.payout}`, at: time(91, i * 1000) })
    }
  })
  return out
}

/**
 * Applies events to `engine` in chunks through `applyBatchJson` and hands
 * every (event, applied record) pair to `onApplied`. Returns the number of
 * refused events.
 */
export function applyAll(engine, events, onApplied, chunk = 10_000) {
  let refused = 0
  for (let i = 0; i < events.length; i += chunk) {
    const part = events.slice(i, i + chunk)
    const results = JSON.parse(engine.applyBatchJson(JSON.stringify(part), { records: true }))
    results.forEach((result, j) => {
      if (result.error) refused++
      else onApplied(part[j], result)
    })
  }
  return refused
}

/**
 * Writes the demo books into `engine` (empty, usually SQLite-backed) and
 * saves a snapshot at the end, so a reopen is quick and an edited event
 * before it is found by `verify`, not by the open. Returns a summary.
 */
export function writeBooks(engine, { members = 2000, sales = 4000, seed = 2026 } = {}, onApplied = () => {}) {
  const held = []
  let refused = applyAll(engine, baseEvents({ members, sales, seed }), (event, applied) => {
    onApplied(event, applied)
    const hits = applied.distribution?.screening?.hits ?? []
    if (hits.some((h) => h.action === 'hold')) held.push(event.sale)
  })
  refused += applyAll(engine, reviewEvents(held), onApplied)
  let batch = null
  refused += applyAll(
    engine,
    [{ type: 'payouts_prepared', batch: '2026-03', as_of: time(89, 0), policy: PAYOUT_POLICY }],
    (event, applied) => {
      onApplied(event, applied)
      batch = applied.batch
    },
  )
  if (batch) refused += applyAll(engine, settlementEvents(batch), onApplied)
  engine.saveSnapshot()
  return { members, sales, held: held.length, refused, head: engine.auditHead() }
}

/**
 * The live generator: each `tick()` makes a few new events after `clockMs`
 * (a join now and then, one to three sales, sometimes a refund of an
 * earlier live sale). Ids continue the demo's numbering with an `l` mark so
 * they never collide with stored ones.
 */
export class LiveGenerator {
  constructor({ members, clockMs, seed = 7 }) {
    this.rng = new Rng(seed)
    this.members = members
    this.joined = 0
    this.sales = 0
    this.clockMs = clockMs
    this.recentSales = []
  }
  step() {
    this.clockMs += 60_000 + this.rng.below(240_000)
    return new Date(this.clockMs).toISOString()
  }
  pick() {
    // 70% among the 50 most recent, 30% uniform (the demo's shape).
    const n = this.members
    return this.rng.below(100) < 70 ? n - 1 - this.rng.below(Math.min(n, 50)) : this.rng.below(n)
  }
  id(i) {
    return i < this.members - this.joined ? memberId(i) : `ul${String(i).padStart(6, '0')}`
  }
  tick() {
    const events = []
    if (this.rng.below(3) === 0) {
      const sponsor = this.id(this.pick())
      const member = `ul${String(this.members).padStart(6, '0')}`
      this.members++
      this.joined++
      events.push({ type: 'member_joined', member, sponsor, at: this.step() })
    }
    const count = 1 + this.rng.below(3)
    for (let k = 0; k < count; k++) {
      const amount = 100 + this.rng.below(49_900)
      const sale = `sl${String(this.sales++).padStart(7, '0')}`
      events.push({
        type: 'sale_recorded',
        sale,
        buyer: this.id(this.pick()),
        amount: cents(amount),
        currency: 'USD',
        at: this.step(),
      })
      this.recentSales.push([sale, amount])
      if (this.recentSales.length > 50) this.recentSales.shift()
    }
    if (this.rng.below(8) === 0 && this.recentSales.length > 5) {
      const [sale, amount] = this.recentSales.splice(this.rng.below(this.recentSales.length - 2), 1)[0]
      events.push({ type: 'refund_recorded', refund: `r${sale}`, sale, amount: cents(Math.floor(amount / 2)), at: this.step() })
    }
    return events
  }
}
