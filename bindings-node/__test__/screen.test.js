'use strict'
// Fraud screening through Node: decisions with evidence, reviews, identity
// clusters, backtests, presets and the new error codes.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Engine, backtest, screeningPreset } = require('..')

// lead, and a under lead on lead's device (one identity); b on its own.
function network(preset) {
  const e = new Engine()
  const history = []
  const ev = (event) => { history.push(event); return e.apply(event) }
  ev({ type: 'screening_rules_set', id: 'r1', preset, at: '2026-01-01T00:00:00Z' })
  for (const [m, s, d] of [['lead', null, 'dev-lead'], ['a', 'lead', 'dev-lead'], ['b', 'lead', 'dev-b']]) {
    ev({ type: 'member_joined', member: m, sponsor: s, at: '2026-01-02T00:00:00Z', signals: { device: d } })
  }
  ev({ type: 'sale_recorded', sale: 's1', buyer: 'a', amount: '100.00', currency: 'USD', at: new Date('2026-02-01T00:00:00Z') })
  return { e, history }
}

test('a self-referral is held with its evidence, then released', () => {
  const { e } = network('moderate')
  const [hit] = e.distributionOf('s1').screening.hits
  assert.deepEqual([hit.rule, hit.action, hit.levels, hit.earners, hit.amount], ['self_referral', 'hold', [1], ['lead'], '20.00'])
  assert.deepEqual(hit.members, ['a', 'lead'])
  assert.equal(e.balances('lead', 'USD', '2026-02-02T00:00:00Z').held, '20.00')
  const r = e.apply({ type: 'fraud_review_resolved', review: 's1', decision: 'release', at: '2026-02-10T00:00:00Z' })
  assert.deepEqual(r.entries.map((x) => [x.kind, x.amount]), [['release', '20.00']])
  assert.equal(e.balances('lead', 'USD', '2026-02-11T00:00:00Z').pending, '20.00')
  assert.throws(() => e.apply({ type: 'fraud_review_resolved', review: 's1', decision: 'reverse', at: '2026-02-11T00:00:00Z' }),
    (err) => err.code === 'review_state' && err.field === 'review')
  assert.throws(() => e.apply({ type: 'fraud_review_resolved', review: 'nope', decision: 'release', at: '2026-02-11T00:00:00Z' }),
    (err) => err.code === 'unknown_review')
})

test('strict blocks the line; the platform keeps it', () => {
  const { e } = network('strict')
  const d = e.distributionOf('s1')
  assert.deepEqual(d.unpaid[0], { level: 1, reason: 'fraud_blocked' })
  assert.equal(d.retained, '100.00')
})

test('identity clusters and rings', () => {
  const { e } = network('relaxed')
  assert.deepEqual(e.identityCluster('a'), ['a', 'lead'])
  assert.deepEqual(e.identityCluster('b'), ['b'])
  assert.deepEqual(e.screeningRings(), [])
  assert.throws(() => e.identityCluster('ghost'), (err) => err.code === 'unknown_member')
})

test('backtest reports and changes nothing', () => {
  const { e, history } = network('relaxed')
  const before = e.snapshot()
  const candidate = { id: 'cand', preset: 'strict', at: '2026-01-01T00:00:00Z' }
  const report = backtest(history, candidate)
  assert.deepEqual(report.in_force_totals.reviewed, { USD: '20.00' })
  assert.deepEqual(report.candidate_totals.blocked, { USD: '20.00' })
  assert.deepEqual(report.blocked_difference, { USD: '20.00' })
  assert.equal(report.sales_changed, 1)
  assert.deepEqual(backtest(JSON.stringify(history), candidate), report)
  assert.equal(e.snapshot(), before)
  assert.throws(() => backtest(history, { id: 'x', preset: 'paranoid', at: '2026-01-01T00:00:00Z' }), (err) => err.code === 'invalid_rules')
  assert.throws(() => backtest(42, candidate), (err) => err.code === 'malformed')
})

test('presets, bad rules and bad signals', () => {
  assert.equal(screeningPreset('moderate')[0].id, 'self_referral')
  assert.equal(screeningPreset('nope'), null)
  const e = new Engine()
  assert.throws(() => e.apply({ type: 'screening_rules_set', id: 'r', at: '2026-01-01T00:00:00Z',
    rules: [{ id: 'v', when: { check: 'velocity', signal: 'shoe_size' }, action: 'hold' }] }),
  (err) => err.code === 'invalid_rules' && err.field === 'rules[0].when.signal')
  assert.throws(() => e.apply({ type: 'screening_rules_set', id: 'r', at: '2026-01-01T00:00:00Z',
    rules: [{ id: 'v', when: { check: 'timing' }, action: 'shred' }] }),
  (err) => err.code === 'invalid_rules' && err.field === 'rules[0].action')
  assert.throws(() => e.apply({ type: 'member_joined', member: 'm', sponsor: null, at: '2026-01-01T00:00:00Z', signals: { ip: '999.1.1.1' } }),
    (err) => err.code === 'invalid_signal' && err.field === 'signals.ip')
  assert.equal(e.auditHead().seq, 0)
})
