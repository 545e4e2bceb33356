// Live mode in headless Chromium: with `--live` the server applies new
// joins, sales and refunds (here every second) and pushes them by
// Server-Sent Events; a new sale appears on the page, the audit head moves,
// and the network view gains the new earnings, all without a reload.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { createRequire } from 'node:module'
import { out, writeDemoBooks, startServer, launch, shot } from './helpers.mjs'

const require = createRequire(import.meta.url)
const { Engine } = require('../../../bindings-node')
const file = path.join(out, 'live.sqlite')
let server
let browser

before(async () => {
  writeDemoBooks(file, { members: 800, sales: 1500 })
  server = await startServer(['--books', file, '--live', '--tick', '1000'])
  browser = await launch()
})
after(async () => {
  if (browser) await browser.close()
  if (server) await server.stop()
})

test('a new sale appears on the page without a reload', async () => {
  const page = await browser.newPage()
  await page.goto(server.url)
  await page.waitForSelector('body[data-overview=ready]')
  await page.waitForSelector('[data-testid=live-badge]:not([hidden])')
  const firstSeq = Number(await page.locator('[data-testid=head-seq]').innerText())
  let navigations = 0
  page.on('framenavigated', () => navigations++)
  // A live sale (ids `sl…`) arrives in the feed.
  const first = page.locator('[data-testid=feed] li[data-kind=sale][data-id^=sl]').first()
  await first.waitFor({ timeout: 15_000 })
  // A handle on that one item (newer items keep arriving above it).
  const item = await first.elementHandle()
  const saleId = await item.getAttribute('data-id')
  assert.match(await item.innerText(), new RegExp(`sale ${saleId}: \\S+ bought \\d+\\.\\d\\d USD`))
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=head-seq]').innerText) > n, firstSeq)
  assert.equal(navigations, 0)
  // The sale is in the books the server writes: its distribution is recorded.
  const r = await (await fetch(`${server.url}api/summary`)).json()
  assert.ok(r.head.seq > firstSeq)
  assert.ok(r.recent.some((i) => i.kind === 'sale' && i.sale.startsWith('sl')))
  await page.waitForTimeout(1200)
  await shot(page, 'live-overview')
  await page.close()
})

test('the network view takes live earnings without a reload', async () => {
  const page = await browser.newPage()
  await page.goto(`${server.url}#network/u000000`)
  await page.waitForSelector('body[data-network=ready]')
  const before = await page.evaluate(() => window.dashboard.earned('u000000'))
  // The root of this one-root network earns from most sales in its first seven levels; wait for a change.
  await page.waitForFunction((b) => window.dashboard.earned('u000000') !== b, before, { timeout: 20_000 })
  // The page adds the pushed lines to what it first loaded; that sum meets the
  // engine's own lifetime figure (read between two ticks) to the cent.
  let met = false
  // Read both at once, between ticks (a tick every second here).
  for (let i = 0; i < 100 && !met; i++) {
    const [served, shown] = await Promise.all([
      fetch(`${server.url}api/network/u000000?depth=0`).then((r) => r.json()),
      page.evaluate(() => window.dashboard.earned('u000000')),
    ])
    met = shown === served.nodes[0].earned
    if (!met) await page.waitForTimeout(100)
  }
  assert.ok(met, 'the page never showed the engine\'s lifetime earnings of u000000')
  await shot(page, 'live-network')
  await page.close()
})

test('the books the live server wrote verify', async () => {
  const r = await (await fetch(`${server.url}api/audit/verify`, { method: 'POST' })).json()
  assert.equal(r.ok, true)
  // And a second engine on the same file replays to a head at least as far.
  const engine = new Engine({ path: file })
  assert.ok(engine.auditHead().seq >= r.head.seq)
})
