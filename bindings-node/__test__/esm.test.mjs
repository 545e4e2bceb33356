// The CJS package imported from ESM by its name, and required by its name.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { Engine, Plan, whatIf } from 'upline'

test('import { Engine } from "upline" works', () => {
  const engine = new Engine()
  assert.deepEqual(engine.auditHead(), { seq: 0, hash: '0'.repeat(64) })
  assert.equal(Plan.fromJSON('{"id":"p","version":1,"levels":[{"rate":"0.1"}]}').id, 'p')
})

test('require("upline") gives the same classes', () => {
  const require = createRequire(import.meta.url)
  assert.equal(require('upline').Engine, Engine)
  assert.equal(require('upline').whatIf, whatIf)
  assert.equal(typeof whatIf, 'function')
})
