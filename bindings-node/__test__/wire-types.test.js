'use strict'
// Conversion by declared type (issue 19): a JS number is refused where the
// Rust wire type is money or a rate, at any depth and whatever the key's
// name, and accepted where it is a count; results keep money as decimal
// strings. The types come from `generated.d.ts` (generated from Rust).
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { Engine, Plan, backtest } = require('..')

const T = '2026-01-01T00:00:00Z'

function refused(fn, field) {
  assert.throws(fn, (e) => {
    assert.equal(e.code, 'invalid_amount', e.message)
    assert.equal(e.field, field)
    return true
  })
}

function chain() {
  const e = new Engine()
  e.apply({ type: 'member_joined', member: 'a', sponsor: null, at: T })
  e.apply({ type: 'member_joined', member: 'b', sponsor: 'a', at: T })
  return e
}

describe('money by type, not by name', () => {
  it('refuses a number for a bonus amount, accepts a count threshold', () => {
    const e = chain()
    const ms = (threshold, amount) => ({
      type: 'milestones_set', at: T,
      milestones: [{ id: 'm', name: 'M', metric: 'own_sales', threshold, rewards: [{ bonus: { amount, currency: 'USD' } }] }],
    })
    refused(() => e.apply(ms(1, 5)), 'milestones[0].rewards[0].bonus.amount')
    // A threshold is a count or an amount (by metric): a whole number is fine.
    e.apply(ms(1, '5'))
    const r = e.apply({ type: 'sale_recorded', sale: 's', buyer: 'b', amount: '10.00', currency: 'USD', at: T })
    assert.equal(r.distribution.awards[0].threshold, '1')
    assert.equal(r.distribution.awards[0].bonuses[0].amount, '5.00')
  })

  it('refuses a number inside a plan at any depth, accepts counts', () => {
    refused(() => Plan.fromJSON({ id: 'p', version: 1, levels: [{ rate: '0.1', caps: { USD: 5 } }] }), 'levels[0].caps.USD')
    refused(() => Plan.fromJSON({ id: 'p', version: 1, levels: [{ rate: '0.1' }], overrides: { books: [{ rate: 0.2 }] } }), 'overrides.books[0].rate')
    const plan = Plan.fromJSON({ id: 'p', version: 1, levels: [{ rate: '0.1', min_active_directs: 2 }], hold_days: 0 })
    assert.equal(plan.toJSON().levels[0].min_active_directs, 2)
    refused(() => new Engine({ plan: { id: 'p', version: 1, levels: [{ rate: 0.5 }] } }), 'options.plan.levels[0].rate')
  })

  it('refuses a number for fx.rate, a policy fee, thresholds and backtest history', () => {
    const e = chain()
    refused(() => e.apply({ type: 'sale_recorded', sale: 's', buyer: 'b', amount: '1.00', currency: 'USD', at: T, fx: { currency: 'EUR', rate: 1 } }), 'fx.rate')
    refused(() => e.preparePayouts('b1', T, { fees: { bank: { flat: 1 } } }), 'policy.fees.bank.flat')
    refused(() => e.taxSummary(2026, { USD: 600 }), 'thresholds.USD')
    refused(() => backtest([{ type: 'sale_recorded', sale: 's', buyer: 'b', amount: 10, currency: 'USD', at: T }], { id: 'c', preset: 'strict' }), 'history[0].amount')
  })

  it('keeps money as decimal strings and statistics as numbers out', () => {
    const e = chain()
    const r = e.apply({ type: 'sale_recorded', sale: 's', buyer: 'b', amount: '100.00', currency: 'USD', at: new Date('2026-02-01T00:00:00Z') })
    assert.deepEqual([r.distribution.lines[0].rate, r.distribution.lines[0].base, r.distribution.lines[0].amount], ['0.2', '100.00', '20.00'])
    assert.equal(r.entries[0].at, '2026-02-01T00:00:00Z')
    const m = e.memberMetrics('a')
    assert.equal(m.earnings[0].period, '20.00')
    assert.equal(typeof e.projection(2).points[0].total, 'number')
  })
})

describe('generated types', () => {
  it('declares every wire type, with its Rust docs, and index.d.ts re-exports them', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'core', 'src', 'wire', 'schema.json'), 'utf8'))
    const ts = fs.readFileSync(path.join(__dirname, '..', 'generated.d.ts'), 'utf8')
    for (const name of [...Object.keys(schema.$defs), ...Object.keys(schema['x-roots'])]) {
      assert.match(ts, new RegExp(`^export (interface|type) ${name}\\b`, 'm'), name)
    }
    assert.match(ts, /Commissions still inside their hold period\./)
    const index = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8')
    assert.match(index, /export \* from '\.\/generated'/)
  })
})
