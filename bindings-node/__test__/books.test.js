'use strict'
// Reading the books through Node: statements (sources, states, pages,
// errors) and the tax summary as CSV, with the numbers of a small chain.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Engine } = require('..')

// ann <- bob <- cal; cal buys 100.00 and 50.00 USD; 40% of the first is
// refunded; ann is paid out (16.50) and settled.
function books() {
  const e = new Engine()
  for (const [m, s] of [['ann', null], ['bob', 'ann'], ['cal', 'bob']]) {
    e.apply({ type: 'member_joined', member: m, sponsor: s, at: '2026-01-01T00:00:00Z' })
  }
  e.apply({ type: 'payout_profile_set', member: 'ann', method: 'bank', verified: true })
  e.apply({ type: 'sale_recorded', sale: 's1', buyer: 'cal', amount: '100.00', currency: 'USD', at: new Date('2026-02-01T00:00:00Z') })
  e.apply({ type: 'sale_recorded', sale: 's2', buyer: 'cal', amount: '50.00', currency: 'USD', at: '2026-02-02T00:00:00Z' })
  e.apply({ type: 'refund_recorded', refund: 'r1', sale: 's1', amount: '40.00', at: '2026-02-03T00:00:00Z' })
  e.apply({ type: 'payouts_prepared', batch: 'b1', as_of: '2026-03-10T00:00:00Z', policy: {} })
  e.apply({ type: 'payout_settled', payout: 'b1:ann:USD', at: '2026-03-11T00:00:00Z', reference: 'wire' })
  return e
}

test('statement lines carry source, level, rate, base and state', () => {
  const page = books().statement('bob', { asOf: new Date('2026-02-05T00:00:00Z') })
  assert.equal(page.member, 'bob')
  assert.equal(page.as_of, '2026-02-05T00:00:00Z')
  assert.equal(page.next, null)
  const [first, second, reversal] = page.entries
  assert.deepEqual(first.source, { type: 'sale', id: 's1' })
  assert.deepEqual([first.kind, first.level, first.rate, first.base], ['commission', 1, '0.2', '100.00'])
  assert.deepEqual([first.amount, first.remaining, first.state], ['20.00', '12.00', 'pending'])
  assert.equal(first.available_at, '2026-03-03T00:00:00Z')
  assert.deepEqual([second.amount, second.remaining, second.state], ['10.00', '10.00', 'pending'])
  assert.deepEqual(reversal.source, { type: 'refund', id: 'r1' })
  assert.deepEqual([reversal.amount, reversal.state, reversal.level, reversal.remaining], ['8.00', 'reversed', null, null])
})

test('payout lines are reserved, then paid', () => {
  const e = books()
  const before = e.statement('ann', { asOf: '2026-03-10T12:00:00Z' }).entries
  const reserve = before[before.length - 1]
  assert.deepEqual([reserve.kind, reserve.amount, reserve.state], ['payout_reserve', '16.50', 'reserved'])
  assert.deepEqual(reserve.source, { type: 'payout', id: 'b1:ann:USD' })
  assert.deepEqual(e.statement('ann').entries.map((l) => l.state), ['available', 'available', 'reversed', 'paid', 'paid'])
})

test('pages of every size stitch into the whole statement', () => {
  const e = books()
  const whole = e.statement('ann').entries.map((l) => l.seq)
  assert.equal(whole.length, 5)
  for (const limit of [1, 2, 3, 4, 5, 100]) {
    const seen = []
    let after = null
    for (;;) {
      const page = e.statement('ann', { after, limit })
      seen.push(...page.entries.map((l) => l.seq))
      if (page.next === null) break
      assert.equal(page.entries.length, limit)
      after = page.next
    }
    assert.deepEqual(seen, whole, `pages of ${limit}`)
  }
})

test('filters narrow the statement', () => {
  const page = books().statement('ann', { currency: 'USD', from: '2026-02-02T00:00:00Z', to: new Date('2026-03-11T00:00:00Z') })
  assert.deepEqual(page.entries.map((l) => l.kind), ['commission', 'reversal', 'payout_reserve'])
})

test('bad statement queries throw their codes', () => {
  const e = books()
  const cases = [
    ['ghost', undefined, 'unknown_member'],
    ['ann', { after: 'garbage' }, 'malformed'],
    ['ann', { after: 3 }, 'malformed'],
    ['ann', { limit: 10001 }, 'limit_exceeded'],
    ['ann', { limit: 0 }, 'limit_exceeded'],
    ['ann', { limit: '5' }, 'malformed'],
    ['ann', { from: '2026-03-01T00:00:00Z', to: '2026-02-01T00:00:00Z' }, 'invalid_time'],
    ['ann', { asOf: '2026-03-01T00:00:00' }, 'invalid_time'],
    ['ann', { asof: '2026-03-01T00:00:00Z' }, 'malformed'],
  ]
  for (const [member, options, code] of cases) {
    assert.throws(() => e.statement(member, options), (err) => err.code === code, `${JSON.stringify(options)} -> ${code}`)
  }
})

test('taxSummaryCsv has a header and exact amounts', () => {
  const e = books()
  assert.equal(
    e.taxSummaryCsv(2026, { USD: '10.00' }),
    'earner,currency,earned,paid,reaches_threshold\nann,USD,16.50,16.50,true\nbob,USD,22.00,0.00,false\n',
  )
  assert.equal(e.taxSummaryCsv(2025), 'earner,currency,earned,paid,reaches_threshold\n')
  assert.throws(() => e.taxSummaryCsv(2026, { USD: 10 }), (err) => err.code === 'invalid_amount')
})
