// The dashboard in headless Chromium (Debian's, through playwright-core):
// the numbers on the page equal the engine's answers for the same books,
// clicking a member in the network expands its downline to the right
// children, verify succeeds on the books and names the edited event on a
// tampered copy, and a bad member id shows the error while the page keeps
// working. Screenshots go to target/dashboard-test/.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { out, writeDemoBooks, startServer, launch, shot } from './helpers.mjs'

const require = createRequire(import.meta.url)
const { Engine } = require('../../../bindings-node')
const file = path.join(out, 'browser.sqlite')
let server
let browser
let engine
let page

before(async () => {
  writeDemoBooks(file)
  engine = new Engine({ path: file })
  server = await startServer(['--books', file])
  browser = await launch()
  page = await browser.newPage()
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`))
})
after(async () => {
  if (browser) await browser.close()
  if (server) await server.stop()
})

const text = (testid) => page.locator(`[data-testid=${testid}]`).innerText()
const plain = (s) => s.replaceAll(',', '').trim()

async function clock() {
  return (await (await fetch(`${server.url}api/summary`)).json()).clock
}

test('overview: top earner and audit head equal the engine', async () => {
  await page.goto(server.url)
  await page.waitForSelector('body[data-overview=ready]')
  const to = new Date(Date.parse(await clock()) + 1).toISOString()
  const top = engine.leaderboard('net_earnings', new Date(0).toISOString(), to, 1, 'USD').entries[0]
  assert.equal(await text('top-earner'), top.member)
  assert.equal(plain(await text('top-earner-value')), `${top.value} USD net`)
  assert.equal(Number(await text('head-seq')), engine.auditHead().seq)
  assert.equal(Number(plain(await text('members'))), engine.networkMetrics().members)
  await shot(page, 'overview')
})

test('leaderboard order equals the engine, for every metric', async () => {
  await page.goto(`${server.url}#leaderboards`)
  const c = await clock()
  const to = new Date(Date.parse(c) + 1).toISOString()
  for (const metric of ['net_earnings', 'qualified_referrals', 'sales_volume']) {
    await page.selectOption('[data-testid=lb-metric]', metric)
    const money = metric !== 'qualified_referrals'
    const expected = engine.leaderboard(metric, new Date(0).toISOString(), to, 20, money ? 'USD' : null).entries
    // Wait for this metric's table: the previous one may start with the
    // same member, so wait on the metric the table says it shows.
    await page.waitForSelector(`[data-testid=leaderboard][data-metric=${metric}][data-period=all]`)
    const rows = await page.$$eval('[data-testid=leaderboard] tbody tr', (trs) => trs.map((tr) => [tr.dataset.member, tr.children[2].innerText]))
    assert.deepEqual(rows.map((r) => r[0]), expected.map((e) => e.member), metric)
    assert.deepEqual(rows.map((r) => r[1].replaceAll(',', '')), expected.map((e) => e.value), metric)
  }
  // A month: February's net earnings.
  await page.selectOption('[data-testid=lb-metric]', 'net_earnings')
  await page.selectOption('[data-testid=lb-period]', '2026-02')
  const feb = engine.leaderboard('net_earnings', '2026-02-01T00:00:00Z', '2026-03-01T00:00:00Z', 20, 'USD').entries
  await page.waitForSelector('[data-testid=leaderboard][data-metric=net_earnings][data-period="2026-02"]')
  const rows = await page.$$eval('[data-testid=leaderboard] tbody tr', (trs) => trs.map((tr) => tr.dataset.member))
  assert.deepEqual(rows, feb.map((e) => e.member))
  await shot(page, 'leaderboards')
})

test("a member's balances equal the engine's", async () => {
  const member = engine.leaderboard('net_earnings', '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z', 3, 'USD').entries[2].member
  await page.goto(`${server.url}#member/${member}`)
  await page.waitForFunction((m) => document.querySelector('[data-testid=member-id]').innerText === m, member)
  const b = engine.balances(member, 'USD', await clock())
  for (const k of ['pending', 'available', 'held', 'reserved', 'paid']) {
    assert.equal(plain(await text(`bal-${k}`)), b[k], k)
  }
  assert.equal(plain(await text('member-lifetime')), engine.memberMetrics(member).earnings[0].lifetime)
  await shot(page, 'member')
})

// Where a node is once the view stops moving (the camera animates after a
// change of depth, and a click on a moving node can miss it).
async function settledPosition(member) {
  let previous = null
  for (let i = 0; i < 40; i++) {
    const at = await page.evaluate((c) => window.dashboard.nodePosition(c), member)
    if (previous && Math.abs(at.x - previous.x) < 0.5 && Math.abs(at.y - previous.y) < 0.5) return at
    previous = at
    await page.waitForTimeout(250)
  }
  return previous
}

test('clicking a member expands its downline to the right children, and again collapses it', async () => {
  await page.goto(`${server.url}#network/u000000`)
  await page.waitForSelector('body[data-network=ready]')
  const roots = engine.directReferrals('u000000')
  await page.selectOption('[data-testid=network-depth]', '1')
  await page.waitForFunction((n) => window.dashboard.shown().length === n, 1 + roots.length)
  assert.deepEqual(await page.evaluate(() => window.dashboard.childrenOf('u000000')), roots)
  // The child with the most direct referrals of its own.
  const child = roots.reduce((a, b) => (engine.directReferrals(b).length > engine.directReferrals(a).length ? b : a))
  const expected = engine.directReferrals(child)
  assert.ok(expected.length > 0)
  assert.deepEqual(await page.evaluate((c) => window.dashboard.childrenOf(c), child), [])
  const at = await settledPosition(child)
  await page.mouse.click(at.x, at.y)
  await page.waitForFunction((c) => window.dashboard.childrenOf(c).length > 0, child)
  assert.deepEqual(await page.evaluate((c) => window.dashboard.childrenOf(c), child), expected)
  // The side panel lists them too.
  const listed = await page.$$eval('[data-testid=children] li', (lis) => lis.map((li) => li.dataset.id))
  assert.deepEqual(listed, expected)
  await shot(page, 'network-expanded')
  const again = await settledPosition(child)
  await page.mouse.click(again.x, again.y)
  await page.waitForFunction((c) => window.dashboard.childrenOf(c).length === 0, child)
  assert.equal(await page.evaluate(() => window.dashboard.shown().length), 1 + roots.length)
})

test('verify shows success on the books', async () => {
  await page.goto(`${server.url}#audit`)
  await page.waitForFunction(() => document.querySelector('[data-testid=audit-seq]').innerText !== '–')
  assert.equal(Number(await text('audit-seq')), engine.auditHead().seq)
  assert.equal(await text('audit-hash'), engine.auditHead().hash)
  await page.click('[data-testid=verify]')
  await page.waitForSelector('[data-testid=verify-result][data-state]')
  assert.equal(await page.getAttribute('[data-testid=verify-result]', 'data-state'), 'ok')
  assert.match(await text('verify-result'), new RegExp(`verified: all ${engine.auditHead().seq} events`))
  await shot(page, 'verify-ok')
})

test('a bad member id shows the error, and the page keeps working', async () => {
  await page.goto(`${server.url}#member`)
  await page.waitForFunction(() => document.querySelector('[data-testid=member-id]').innerText !== '–')
  await page.fill('[data-testid=lookup-id]', 'no-such-member')
  await page.click('[data-testid=lookup-go]')
  await page.waitForSelector('[data-testid=error]:not([hidden])')
  assert.match(await text('error'), /404 unknown_member: member "no-such-member" is not a member/)
  await shot(page, 'bad-member')
  await page.fill('[data-testid=lookup-id]', 'u000002')
  await page.click('[data-testid=lookup-go]')
  await page.waitForFunction(() => document.querySelector('[data-testid=member-id]').innerText === 'u000002')
  assert.equal(await page.isHidden('[data-testid=error]'), true)
  assert.equal(plain(await text('bal-paid')), engine.balances('u000002', 'USD', await clock()).paid)
  // Other sections still answer.
  await page.click('nav a[data-section=payouts]')
  await page.waitForSelector('[data-testid=payout-counts]')
  await shot(page, 'payouts')
  await page.click('nav a[data-section=screening]')
  await page.waitForFunction(() => document.querySelector('[data-testid=review-counts]').innerText.includes('waiting'))
  await shot(page, 'screening')
  await page.click('nav a[data-section=growth]')
  await page.waitForFunction(() => document.querySelector('[data-testid=viral-overall]').innerText.includes('K ='))
  await page.waitForTimeout(300)
  await shot(page, 'growth')
})

test('verify names the edited event on a tampered copy', async () => {
  // The stored event of one sale, found in the engine's own log.
  let target = null
  for (let from = 1; !target; from += 1000) {
    const page_ = JSON.parse(engine.storedEventsJson(from, 1000))
    assert.ok(page_.length > 0, 'no sale found')
    target = page_.find((s) => s.event.type === 'sale_recorded' && s.event.sale === 's0000100')
  }
  const copy = path.join(out, 'tampered.sqlite')
  for (const s of ['', '-wal', '-shm']) fs.rmSync(copy + s, { force: true })
  fs.copyFileSync(file, copy)
  // Flip one byte: the first digit of the sale's amount, in the file itself.
  const bytes = fs.readFileSync(copy)
  const needle = Buffer.from(`"sale":"s0000100","buyer":"${target.event.buyer}","amount":"`)
  const at = bytes.indexOf(needle)
  assert.ok(at > 0 && bytes.indexOf(needle, at + 1) === -1, 'the event text appears once in the file')
  const digit = at + needle.length
  bytes[digit] = bytes[digit] === 0x39 ? 0x38 : bytes[digit] + 1
  fs.writeFileSync(copy, bytes)
  const tampered = await startServer(['--books', copy])
  try {
    await page.goto(`${tampered.url}#audit`)
    await page.click('[data-testid=verify]')
    await page.waitForSelector('[data-testid=verify-result][data-state]')
    assert.equal(await page.getAttribute('[data-testid=verify-result]', 'data-state'), 'tampered')
    assert.equal(Number(await page.getAttribute('[data-testid=verify-result]', 'data-seq')), target.seq)
    assert.match(await text('verify-result'), new RegExp(`stored event ${target.seq} does not match`))
    await shot(page, 'verify-tampered')
  } finally {
    await tampered.stop()
  }
})
