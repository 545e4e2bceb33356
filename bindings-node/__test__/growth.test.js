'use strict'
// Rewards, leaderboards, challenges and growth metrics through Node: money
// as decimal strings, statistics as numbers, the numbers of a small network.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Engine } = require('..')

// lead <- a, b; a <- c, d. Default milestones from Jan 1. s1: a buys 100.00
// -> lead 20.00 and lead's First Referral bonus 10.00. s2: c buys 50.00 ->
// a 10.00 (+ a's own First Referral 10.00), lead 7.50. A February
// sales-volume challenge, team lead + 2 levels, target 100.00, 90.00 pro rata.
function network() {
  const e = new Engine()
  e.apply({ type: 'member_joined', member: 'lead', sponsor: null, at: '2026-01-01T00:00:00Z' })
  e.apply({ type: 'milestones_set', at: new Date('2026-01-01T00:00:00Z') })
  for (const [m, s, d] of [['a', 'lead', '01-03'], ['b', 'lead', '01-05'], ['c', 'a', '01-10'], ['d', 'a', '02-20']]) {
    e.apply({ type: 'member_joined', member: m, sponsor: s, at: `2026-${d}T00:00:00Z` })
  }
  e.apply({ type: 'sale_recorded', sale: 's1', buyer: 'a', amount: '100.00', currency: 'USD', at: '2026-02-01T00:00:00Z' })
  e.apply({ type: 'sale_recorded', sale: 's2', buyer: 'c', amount: '50.00', currency: 'USD', at: '2026-02-02T00:00:00Z' })
  e.apply({
    type: 'challenge_created', id: 'ch', name: 'Push', team: { leader: 'lead', depth: 2 },
    metric: 'sales_volume', from: '2026-02-01T00:00:00Z', to: '2026-03-01T00:00:00Z',
    target: '100.00', reward: { amount: '90.00', currency: 'USD' }, split: 'pro_rata',
  })
  return e
}

test('milestone awards and bonuses', () => {
  const e = network()
  const [award] = e.awards('lead')
  assert.equal(award.milestone, 'first_referral')
  assert.deepEqual(award.bonuses, [{ amount: '10.00', currency: 'USD' }])
  assert.equal(e.balances('lead', 'USD', '2026-02-15T00:00:00Z').pending, '37.50')
  assert.deepEqual(e.awards('b'), [])
})

test('leaderboard: order, limit, bad window', () => {
  const e = network()
  const board = e.leaderboard('net_earnings', '2026-01-01T00:00:00Z', new Date('2026-03-01T00:00:00Z'), null, 'USD')
  assert.deepEqual(board.entries.map((r) => [r.rank, r.member, r.value]), [[1, 'lead', '37.50'], [2, 'a', '20.00']])
  const top = e.leaderboard('downline_growth', '2026-01-01T00:00:00Z', '2026-03-01T00:00:00Z', 1)
  assert.deepEqual(top.entries.map((r) => [r.member, r.value]), [['lead', '4']])
  assert.throws(() => e.leaderboard('net_earnings', '2026-03-01T00:00:00Z', '2026-01-01T00:00:00Z', 10, 'USD'),
    (err) => err.code === 'invalid_time' && err.field === 'to')
  assert.throws(() => e.leaderboard('fame', '2026-01-01T00:00:00Z', '2026-03-01T00:00:00Z'), (err) => err.code === 'invalid_reward')
})

test('challenge status and an exact pro-rata close', () => {
  const e = network()
  const s = e.challengeStatus('ch', '2026-02-15T00:00:00Z')
  assert.equal(s.state, 'open')
  assert.equal(s.total, '150.00')
  assert.deepEqual(s.members, [{ member: 'a', progress: '100.00' }, { member: 'c', progress: '50.00' }])
  const closed = e.apply({ type: 'challenge_closed', id: 'ch', at: '2026-03-01T00:00:00Z' })
  assert.deepEqual(closed.challenge.shares.map((x) => [x.member, x.amount]), [['a', '60.00'], ['c', '30.00']])
  assert.throws(() => e.challengeStatus('nope', '2026-02-15T00:00:00Z'), (err) => err.code === 'unknown_challenge')
  assert.throws(() => e.apply({ type: 'challenge_closed', id: 'ch', at: '2026-03-02T00:00:00Z' }), (err) => err.code === 'challenge_state')
})

test('member and network metrics', () => {
  const e = network()
  const m = e.memberMetrics('lead', '2026-02-01T00:00:00Z', '2026-03-01T00:00:00Z')
  assert.deepEqual([m.direct_referrals, m.qualified_referrals, m.downline_size, m.downline_depth], [2, 1, 4, 2])
  assert.deepEqual(m.earnings, [{ currency: 'USD', lifetime: '37.50', period: '37.50' }])
  assert.equal(e.memberMetrics('lead').earnings[0].lifetime, '37.50')
  const n = e.networkMetrics()
  assert.deepEqual([n.members, n.max_depth, n.mean_branching_factor], [5, 2, 2])
  assert.deepEqual(n.depth_histogram, [1, 2, 2])
})

test('viral coefficient, cycle time and projection', () => {
  const e = network()
  const v = e.viralCoefficient()
  // 3 referrals within 30 days of the sponsor's join / 5 members.
  assert.ok(Math.abs(v.overall.k - 0.6) < 1e-12)
  // Gaps 2, 4, 7, 48 days: median 5.5.
  assert.ok(Math.abs(v.cycle_time_days - 5.5) < 1e-12)
  const p = e.projection(3)
  // 5 * (1 + 0.6 + 0.36 + 0.216) = 10.88; limit 5 / 0.4 = 12.5.
  assert.ok(Math.abs(p.closed_form_total - 10.88) < 1e-9)
  assert.ok(Math.abs(p.limit - 12.5) < 1e-9)
})

test('subtree exports carry earnings', () => {
  const e = network()
  const t = e.exportSubtreeJson('lead', 1)
  assert.deepEqual(t.tree.earnings, { USD: '37.50' })
  assert.equal(e.exportSubtreeJson('lead', 5, 2).truncated, true)
  assert.match(e.exportSubtreeDot('lead', 2), /USD 37\.50/)
  assert.throws(() => e.exportSubtreeDot('ghost', 2), (err) => err.code === 'unknown_member')
})
