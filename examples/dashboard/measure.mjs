// Browser measurements of the dashboard (benches/README.md, "Dashboard"):
// time to first render of the overview, time until the network view is
// interactive, and the frame rate while dragging a 2,000-node view, in
// Debian's headless Chromium through playwright-core.
//
//   node measure.mjs [BOOKS] [MEMBERS] [SALES]
//
// BOOKS defaults to target/dashboard-bench/books-100k.sqlite, written first
// (100,000 members, 200,000 sales) when missing.
import fs from 'node:fs'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { startServer, launch, root } from './test/helpers.mjs'

const [books = path.resolve(root, '../../target/dashboard-bench/books-100k.sqlite'), members = '100000', sales = '200000'] = process.argv.slice(2)
if (!fs.existsSync(books)) {
  execFileSync(process.execPath, [path.join(root, 'lib/write-books.mjs'), books, members, sales], { stdio: 'inherit' })
}
const t0 = Date.now()
const server = await startServer(['--books', books])
console.log(`server ready in ${Date.now() - t0} ms: ${server.output().trim().split('\n').join(' | ')}`)
const browser = await launch()
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
try {
  const runs = { fcp: [], overview: [], network: [], nodes: 0 }
  for (let i = 0; i < 3; i++) {
    const page = await browser.newPage()
    await page.goto(server.url)
    await page.waitForSelector('body[data-overview=ready]')
    const t = await page.evaluate(() => ({
      fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,
      overview: performance.getEntriesByName('overview-rendered')[0]?.startTime,
    }))
    runs.fcp.push(t.fcp)
    runs.overview.push(t.overview)
    await page.close()
    const net = await browser.newPage()
    await net.goto(`${server.url}?depth=64&max=2000#network/u000000`)
    await net.waitForSelector('body[data-network=ready]', { timeout: 60_000 })
    runs.network.push(await net.evaluate(() => performance.getEntriesByName('network-interactive')[0]?.startTime))
    runs.nodes = await net.evaluate(() => window.dashboard.shown().length)
    await net.close()
  }
  console.log(`first contentful paint: ${runs.fcp.map(Math.round).join(', ')} ms (median ${Math.round(median(runs.fcp))})`)
  console.log(`overview rendered with data: ${runs.overview.map(Math.round).join(', ')} ms (median ${Math.round(median(runs.overview))})`)
  console.log(`network view interactive (${runs.nodes} nodes): ${runs.network.map(Math.round).join(', ')} ms (median ${Math.round(median(runs.network))})`)

  // Frame rate while dragging the 2,000-node view for about three seconds.
  const page = await browser.newPage()
  await page.goto(`${server.url}?depth=64&max=2000#network/u000000`)
  await page.waitForSelector('body[data-network=ready]', { timeout: 60_000 })
  // The drag runs inside the page: a mouse-move every animation frame for
  // three seconds (no round trip to the test per move), sigma panning the
  // camera as it would under a hand.
  const result = await page.evaluate(async () => {
    const target = document.querySelector('#graph .sigma-mouse') ?? document.querySelector('#graph canvas:last-of-type')
    const r = target.getBoundingClientRect()
    const cx = r.left + r.width / 2
    const cy = r.top + r.height / 2
    const fire = (type, x, y, on = target) =>
      on.dispatchEvent(new MouseEvent(type, { clientX: x, clientY: y, bubbles: true, cancelable: true, buttons: type === 'mouseup' ? 0 : 1 }))
    const camera = window.dashboard.camera()
    const before = { ...camera }
    fire('mousedown', cx, cy)
    const frames = []
    await new Promise((done) => {
      const t0 = performance.now()
      const step = (t) => {
        frames.push(t)
        const k = frames.length
        fire('mousemove', cx + 200 * Math.sin(k / 20), cy + 150 * Math.cos(k / 27))
        if (t - t0 < 3000) requestAnimationFrame(step)
        else done()
      }
      requestAnimationFrame(step)
    })
    fire('mouseup', cx, cy)
    return { frames, moved: JSON.stringify(before) !== JSON.stringify(window.dashboard.camera()) }
  })
  const frames = result.frames
  const span = (frames[frames.length - 1] - frames[0]) / 1000
  const gaps = frames.slice(1).map((t, i) => t - frames[i])
  console.log(`dragging ${runs.nodes} nodes (camera moved: ${result.moved}): ${frames.length} frames in ${span.toFixed(2)} s = ${(frames.length / span).toFixed(1)} fps; longest frame ${Math.round(Math.max(...gaps))} ms, median ${median(gaps).toFixed(1)} ms, 95th percentile ${[...gaps].sort((a, b) => a - b)[Math.floor(gaps.length * 0.95)].toFixed(1)} ms`)
  await page.close()
} finally {
  await browser.close()
  await server.stop()
}
