'use strict'
// Shared helpers for the node:test suites.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

// The shared vectors live beside the repo: <repo>/../shared/vectors.
const VECTORS_DIR = process.env.UPLINE_VECTORS_DIR || path.resolve(__dirname, '..', '..', '..', 'shared', 'vectors')

// The project's own vectors in the same format (screening, rewards).
const PROJECT_VECTORS_DIR = path.resolve(__dirname, '..', '..', 'core', 'tests', 'vectors')

function filesIn(dir, prefix) {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ file: prefix + f, cases: JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).cases }))
}

function vectorFiles() {
  const shared = filesIn(VECTORS_DIR, '')
  assert.ok(shared.length >= 5, `expected the shared vector files in ${VECTORS_DIR}`)
  return shared.concat(filesIn(PROJECT_VECTORS_DIR, 'upline/'))
}

// Every field `expected` lists must match `actual`; lists in order and in full.
function assertSubset(actual, expected, where = '$') {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: expected a list, got ${JSON.stringify(actual)}`)
    assert.equal(actual.length, expected.length, `${where}: list length (got ${JSON.stringify(actual)})`)
    expected.forEach((e, i) => assertSubset(actual[i], e, `${where}[${i}]`))
  } else if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object' && !Array.isArray(actual), `${where}: expected an object, got ${JSON.stringify(actual)}`)
    for (const key of Object.keys(expected)) {
      assert.ok(key in actual, `${where}.${key} missing in ${JSON.stringify(actual)}`)
      assertSubset(actual[key], expected[key], `${where}.${key}`)
    }
  } else {
    assert.equal(actual, expected, `${where}`)
  }
}

// The engine's state, compared structurally (map key order is not state).
function state(engine) {
  return JSON.parse(engine.snapshot())
}

module.exports = { VECTORS_DIR, vectorFiles, assertSubset, state }
