// The index's money: decimal strings to BigInt millionths and back, exactly.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { toMicros, fromMicros } from '../lib/books.mjs'

test('decimal strings become exact millionths', () => {
  assert.equal(toMicros('12.34'), 12_340_000n)
  assert.equal(toMicros('0.000001'), 1n)
  assert.equal(toMicros('-1.05'), -1_050_000n)
  assert.equal(toMicros('200'), 200_000_000n)
  // 0.1 + 0.2 is 0.3 here, unlike in floating point.
  assert.equal(fromMicros(toMicros('0.1') + toMicros('0.2')), '0.30')
})

test('millionths become strings at the currency scale, truncated toward zero', () => {
  assert.equal(fromMicros(12_340_000n), '12.34')
  assert.equal(fromMicros(-1_050_000n), '-1.05')
  assert.equal(fromMicros(5_000n), '0.00')
  assert.equal(fromMicros(-5_000n), '0.00')
  assert.equal(fromMicros(123_456_789n, 3), '123.456')
  assert.equal(fromMicros(7_000_000n, 0), '7')
})

test('anything but a plain decimal is refused', () => {
  for (const bad of ['1e3', '1.0000001', 'abc', '', '1,5', ' 1']) {
    assert.throws(() => toMicros(bad), /not a decimal/, bad)
  }
})
