'use strict'
// new Engine({ url, programme }) on PostgreSQL, shared by processes:
// refresh, the same webhook at two workers, followers, errors without
// secrets. Needs UPLINE_PG_URL (.ci/run starts a server and sets it);
// without it the tests skip, except under CI=true where they fail.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { Engine } = require('..')

const T = '2026-01-01T00:00:00Z'
const URL = process.env.UPLINE_PG_URL || ''

function server(t) {
  if (URL) return true
  if (process.env.CI === 'true') {
    assert.fail('UPLINE_PG_URL is unset under CI=true: .ci/run starts PostgreSQL and sets it')
  }
  t.skip('UPLINE_PG_URL is unset (bash .ci/postgres.sh start prints it)')
  return false
}

function programme() {
  return `node-${crypto.randomBytes(6).toString('hex')}`
}

const sale = (id, buyer, amount) => ({ type: 'sale_recorded', sale: id, buyer, amount, currency: 'USD', at: T })

// Runs `script` in another Node process with `engine` opened on the
// programme; returns what it prints as JSON.
function inOtherProcess(prog, script) {
  const root = path.join(__dirname, '..')
  const code = `const { Engine } = require(${JSON.stringify(root)});
const engine = new Engine({ url: ${JSON.stringify(URL)}, programme: ${JSON.stringify(prog)} });
${script}`
  return JSON.parse(execFileSync(process.execPath, ['-e', code], { encoding: 'utf8' }))
}

test('two processes on one programme see each other after refresh', (t) => {
  if (!server(t)) return
  const prog = programme()
  const engine = new Engine({ url: URL, programme: prog })
  engine.apply({ type: 'member_joined', member: 'ann', sponsor: null, at: T })
  engine.apply({ type: 'member_joined', member: 'bob', sponsor: 'ann', at: T })
  const other = inOtherProcess(prog, `
engine.apply({ type: 'member_joined', member: 'cat', sponsor: 'bob', at: '${T}' })
const r = engine.apply(${JSON.stringify(sale('s1', 'cat', '100.00'))})
console.log(JSON.stringify({ seq: r.seq, head: engine.auditHead().seq }))`)
  assert.deepEqual(other, { seq: 4, head: 4 })
  assert.equal(engine.auditHead().seq, 2)
  const head = engine.refresh()
  assert.equal(head.seq, 4)
  assert.deepEqual(head, engine.auditHead())
  assert.deepEqual(engine.upline('cat', 2), ['bob', 'ann'])
  const lines = engine.distributionOf('s1').lines.map((l) => [l.earner, l.amount])
  assert.deepEqual(lines, [['bob', '20.00'], ['ann', '15.00']])
})

test('a webhook retried at both workers records one sale', (t) => {
  if (!server(t)) return
  const prog = programme()
  const engine = new Engine({ url: URL, programme: prog })
  engine.apply({ type: 'member_joined', member: 'ann', sponsor: null, at: T })
  engine.apply({ type: 'member_joined', member: 'bob', sponsor: 'ann', at: T })
  const first = engine.apply(sale('w1', 'bob', '80.00'))
  const other = inOtherProcess(prog, `
const r = engine.apply(${JSON.stringify(sale('w1', 'bob', '80.00'))})
console.log(JSON.stringify({ seq: r.seq, hash: r.hash, replayed: r.replayed === true }))`)
  assert.deepEqual(other, { seq: first.seq, hash: first.hash, replayed: true })
  assert.equal(engine.refresh().seq, 3)
  const follower = new Engine({ url: URL, programme: prog, follower: true })
  assert.equal(follower.verify().seq, 3)
  assert.throws(() => follower.apply(sale('w2', 'bob', '1.00')), { code: 'read_only' })
})

// As a follower of a missing SQLite file: a mistyped programme is an
// error, not an empty programme (which it registered, so the next open
// succeeded).
test('a follower of an unknown programme fails and registers nothing', (t) => {
  if (!server(t)) return
  const prog = programme()
  for (let i = 0; i < 2; i++) {
    assert.throws(() => new Engine({ url: URL, programme: prog, follower: true }), (err) => {
      assert.equal(err.code, 'storage')
      assert.ok(err.message.includes(`holds no programme "${prog}"`), err.message)
      return true
    })
  }
  const writer = new Engine({ url: URL, programme: prog })
  const follower = new Engine({ url: URL, programme: prog, follower: true })
  assert.equal(follower.auditHead().seq, 0)
  writer.apply({ type: 'member_joined', member: 'ann', sponsor: null, at: T })
  assert.deepEqual(follower.refresh(), writer.auditHead())
})

test('connection errors name the host and never the password', (t) => {
  if (!server(t)) return
  const secret = 's3cr3t-Pw'
  assert.throws(() => new Engine({ url: `postgresql://app:${secret}@127.0.0.1:1/books`, programme: 'acme' }), (err) => {
    assert.equal(err.code, 'storage')
    assert.match(err.message, /127\.0\.0\.1:1\/books as app/)
    assert.ok(!err.message.includes(secret), err.message)
    return true
  })
  const port = URL.split(':').pop().split('/')[0]
  assert.throws(() => new Engine({ url: `postgresql://nobody:${secret}@127.0.0.1:${port}/postgres`, programme: 'acme' }), (err) => {
    assert.equal(err.code, 'storage')
    assert.match(err.message, /nobody/)
    assert.ok(!err.message.includes(secret), err.message)
    return true
  })
  assert.throws(() => new Engine({ url: URL }), { code: 'invalid_id' })
  assert.throws(() => new Engine({ url: URL, programme: 'acme', path: 'x.sqlite' }), { code: 'malformed' })
})

test('groupCommit is a mode for PostgreSQL writers', (t) => {
  // Refused before any connection: a bad mode, or a mode without a url.
  assert.throws(() => new Engine({ url: 'postgresql://app:pw@127.0.0.1:1/books', programme: 'acme', groupCommit: 'sometimes' }), (err) => {
    assert.equal(err.code, 'malformed')
    assert.match(err.message, /groupCommit/)
    assert.ok(!err.message.includes(':pw@'), err.message)
    return true
  })
  assert.throws(() => new Engine({ groupCommit: 'always' }), { code: 'malformed', message: /needs a url/ })
  if (!server(t)) return
  // A writer that always hands off applies like any other when alone.
  const prog = programme()
  const engine = new Engine({ url: URL, programme: prog, groupCommit: 'always' })
  engine.apply({ type: 'member_joined', member: 'ann', sponsor: null, at: T })
  engine.apply({ type: 'member_joined', member: 'bob', sponsor: 'ann', at: T })
  const applied = engine.apply(sale('g1', 'bob', '100.00'))
  assert.equal(applied.seq, 3)
  assert.deepEqual(applied.distribution.lines.map((l) => l.amount), ['20.00'])
  assert.equal(new Engine({ url: URL, programme: prog, groupCommit: 'never' }).verify().seq, 3)
})
