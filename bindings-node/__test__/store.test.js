'use strict'
// new Engine({ path }) on the SQLite store: persistence, verify/verifyAsync,
// tamper detection, storage errors.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { Engine } = require('..')

const T = '2026-01-01T00:00:00Z'

function tmpdb(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upline-node-'))
  return path.join(dir, name)
}

function fill(engine) {
  let sponsor = null
  for (let i = 0; i < 9; i++) {
    engine.apply({ type: 'member_joined', member: `m${i}`, sponsor, at: T })
    sponsor = `m${i}`
  }
  engine.applyBatch([
    { type: 'sale_recorded', sale: 's1', buyer: 'm8', amount: '100.00', currency: 'USD', at: '2026-02-01T12:00:00Z' },
    { type: 'sale_recorded', sale: 's2', buyer: 'm8', amount: '0.25', currency: 'USD', at: '2026-02-01T12:00:00Z' },
  ])
}

function hasPythonSqlite() {
  try {
    execFileSync('python3', ['-c', 'import sqlite3'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

test('events persist and a reopened engine has the same state and head', async () => {
  const file = tmpdb('a.sqlite')
  const engine = new Engine({ path: file })
  fill(engine)
  const head = engine.auditHead()
  assert.equal(head.seq, 11)
  assert.deepEqual(engine.verify(), head)
  assert.deepEqual(await engine.verifyAsync(), head)
  const reopened = new Engine({ path: file })
  assert.deepEqual(reopened.auditHead(), head)
  assert.deepEqual(reopened.balances('m7', 'USD', '2026-03-15T00:00:00Z'), engine.balances('m7', 'USD', '2026-03-15T00:00:00Z'))
  // A snapshot in the store, then more events: a third open sees them all.
  reopened.saveSnapshot()
  reopened.apply({ type: 'member_joined', member: 'late', sponsor: 'm0', at: T })
  const third = new Engine({ path: file })
  assert.deepEqual(third.auditHead(), reopened.auditHead())
  assert.deepEqual(third.verify(), reopened.auditHead())
})

test('a refused event is not stored', () => {
  const file = tmpdb('b.sqlite')
  const engine = new Engine({ path: file })
  fill(engine)
  const head = engine.auditHead()
  assert.throws(() => engine.apply({ type: 'sale_recorded', sale: 's9', buyer: 'ghost', amount: '1.00', currency: 'USD', at: T }), { code: 'unknown_member' })
  assert.deepEqual(new Engine({ path: file }).auditHead(), head)
})

test('verify on an in-memory engine is storage', async () => {
  const engine = new Engine()
  assert.throws(() => engine.verify(), { code: 'storage' })
  await assert.rejects(engine.verifyAsync(), { code: 'storage' })
})

test('a file that is not a store is storage', () => {
  const file = tmpdb('c.sqlite')
  fs.writeFileSync(file, 'this is not a database, just text '.repeat(200))
  assert.throws(() => new Engine({ path: file }), { code: 'storage' })
})

test('bad options are malformed', () => {
  assert.throws(() => new Engine({ path: 42 }), { code: 'malformed' })
  assert.throws(() => new Engine({ file: 'x' }), { code: 'malformed' })
})

test('a changed stored event is tampered, on open and on verify', { skip: !hasPythonSqlite() && 'python3 with sqlite3 not available' }, async () => {
  const file = tmpdb('d.sqlite')
  const engine = new Engine({ path: file })
  fill(engine)
  const py = `import sqlite3,sys
c=sqlite3.connect(sys.argv[1])
row=c.execute("select event from events where seq=10").fetchone()[0]
c.execute("update events set event=? where seq=10",(row.replace('100.00','900.00'),))
c.commit()`
  execFileSync('python3', ['-c', py, file])
  assert.throws(() => engine.verify(), (e) => e.code === 'tampered' && /10/.test(e.message))
  await assert.rejects(engine.verifyAsync(), { code: 'tampered' })
  assert.throws(() => new Engine({ path: file }), { code: 'tampered' })
})

test('new Engine({ plan }) puts the plan in force from the start; reopening with it is a retry', () => {
  const { Plan } = require('..')
  const file = tmpdb('plan.sqlite')
  const plan = { id: 'flat', version: 1, levels: [{ rate: '0.5' }] }
  const engine = new Engine({ path: file, plan })
  engine.apply({ type: 'member_joined', member: 'a', sponsor: null, at: T })
  engine.apply({ type: 'member_joined', member: 'b', sponsor: 'a', at: T })
  const r = engine.apply({ type: 'sale_recorded', sale: 's1', buyer: 'b', amount: '10.00', currency: 'USD', at: '2026-02-01T00:00:00Z' })
  assert.equal(r.distribution.plan, 'flat')
  assert.equal(r.distribution.lines[0].amount, '5.00')
  const head = engine.auditHead()
  const reopened = new Engine({ path: file, plan: Plan.fromJSON(plan) })
  assert.deepEqual(reopened.auditHead(), head)
  assert.throws(() => new Engine({ plan: { id: 'bad', version: 1, levels: [] } }), { code: 'invalid_plan' })
  assert.throws(() => new Engine({ plan, colour: 'red' }), { code: 'malformed' })
})

test('a SQLite follower reads another writer and never creates a file', () => {
  const missing = tmpdb('typo.sqlite')
  assert.throws(() => new Engine({ path: missing, follower: true }), { code: 'storage' })
  assert.equal(fs.existsSync(missing), false, 'a follower never creates a store')

  const file = tmpdb('books.sqlite')
  const writer = new Engine({ path: file })
  fill(writer)
  const follower = new Engine({ path: file, follower: true })
  assert.deepEqual(follower.auditHead(), writer.auditHead())
  writer.apply({ type: 'member_joined', member: 'late', sponsor: 'm0', at: T })
  follower.refresh()
  assert.deepEqual(follower.auditHead(), writer.auditHead())
  assert.throws(() => follower.apply({ type: 'member_joined', member: 'x', sponsor: 'm0', at: T }), { code: 'read_only' })
})

test('a snapshot of an older format throws storage, naming it', () => {
  // Written by the build before format 4 (sale lines that repeated their
  // entries' earner, amount and dates).
  const format3 = path.join(__dirname, '..', '..', 'core', 'tests', 'data', 'snapshot-format-3.json')
  assert.throws(
    () => Engine.fromSnapshot(fs.readFileSync(format3, 'utf8')),
    (err) => err.code === 'storage' && /snapshot format 3 predates format 4/.test(err.message),
  )
  const engine = new Engine()
  engine.apply({ type: 'member_joined', member: 'a', sponsor: null, at: T })
  assert.deepEqual(Engine.fromSnapshot(engine.snapshot()).auditHead(), engine.auditHead())
})
