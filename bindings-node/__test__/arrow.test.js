'use strict'
// Arrow in and out: applyJoins / applySales / applyRefunds with apache-arrow
// Tables and IPC bytes give the object path's results and audit hashes;
// bad columns fail the whole call naming the column; whatIf.

const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const arrow = require('apache-arrow')
const { Engine } = require('..')
const { vectorFiles } = require('./helpers')

const KINDS = {
  member_joined: ['joins', ['member', 'sponsor', 'at'], []],
  sale_recorded: ['sales', ['sale', 'buyer', 'amount', 'currency', 'at'], ['category']],
  refund_recorded: ['refunds', ['refund', 'sale', 'amount', 'at'], []],
}
const CANONICAL = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/

function kind(event) {
  if (event === null || typeof event !== 'object' || !(event.type in KINDS)) return null
  const [name, required, optional] = KINDS[event.type]
  const fields = Object.keys(event).filter((k) => k !== 'type')
  if (!required.every((k) => fields.includes(k))) return null
  if (!fields.every((k) => required.includes(k) || optional.includes(k))) return null
  const ok = fields.every((k) => typeof event[k] === 'string' || (k === 'sponsor' && event[k] === null))
  return ok ? name : null
}

const UTC_MS = new arrow.Timestamp(arrow.TimeUnit.MILLISECOND, 'UTC')

// A run of events as a Table: strings (dictionary-encoded, apache-arrow's
// default for strings), and with `typed`, canonical instants as UTC
// timestamps.
function table(run, typed) {
  const [, required, optional] = KINDS[run[0].type]
  const columns = {}
  for (const key of required.concat(optional.filter((k) => run.some((e) => k in e)))) {
    const values = run.map((e) => (key in e ? e[key] : null))
    if (typed && key === 'at' && values.every((v) => CANONICAL.test(v))) {
      columns[key] = arrow.vectorFromArray(values.map((v) => Date.parse(v)), UTC_MS)
    } else {
      columns[key] = arrow.vectorFromArray(values, new arrow.Utf8())
    }
  }
  return new arrow.Table(columns)
}

function rowsOf(results) {
  return results.toArray().map((row) => row.toJSON())
}

function hex(bytes) {
  return Buffer.from(bytes).toString('hex')
}

function send(engine, name, data) {
  if (name === 'joins') return engine.applyJoins(data)
  if (name === 'sales') {
    const { results, lines } = engine.applySales(data, { lines: true })
    const names = (lines instanceof arrow.Table ? lines : arrow.tableFromIPC(lines)).schema.fields.map((f) => f.name)
    assert.deepEqual(names, ['sale', 'level', 'earner', 'amount', 'currency', 'rate'])
    return results
  }
  return engine.applyRefunds(data)
}

function runCase(testCase, form) {
  const events = testCase.steps.filter((s) => 'apply' in s).map((s) => s.apply)
  const byObject = new Engine()
  const expected = events.map((event) => {
    try {
      const applied = byObject.apply(event)
      return [applied.seq, applied.hash]
    } catch (err) {
      return err.code
    }
  })
  const byColumns = new Engine()
  const actual = []
  for (let i = 0; i < events.length; ) {
    const name = kind(events[i])
    if (name === null) {
      try {
        const applied = byColumns.apply(events[i])
        actual.push([applied.seq, applied.hash])
      } catch (err) {
        actual.push(err.code)
      }
      i += 1
      continue
    }
    let end = i + 1
    while (end < events.length && kind(events[end]) === name) end += 1
    const data = table(events.slice(i, end), form === 'typed')
    const out = form === 'ipc' ? arrow.tableFromIPC(send(byColumns, name, arrow.tableToIPC(data, 'stream'))) : send(byColumns, name, data)
    assert.ok(out instanceof arrow.Table)
    for (const row of rowsOf(out)) {
      if (row.error_code !== null) {
        assert.equal(row.seq, null)
        actual.push(row.error_code)
      } else {
        actual.push([Number(row.seq), hex(row.hash)])
      }
    }
    i = end
  }
  assert.deepEqual(actual, expected)
  assert.deepEqual(byColumns.auditHead(), byObject.auditHead())
}

describe('vector joins, sales and refunds through Arrow match the object path', () => {
  for (const { file, cases } of vectorFiles()) {
    for (const testCase of cases) {
      for (const form of ['table', 'typed', 'ipc']) {
        it(`${file} ${testCase.name} (${form})`, () => runCase(testCase, form))
      }
    }
  }
})

function joined() {
  const engine = new Engine()
  engine.applyJoins(
    new arrow.Table({
      member: arrow.vectorFromArray(['ann', 'bob', 'cy'], new arrow.Utf8()),
      sponsor: arrow.vectorFromArray([null, 'ann', 'bob'], new arrow.Utf8()),
      at: arrow.vectorFromArray(['2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'], new arrow.Utf8()),
    }),
  )
  return engine
}

function sales(replace) {
  const columns = {
    sale: arrow.vectorFromArray(['s1'], new arrow.Utf8()),
    buyer: arrow.vectorFromArray(['cy'], new arrow.Utf8()),
    amount: arrow.vectorFromArray(['100.00'], new arrow.Utf8()),
    currency: arrow.vectorFromArray(['USD']),
    at: arrow.vectorFromArray([Date.parse('2026-02-01T12:00:00Z')], UTC_MS),
  }
  return new arrow.Table(Object.assign(columns, replace))
}

describe('applySales', () => {
  it('returns results and lines as Tables for a Table, bytes for bytes', () => {
    const engine = joined()
    const { results, lines } = engine.applySales(sales({}), { lines: true })
    const [row] = rowsOf(results)
    assert.equal(row.seq, 4n)
    assert.equal(hex(row.hash), engine.auditHead().hash)
    const paid = rowsOf(lines).map((l) => [l.earner, l.level])
    assert.deepEqual(paid, [['bob', 1], ['ann', 2]])
    const again = engine.applySales(arrow.tableToIPC(sales({}), 'stream'))
    assert.ok(again instanceof Uint8Array)
    const [retry] = rowsOf(arrow.tableFromIPC(again))
    assert.equal(retry.replayed, true)
    assert.equal(retry.seq, 4n)
  })

  const bad = {
    float_money: [{ amount: arrow.vectorFromArray([100.0], new arrow.Float64()) }, 'invalid_amount', 'amount'],
    naive_timestamp: [{ at: arrow.vectorFromArray([Date.parse('2026-02-01T12:00:00Z')], new arrow.TimestampMillisecond()) }, 'invalid_time', 'at'],
    misspelt_column: [{ categroy: arrow.vectorFromArray(['books'], new arrow.Utf8()) }, 'malformed', 'categroy'],
    null_buyer: [{ buyer: arrow.vectorFromArray([null], new arrow.Utf8()) }, 'malformed', 'buyer'],
  }
  for (const [name, [replace, code, field]] of Object.entries(bad)) {
    it(`${name} fails the whole call with ${code} naming ${field}`, () => {
      const engine = joined()
      const head = engine.auditHead()
      assert.throws(() => engine.applySales(sales(replace)), (err) => err.code === code && err.field === field)
      assert.deepEqual(engine.auditHead(), head)
    })
  }

  it('a missing column is malformed', () => {
    const engine = joined()
    const data = sales({}).select(['sale', 'amount', 'currency', 'at'])
    assert.throws(() => engine.applySales(data), (err) => err.code === 'malformed' && err.field === 'buyer')
  })

  it('more rows than the batch limit is limit_exceeded', () => {
    const n = 100_001
    const big = new arrow.Table({
      member: arrow.vectorFromArray(Array.from({ length: n }, (_, i) => `m${i}`), new arrow.Utf8()),
      sponsor: arrow.vectorFromArray(new Array(n).fill(null), new arrow.Utf8()),
      at: arrow.vectorFromArray(new Array(n).fill(0), UTC_MS),
    })
    const engine = new Engine()
    assert.throws(() => engine.applyJoins(big), (err) => err.code === 'limit_exceeded')
    assert.equal(engine.auditHead().seq, 0)
  })

  it('bytes that are not Arrow are malformed', () => {
    assert.throws(() => new Engine().applyJoins(Buffer.from('nope')), (err) => err.code === 'malformed')
  })

  it('anything but a Table or bytes is malformed naming the table', () => {
    const engine = joined()
    const head = engine.auditHead()
    for (const value of [{ a: 1 }, null, undefined, 'sales.arrow', [1, 2], 42]) {
      for (const call of [(v) => engine.applySales(v), (v) => engine.applyJoins(v), (v) => engine.applyRefunds(v)]) {
        assert.throws(
          () => call(value),
          (err) => err.code === 'malformed' && err.field === 'table' && /Arrow IPC bytes/.test(err.message),
        )
      }
    }
    assert.deepEqual(engine.auditHead(), head)
  })
})

describe('whatIf', () => {
  // ann ← bob ← cy ← dee; s1 (dee, 100.00), s2 (cy, 33.33) in February,
  // s3 (dee, 50.00) in March.
  function books() {
    const engine = new Engine()
    const strings = (values) => arrow.vectorFromArray(values, new arrow.Utf8())
    engine.applyJoins(
      new arrow.Table({
        member: strings(['ann', 'bob', 'cy', 'dee']),
        sponsor: strings([null, 'ann', 'bob', 'cy']),
        at: strings(new Array(4).fill('2026-01-01T00:00:00Z')),
      }),
    )
    engine.applySales(
      new arrow.Table({
        sale: strings(['s1', 's2', 's3']),
        buyer: strings(['dee', 'cy', 'dee']),
        amount: strings(['100.00', '33.33', '50.00']),
        currency: strings(['USD', 'USD', 'USD']),
        at: strings(['2026-02-01T12:00:00Z', '2026-02-10T12:00:00Z', '2026-03-05T12:00:00Z']),
      }),
    )
    return engine
  }
  const FEB = '2026-02-01T00:00:00Z'
  const MAR = '2026-03-01T00:00:00Z'

  it('under a hand-built candidate gives the cents worked out by hand, books unchanged', () => {
    const engine = books()
    const head = engine.auditHead()
    const flat = { id: 'flat', version: 1, levels: [{ rate: '0.25' }, { rate: '0.05' }] }
    const { table: out, summary } = engine.whatIf(flat, FEB, MAR, { table: 'arrow' })
    // s1: cy 25.00, bob 5.00; s2 (33.33): bob 8.3325 → 8.33, ann 1.6665 → 1.67.
    const decimals = (t, column) => t.getChild(column).toArray()
    assert.deepEqual(out.getChild('earner').toArray(), ['ann', 'bob', 'cy'])
    const scale = out.schema.fields.find((f) => f.name === 'difference').type.scale
    assert.equal(scale, 2)
    const cents = Array.from({ length: 3 }, (_, i) => Number(decimals(out, 'difference')[i * 4]) | 0)
    assert.deepEqual(cents, [-1333, -834, 500])
    assert.deepEqual(
      summary.gains.map((g) => [g.earner, g.difference]),
      [['cy', '5.00']],
    )
    assert.deepEqual(
      summary.levels.map((l) => [l.level, l.in_force, l.candidate]),
      [
        [1, '26.67', '33.33'],
        [2, '20.00', '6.67'],
        [3, '10.00', '0.00'],
      ],
    )
    assert.equal(summary.sales_changed, 2)
    assert.deepEqual(engine.auditHead(), head)
  })

  it('under the plan in force nobody changes; progress returning false stops', () => {
    const engine = books()
    const plan = {
      id: 'default',
      version: 1,
      levels: ['0.20', '0.15', '0.10', '0.08', '0.05', '0.03', '0.02'].map((rate) => ({ rate })),
    }
    const { summary } = engine.whatIf(plan, FEB, MAR)
    assert.equal(summary.sales, 2)
    assert.equal(summary.sales_changed, 0)
    assert.deepEqual(summary.levels.map((l) => l.difference), ['0.00', '0.00', '0.00'])
    const calls = []
    const { summary: stopped } = engine.whatIf(plan, '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z', {
      every: 1,
      progress: (done, total) => {
        calls.push([done, total])
        return done < 2
      },
    })
    assert.deepEqual(calls, [
      [1, 3],
      [2, 3],
    ])
    assert.equal(stopped.complete, false)
    assert.throws(
      () => engine.whatIf(plan, FEB, MAR, { every: 1, progress: () => { throw new Error('stop') } }),
      /stop/,
    )
  })
})

describe('whatIf over a sales table, and with no engine', () => {
  const upline = require('..')
  const strings = (values) => arrow.vectorFromArray(values, new arrow.Utf8())
  const FLAT = { id: 'flat', version: 1, levels: [{ rate: '0.25' }, { rate: '0.05' }] }
  const DEFAULT = {
    id: 'default',
    version: 1,
    levels: ['0.20', '0.15', '0.10', '0.08', '0.05', '0.03', '0.02'].map((rate) => ({ rate })),
  }
  // ann ← bob ← cy ← dee.
  const MEMBERS = new arrow.Table({
    member: strings(['ann', 'bob', 'cy', 'dee']),
    sponsor: strings([null, 'ann', 'bob', 'cy']),
    at: arrow.vectorFromArray(new Array(4).fill(Date.parse('2026-01-01T00:00:00Z')), UTC_MS),
  })
  // s1 (dee, 100.00) and s2 (cy, 33.33) in February; `extra` rows after.
  function sales(replace = {}, extra = { sale: [], buyer: [], amount: [] }) {
    const columns = {
      sale: strings(['s1', 's2', ...extra.sale]),
      buyer: strings(['dee', 'cy', ...extra.buyer]),
      amount: strings(['100.00', '33.33', ...extra.amount]),
      currency: strings(new Array(2 + extra.sale.length).fill('USD')),
      at: arrow.vectorFromArray(
        [Date.parse('2026-02-01T12:00:00Z'), Date.parse('2026-02-10T12:00:00Z'), ...extra.sale.map(() => Date.parse('2026-02-11T12:00:00Z'))],
        UTC_MS,
      ),
      ...replace,
    }
    return new arrow.Table(columns)
  }
  function joined() {
    const engine = new Engine()
    engine.applyJoins(MEMBERS)
    return engine
  }
  // [earner, in force, candidate, difference] as decimal strings (scale 2).
  function earners(table) {
    const cents = (column, i) => {
      const words = table.getChild(column).toArray().slice(i * 4, i * 4 + 4)
      let value = 0n
      for (let w = 3; w >= 0; w--) value = (value << 32n) | BigInt(words[w])
      if (value >= 1n << 127n) value -= 1n << 128n
      const sign = value < 0n ? '-' : ''
      const abs = value < 0n ? -value : value
      return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`
    }
    return table
      .getChild('earner')
      .toArray()
      .map((earner, i) => [earner, cents('in_force', i), cents('candidate', i), cents('difference', i)])
  }

  it('under the plan in force nobody changes, books unchanged', () => {
    const engine = joined()
    const head = engine.auditHead()
    const { table, summary } = engine.whatIf(DEFAULT, sales())
    assert.ok(table.schema != null, 'a Table for a Table')
    // s1: cy 20.00, bob 15.00, ann 10.00; s2 (33.33): bob 6.666 → 6.67, ann 4.9995 → 5.00.
    assert.deepEqual(earners(table), [
      ['ann', '15.00', '15.00', '0.00'],
      ['bob', '21.67', '21.67', '0.00'],
      ['cy', '20.00', '20.00', '0.00'],
    ])
    assert.equal(summary.sales, 2)
    assert.equal(summary.sales_changed, 0)
    assert.deepEqual(engine.auditHead(), head)
  })

  it('a hand-built candidate gives the cents worked out by hand; a refused row is reported', () => {
    const engine = joined()
    const head = engine.auditHead()
    const bytes = arrow.tableToIPC(sales({}, { sale: ['x'], buyer: ['eve'], amount: ['1.00'] }), 'stream')
    const { table, summary } = engine.whatIf(FLAT, bytes)
    assert.ok(table instanceof Uint8Array, 'bytes for bytes')
    // s1 (100.00): cy 25.00, bob 5.00; s2 (33.33): bob 8.3325 → 8.33, ann 1.6665 → 1.67.
    assert.deepEqual(earners(arrow.tableFromIPC(table)), [
      ['ann', '15.00', '1.67', '-13.33'],
      ['bob', '21.67', '13.33', '-8.34'],
      ['cy', '20.00', '25.00', '5.00'],
    ])
    assert.deepEqual(
      summary.losses.map((l) => [l.earner, l.difference]),
      [['ann', '-13.33'], ['bob', '-8.34']],
    )
    assert.deepEqual(
      summary.levels.map((l) => [l.level, l.in_force, l.candidate]),
      [
        [1, '26.67', '33.33'],
        [2, '20.00', '6.67'],
        [3, '10.00', '0.00'],
      ],
    )
    assert.deepEqual([summary.sales, summary.sales_changed, summary.sales_in_period, summary.sales_refused], [2, 2, 3, 1])
    assert.deepEqual(
      summary.refused.map((r) => [r.row, r.code, r.field]),
      [[2, 'unknown_member', 'buyer']],
    )
    assert.deepEqual(engine.auditHead(), head)
  })

  it('progress counts rows; false stops', () => {
    const calls = []
    const { summary } = joined().whatIf(FLAT, sales(), {
      every: 1,
      progress: (done, total) => {
        calls.push([done, total])
        return false
      },
    })
    assert.deepEqual(calls, [[1, 2]])
    assert.deepEqual([summary.sales, summary.complete], [1, false])
  })

  const bad = {
    float_money: [{ amount: arrow.vectorFromArray([100.0, 1.0], new arrow.Float64()) }, 'invalid_amount', 'amount'],
    naive_timestamp: [{ at: arrow.vectorFromArray([0, 0], new arrow.TimestampMillisecond()) }, 'invalid_time', 'at'],
    misspelt_column: [{ categroy: strings(['books', null]) }, 'malformed', 'categroy'],
    null_buyer: [{ buyer: strings([null, 'cy']) }, 'malformed', 'buyer'],
  }
  for (const [name, [replace, code, field]] of Object.entries(bad)) {
    it(`${name} throws ${code} naming ${field} (sales.${field} with no engine)`, () => {
      const engine = joined()
      const head = engine.auditHead()
      assert.throws(() => engine.whatIf(FLAT, sales(replace)), (err) => err.code === code && err.field === field)
      assert.throws(
        () => upline.whatIf(FLAT, { members: MEMBERS, sales: sales(replace) }),
        (err) => err.code === code && err.field === `sales.${field}`,
      )
      assert.deepEqual(engine.auditHead(), head)
    })
  }

  it('with no engine, the members table is the network', () => {
    const { table, summary } = upline.whatIf(FLAT, { members: MEMBERS, sales: sales() })
    assert.deepEqual(earners(table), [
      ['ann', '15.00', '1.67', '-13.33'],
      ['bob', '21.67', '13.33', '-8.34'],
      ['cy', '20.00', '25.00', '5.00'],
    ])
    assert.equal(summary.sales_changed, 2)
    const same = upline.whatIf(FLAT, {
      members: arrow.tableToIPC(MEMBERS, 'stream'),
      sales: arrow.tableToIPC(sales(), 'stream'),
      current: FLAT,
      table: 'arrow',
    })
    assert.ok(earners(same.table).every(([, , , d]) => d === '0.00'))
    assert.equal(same.summary.sales_changed, 0)
    // A 3% one-level plan in force: cy 3.00 on s1, bob 1.00 on s2 (0.9999).
    const now = upline.Plan.fromJSON('{"id":"now","version":1,"levels":[{"rate":"0.03"}]}')
    assert.deepEqual(earners(upline.whatIf(FLAT, { members: MEMBERS, sales: sales(), current: now }).table), [
      ['ann', '0.00', '1.67', '1.67'],
      ['bob', '1.00', '13.33', '12.33'],
      ['cy', '3.00', '25.00', '22.00'],
    ])
  })

  it('with no engine, bad members throw naming the table and column', () => {
    const naive = new arrow.Table({
      member: strings(['ann']),
      sponsor: strings([null]),
      at: arrow.vectorFromArray([0], new arrow.TimestampMillisecond()),
    })
    assert.throws(
      () => upline.whatIf(FLAT, { members: naive, sales: sales() }),
      (err) => err.code === 'invalid_time' && err.field === 'members.at',
    )
    const orphan = new arrow.Table({
      member: strings(['ann', 'bob']),
      sponsor: strings([null, 'eve']),
      at: strings(['2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z']),
    })
    assert.throws(
      () => upline.whatIf(FLAT, { members: orphan, sales: sales() }),
      (err) => err.code === 'unknown_member' && err.field === 'members.sponsor' && err.message.includes('members row 1: '),
    )
    assert.throws(
      () => upline.whatIf(FLAT, { members: [1, 2], sales: sales() }),
      (err) => err.code === 'malformed' && err.field === 'members',
    )
    assert.throws(
      () => upline.whatIf(FLAT, { members: Buffer.from('nope'), sales: sales() }),
      (err) => err.code === 'malformed' && err.field === 'members',
    )
    const bad = { id: 'bad', version: 1, levels: [{ rate: '0.80' }, { rate: '0.80' }] }
    assert.throws(
      () => upline.whatIf(FLAT, { members: MEMBERS, sales: sales(), current: bad }),
      (err) => err.code === 'invalid_plan',
    )
  })
})
