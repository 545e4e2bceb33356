// HTTP-level tests of the dashboard server: the answers equal the engine's
// for the same books, and malformed requests and unknown members get 400 /
// 404 with the engine's error code while the server stays up.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { createRequire } from 'node:module'
import { out, writeDemoBooks, startServer } from './helpers.mjs'

const require = createRequire(import.meta.url)
const { Engine } = require('../../../bindings-node')
const file = path.join(out, 'http.sqlite')
let server
let engine

before(async () => {
  writeDemoBooks(file)
  engine = new Engine({ path: file })
  server = await startServer(['--books', file])
})
after(async () => server && (await server.stop()))

const get = async (p, options) => {
  const r = await fetch(server.url + p.replace(/^\//, ''), options)
  return { status: r.status, body: await r.json() }
}

test('summary, leaderboard and member answers equal the engine', async () => {
  const { status, body } = await get('/api/summary')
  assert.equal(status, 200)
  assert.deepEqual(body.head, engine.auditHead())
  assert.equal(body.members, engine.networkMetrics().members)
  const to = new Date(Date.parse(body.clock) + 1).toISOString()
  const lb = engine.leaderboard('net_earnings', new Date(0).toISOString(), to, 5, 'USD')
  assert.deepEqual(body.topEarner, lb.entries[0])
  const served = await get('/api/leaderboard?metric=net_earnings&period=all&limit=5')
  assert.deepEqual(served.body.entries, lb.entries)
  const member = lb.entries[1].member
  const m = await get(`/api/member/${member}`)
  assert.equal(m.status, 200)
  assert.deepEqual(m.body.balances, engine.balances(member, 'USD', body.clock))
  assert.deepEqual(m.body.awards, engine.awards(member))
  // The per-day series adds up to the lifetime earnings, to the cent.
  const cents = (s) => BigInt(s.replace('.', ''))
  const sum = m.body.days.reduce((t, d) => t + cents(d.earned), 0n)
  assert.equal(sum, cents(engine.memberMetrics(member).earnings[0].lifetime))
})

test('screening and payouts agree with the engine and add up', async () => {
  const { body } = await get('/api/screening')
  assert.equal(body.holds.length, engine.networkMetrics().on_hold)
  const { body: p } = await get('/api/payouts?limit=5000')
  assert.equal(p.batches.length, 1)
  const b = p.batches[0]
  assert.equal(b.counts.settled + b.counts.failed + b.counts.reserved, b.count)
  assert.equal(b.items.length, b.count)
  const cents = (s) => BigInt(s.replace('.', ''))
  assert.equal(b.items.reduce((t, i) => t + cents(i.net), 0n), cents(b.net))
  // The only batch: a settled payout's gross is all its earner was paid, a failed one paid nothing.
  const clock = (await get('/api/summary')).body.clock
  const settled = b.items.find((i) => i.state === 'settled')
  assert.equal(engine.balances(settled.earner, 'USD', clock).paid, settled.gross)
  const failed = b.items.find((i) => i.state === 'failed')
  assert.equal(engine.balances(failed.earner, 'USD', clock).paid, '0.00')
})

test('the network endpoint lists the right children', async () => {
  const { body } = await get('/api/network/u000001?depth=1')
  const children = body.nodes.filter((n) => n.parent === 'u000001').map((n) => n.id)
  assert.deepEqual(children, engine.directReferrals('u000001'))
  assert.equal(body.nodes[0].directs, children.length)
})

test('unknown members are 404 with the engine code', async () => {
  for (const p of ['/api/member/nobody', '/api/network/nobody']) {
    const { status, body } = await get(p)
    assert.equal(status, 404, p)
    assert.equal(body.error.code, 'unknown_member')
    assert.match(body.error.message, /nobody/)
  }
})

test('malformed requests are 400 with a message naming the field', async () => {
  const cases = [
    ['/api/member/' + 'x'.repeat(200), 'invalid_id', 'member'],
    ['/api/member/a%01b', 'invalid_id', 'member'],
    ['/api/network/u000001?depth=deep', 'malformed', 'depth'],
    ['/api/network/u000001?maxNodes=0', 'malformed', 'maxNodes'],
    ['/api/leaderboard?metric=karma', 'malformed', 'metric'],
    ['/api/leaderboard?period=forever', 'malformed', 'period'],
    ['/api/leaderboard?limit=-1', 'malformed', 'limit'],
    ['/api/payouts?state=lost', 'malformed', 'state'],
    ['/api/viral?cohortDays=0', 'malformed', 'cohortDays'],
  ]
  for (const [p, code, field] of cases) {
    const { status, body } = await get(p)
    assert.equal(status, 400, p)
    assert.equal(body.error.code, code, p)
    assert.equal(body.error.field, field, p)
    assert.match(body.error.message, new RegExp(field), p)
  }
  const bad = await get('/api/audit/verify', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' })
  assert.equal(bad.status, 400)
  assert.equal(bad.body.error.code, 'malformed')
  const missing = await get('/api/nothing-here')
  assert.equal(missing.status, 404)
  assert.equal(missing.body.error.code, 'not_found')
  // Still up, still right.
  const { status, body } = await get('/api/audit')
  assert.equal(status, 200)
  assert.deepEqual(body.head, engine.auditHead())
})

test('verify succeeds on the books', async () => {
  const { status, body } = await get('/api/audit/verify', { method: 'POST' })
  assert.equal(status, 200)
  assert.equal(body.ok, true)
  assert.deepEqual(body.head, engine.auditHead())
})
