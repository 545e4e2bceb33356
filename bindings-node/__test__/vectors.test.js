'use strict'
// Every case of every shared vector file, through apply, applyBatch and
// applyBatchAsync.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { Engine } = require('..')
const { vectorFiles, assertSubset, state } = require('./helpers')

function checkBalances(engine, step) {
  const { member, currency, as_of } = step.balances
  assertSubset(engine.balances(member, currency, as_of), step.expect, 'balances')
}

// One event at a time through apply; a refused event leaves the snapshot as it was.
function runWithApply(c) {
  const engine = new Engine()
  c.steps.forEach((step, i) => {
    const where = `step ${i}`
    if ('balances' in step) return checkBalances(engine, step)
    if ('error' in step) {
      const before = state(engine)
      const head = engine.auditHead()
      assert.throws(
        () => engine.apply(step.apply),
        (err) => {
          assert.ok(err instanceof Error, `${where}: an Error`)
          assert.equal(err.code, step.error, `${where}: code (${err.message})`)
          assert.equal(typeof err.message, 'string')
          return true
        },
      )
      assert.deepEqual(state(engine), before, `${where}: engine unchanged`)
      assert.deepEqual(engine.auditHead(), head, `${where}: audit head unchanged`)
    } else {
      assertSubset(engine.apply(step.apply), step.expect, where)
    }
  })
  return engine
}

// Consecutive apply steps go in one batch; each slot is checked. A twin
// engine applies only the accepted events one by one: equal snapshots prove
// the refused ones changed nothing.
async function runWithBatch(c, asyncMode) {
  const engine = new Engine()
  const twin = new Engine()
  let group = []
  const flush = async () => {
    if (group.length === 0) return
    const events = group.map((g) => g.step.apply)
    const results = asyncMode ? await engine.applyBatchAsync(events) : engine.applyBatch(events)
    assert.equal(results.length, group.length)
    group.forEach(({ step, i }, k) => {
      const where = `step ${i}`
      const slot = results[k]
      if ('error' in step) {
        assert.ok(slot.error, `${where}: expected error ${step.error}, got ${JSON.stringify(slot).slice(0, 200)}`)
        assert.equal(slot.error.code, step.error, `${where}: code (${slot.error.message})`)
        assert.equal(typeof slot.error.message, 'string')
      } else {
        assert.ok(!slot.error, `${where}: unexpected error ${JSON.stringify(slot.error)}`)
        assertSubset(slot, step.expect, where)
        twin.apply(step.apply)
      }
    })
    assert.deepEqual(state(engine), state(twin), 'refused events changed nothing')
    assert.deepEqual(engine.auditHead(), twin.auditHead())
    group = []
  }
  for (const [i, step] of c.steps.entries()) {
    if ('balances' in step) {
      await flush()
      checkBalances(engine, step)
    } else {
      group.push({ step, i })
    }
  }
  await flush()
  return engine
}

for (const { file, cases } of vectorFiles()) {
  describe(`vectors/${file}`, () => {
    for (const c of cases) {
      describe(c.name, () => {
        let viaApply
        it('apply', () => {
          viaApply = runWithApply(c)
        })
        it('applyBatch', async () => {
          const engine = await runWithBatch(c, false)
          if (viaApply) assert.deepEqual(engine.auditHead(), viaApply.auditHead(), 'same audit head as apply')
        })
        it('applyBatchAsync', async () => {
          const engine = await runWithBatch(c, true)
          if (viaApply) assert.deepEqual(engine.auditHead(), viaApply.auditHead(), 'same audit head as apply')
        })
      })
    }
  })
}

describe('vector files', () => {
  it('every file in the shared folder is run, found by listing it', () => {
    const run = vectorFiles().map((v) => v.file)
    const dir = process.env.UPLINE_VECTORS_DIR || require('node:path').resolve(__dirname, '..', '..', '..', 'shared', 'vectors')
    const listed = require('node:fs')
      .readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
    for (const file of listed) assert.ok(run.includes(file), `${file} is run`)
    assert.ok(run.includes('limits_and_time.json'))
  })
})
