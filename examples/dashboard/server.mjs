// The dashboard's server: fastify on 127.0.0.1, JSON endpoints over the
// Node package's `Engine` (embedded SQLite), the page and its libraries as
// static files (from `public/` and this package's own node_modules: no CDN),
// and Server-Sent Events for live mode.
//
//   node server.mjs [--books FILE] [--port N] [--host H] [--live]
//                   [--members N] [--sales N] [--tick MS]
//
// `--books` names SQLite books (the Rust demo's `target/upline-demo.sqlite`
// opens as it is); a missing or empty file gets the demo books first.
// Bad requests get 400, unknown members 404, each as
// `{ "error": { "code", "message", "field" } }` with the engine's code.

import path from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import fastifyStatic from '@fastify/static'
import { Books, toMicros, fromMicros } from './lib/books.mjs'
import { LiveGenerator } from './lib/gen.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))

/** Reads `--name value` and `--flag` arguments, with environment fallbacks. */
export function parseArgs(argv, env = process.env) {
  const opts = {
    books: env.UPLINE_BOOKS
      ? path.resolve(env.INIT_CWD ?? process.cwd(), env.UPLINE_BOOKS)
      : path.resolve(here, '../../target/dashboard/books.sqlite'),
    port: Number(env.PORT ?? 8787),
    host: env.HOST ?? '127.0.0.1',
    live: env.UPLINE_LIVE === '1',
    members: 2000,
    sales: 4000,
    tick: 300,
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = () => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${arg} needs a value`)
      return v
    }
    switch (arg) {
      // Relative to where the command was typed (npm runs scripts in this folder and says where in INIT_CWD).
      case '--books': opts.books = path.resolve(env.INIT_CWD ?? process.cwd(), value()); break
      case '--port': opts.port = Number(value()); break
      case '--host': opts.host = value(); break
      case '--live': opts.live = true; break
      case '--members': opts.members = Number(value()); break
      case '--sales': opts.sales = Number(value()); break
      case '--tick': opts.tick = Number(value()); break
      default: throw new Error(`unknown argument ${arg}`)
    }
  }
  for (const k of ['port', 'members', 'sales', 'tick']) {
    if (!Number.isInteger(opts[k]) || opts[k] < 0) throw new Error(`--${k} must be a whole number`)
  }
  return opts
}

/** An HTTP error carrying an engine-style code. */
class HttpError extends Error {
  constructor(status, code, message, field) {
    super(message)
    this.statusCode = status
    this.code = code
    this.field = field
  }
}

/** The HTTP status for an engine error code. */
function statusOf(code) {
  if (typeof code !== 'string') return 500
  if (code.startsWith('unknown_')) return 404
  if (code === 'internal' || code === 'storage') return 500
  if (code === 'tampered') return 409
  return 400
}

/** Runs an engine call, turning its errors into HTTP errors. */
function call(f) {
  try {
    return f()
  } catch (e) {
    if (e instanceof HttpError) throw e
    throw new HttpError(statusOf(e.code), e.code ?? 'internal', e.message, e.field)
  }
}

/** A member id as the engine accepts them: 1–128 bytes of UTF-8, no control characters. */
function checkId(id, field = 'member') {
  const bytes = Buffer.byteLength(id, 'utf8')
  // eslint-disable-next-line no-control-regex
  if (bytes < 1 || bytes > 128 || /[\u0000-\u001f\u007f-\u009f]/.test(id)) {
    throw new HttpError(400, 'invalid_id', `${field} must be 1 to 128 bytes of UTF-8 without control characters`, field)
  }
  return id
}

const METRICS = ['net_earnings', 'sales_volume', 'qualified_referrals', 'downline_growth']
const PERIODS = { all: null, '30d': 30, '7d': 7 }
const DAY = 86_400_000

function intParam(q, name, { min, max, dflt }) {
  if (q[name] === undefined || q[name] === '') return dflt
  const v = Number(q[name])
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new HttpError(400, 'malformed', `${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(q[name])}`, name)
  }
  return v
}

/** Builds the fastify app over `books` (not listening yet). */
export function buildApp(books, { live = false } = {}) {
  // Ids may be up to 128 bytes, percent-encoded up to three times as long.
  const app = Fastify({ logger: false, routerOptions: { maxParamLength: 1024 } })
  const { engine, index } = books
  const clients = new Set()

  app.setErrorHandler((err, _req, reply) => {
    let status = err.statusCode ?? 500
    let code = err.code ?? 'internal'
    if (err.validation || code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || (status === 400 && !(err instanceof HttpError))) {
      status = 400
      code = 'malformed'
    }
    if (status >= 500 && !(err instanceof HttpError)) code = 'internal'
    reply.code(status).send({ error: { code, message: err.message, field: err.field ?? null } })
  })
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: { code: 'not_found', message: `no such page or endpoint: ${req.method} ${req.url}`, field: null } })
  })

  app.register(fastifyStatic, { root: path.join(here, 'public'), prefix: '/' })
  const vendor = {
    'sigma.min.js': 'node_modules/sigma/dist/sigma.min.js',
    'graphology.umd.min.js': 'node_modules/graphology/dist/graphology.umd.min.js',
    'echarts.min.js': 'node_modules/echarts/dist/echarts.min.js',
  }
  app.get('/vendor/:file', (req, reply) => {
    const file = vendor[req.params.file]
    if (!file) throw new HttpError(404, 'not_found', `no vendored file ${req.params.file}`)
    return reply.sendFile(file, here, { maxAge: 3600_000 })
  })

  const clock = () => books.clock()
  // A period: `all`, the last `7d` / `30d` before the clock, or a calendar month `YYYY-MM`.
  const window = (period) => {
    const month = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(period)
    if (month) {
      const y = Number(month[1])
      const m = Number(month[2])
      return { from: new Date(Date.UTC(y, m - 1, 1)).toISOString(), to: new Date(Date.UTC(y, m, 1)).toISOString() }
    }
    if (!(period in PERIODS)) throw new HttpError(400, 'malformed', `period must be all, 7d, 30d or a month YYYY-MM, not ${JSON.stringify(period)}`, 'period')
    const to = index.clockMs + 1
    const days = PERIODS[period]
    return { from: new Date(days === null ? 0 : to - days * DAY).toISOString(), to: new Date(to).toISOString() }
  }
  const topEarner = () => {
    const w = window('all')
    return engine.leaderboard('net_earnings', w.from, w.to, 1, 'USD').entries[0] ?? null
  }

  app.get('/api/summary', () => {
    const net = call(() => engine.networkMetrics())
    const days = index.series()
    const sum = (f) => fromMicros(days.reduce((s, d) => s + toMicros(d[f]), 0n))
    return {
      clock: clock(),
      source: books.source,
      live,
      members: net.members,
      network: net,
      sales: index.sales,
      refunds: index.refunds,
      volume: sum('volume'),
      commissions: sum('commissions'),
      reversals: sum('reversals'),
      bonuses: sum('bonuses'),
      head: engine.auditHead(),
      topEarner: topEarner(),
      recent: index.recent.slice(-20).reverse(),
    }
  })

  app.get('/api/series', () => ({ clock: clock(), days: index.series() }))

  app.get('/api/member/:id', (req) => {
    const id = checkId(req.params.id)
    const metrics = call(() => engine.memberMetrics(id))
    const at = clock()
    const balances = call(() => engine.balances(id, 'USD', at))
    // Net earnings per day from the member's join to the clock (the engine's own period sums).
    const start = Date.parse(metrics.joined_at.slice(0, 10) + 'T00:00:00Z')
    const days = []
    for (let t = start; t <= index.clockMs; t += DAY) {
      const m = engine.memberMetrics(id, new Date(t).toISOString(), new Date(t + DAY).toISOString())
      days.push({ day: new Date(t).toISOString().slice(0, 10), earned: m.earnings.find((e) => e.currency === 'USD')?.period ?? '0.00' })
    }
    return {
      member: id,
      asOf: at,
      metrics,
      balances,
      hold: index.holds.get(id) ?? null,
      upline: call(() => engine.upline(id, 7)),
      awards: call(() => engine.awards(id)),
      days,
    }
  })

  app.get('/api/network/:id', (req) => {
    const id = checkId(req.params.id)
    const depth = intParam(req.query, 'depth', { min: 0, max: 64, dflt: 2 })
    const maxNodes = intParam(req.query, 'maxNodes', { min: 1, max: 20000, dflt: 2000 })
    // The head the figures are as of: a page applying pushed events skips those it already has.
    const seq = engine.auditHead().seq
    const sub = call(() => engine.exportSubtreeJson(id, depth, maxNodes))
    const nodes = []
    const walk = (n, parent, level) => {
      const kids = n.referrals ?? []
      nodes.push({
        id: n.member,
        parent,
        level,
        status: n.status,
        hold: index.holds.has(n.member),
        earned: n.earnings?.USD ?? '0.00',
        directs: engine.directReferrals(n.member).length,
        shown: kids.length,
      })
      for (const k of kids) walk(k, n.member, level + 1)
    }
    walk(sub.tree, null, 0)
    return { root: id, seq, depth, truncated: sub.truncated, upline: call(() => engine.upline(id, 3)), nodes }
  })

  app.get('/api/leaderboard', (req) => {
    const metric = req.query.metric ?? 'net_earnings'
    if (!METRICS.includes(metric)) throw new HttpError(400, 'malformed', `metric must be one of ${METRICS.join(', ')}, not ${JSON.stringify(metric)}`, 'metric')
    const w = window(req.query.period ?? 'all')
    const limit = intParam(req.query, 'limit', { min: 1, max: 1000, dflt: 20 })
    const money = metric === 'net_earnings' || metric === 'sales_volume'
    return call(() => engine.leaderboard(metric, w.from, w.to, limit, money ? 'USD' : null))
  })

  app.get('/api/awards', () => ({
    counts: Object.fromEntries(index.awardCount),
    recent: index.awards.slice(-50).reverse(),
  }))

  app.get('/api/viral', (req) => {
    const windowDays = intParam(req.query, 'windowDays', { min: 1, max: 3650, dflt: 30 })
    const cohortDays = intParam(req.query, 'cohortDays', { min: 1, max: 3650, dflt: 7 })
    const report = call(() => engine.viralCoefficient(windowDays, cohortDays))
    let total = 0
    const joins = index.series().filter((d) => d.joins > 0)
    const measured = joins.map((d) => ({ day: d.day, total: (total += d.joins) }))
    // The projection starts from the first day's joins and runs over the span the joins cover.
    const span = joins.length ? (Date.parse(joins[joins.length - 1].day) - Date.parse(joins[0].day)) / DAY + 1 : 1
    const fit = Math.ceil(span / Math.max(report.cycle_time_days, 0.1))
    const cycles = intParam(req.query, 'cycles', { min: 1, max: 100, dflt: Math.min(100, Math.max(1, fit)) })
    const projection = call(() => engine.projection(cycles, windowDays, Math.max(1, joins[0]?.joins ?? 1)))
    return { report, projection, measured }
  })

  app.get('/api/payouts', (req) => {
    const state = req.query.state ?? 'all'
    if (!['all', 'reserved', 'settled', 'failed'].includes(state)) throw new HttpError(400, 'malformed', `state must be all, reserved, settled or failed, not ${JSON.stringify(state)}`, 'state')
    const limit = intParam(req.query, 'limit', { min: 1, max: 5000, dflt: 100 })
    return {
      batches: index.batches.map((b) => {
        const counts = { reserved: 0, settled: 0, failed: 0 }
        let net = 0n // USD items only: the page shows one figure
        const items = []
        for (const it of b.items) {
          const s = index.payoutState.get(it.payout) ?? { state: 'reserved' }
          counts[s.state]++
          if (it.currency === 'USD') net += toMicros(it.net)
          if ((state === 'all' || s.state === state) && items.length < limit) items.push({ ...it, ...s })
        }
        const skipped = {}
        for (const sk of b.skipped) skipped[sk.reason] = (skipped[sk.reason] ?? 0) + 1
        return { batch: b.batch, as_of: b.as_of, count: b.items.length, net: fromMicros(net), counts, skipped, items }
      }),
    }
  })

  app.get('/api/screening', () => {
    const reviews = [...index.reviews.values()]
    const count = (s) => reviews.filter((r) => r.state === s).length
    return {
      holds: [...index.holds.values()],
      reviews: { waiting: count('waiting'), released: count('released'), reversed: count('reversed'), flagged: index.flagged },
      waiting: reviews.filter((r) => r.state === 'waiting').slice(0, 200),
    }
  })

  app.get('/api/audit', () => ({ head: engine.auditHead() }))

  app.post('/api/audit/verify', async () => {
    const started = Date.now()
    try {
      const head = await engine.verifyAsync()
      return { ok: true, head, ms: Date.now() - started }
    } catch (e) {
      if (e.code !== 'tampered') throw new HttpError(statusOf(e.code), e.code ?? 'internal', e.message)
      const m = /stored event (\d+)/.exec(e.message)
      return { ok: false, code: e.code, seq: m ? Number(m[1]) : null, message: e.message, ms: Date.now() - started }
    }
  })

  app.get('/api/events', (req, reply) => {
    reply.hijack()
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
    reply.raw.write(`event: hello\ndata: ${JSON.stringify({ live, head: engine.auditHead() })}\n\n`)
    clients.add(reply.raw)
    req.raw.on('close', () => clients.delete(reply.raw))
  })

  /** Sends applied live items to every connected page. */
  app.decorate('broadcast', (items) => {
    const data = `event: applied\ndata: ${JSON.stringify({ items, head: engine.auditHead(), clock: clock() })}\n\n`
    for (const c of clients) c.write(data)
  })
  // Before the server closes: open event streams would keep it waiting.
  app.addHook('preClose', async () => {
    for (const c of clients) c.end()
  })
  return app
}

/** Starts the live generator: applies a few events every `tick` ms and broadcasts them. */
export function startLive(app, books, tick) {
  const gen = new LiveGenerator({ members: books.index.members, clockMs: books.index.clockMs })
  const timer = setInterval(() => {
    try {
      const items = books.applyLive(gen.tick())
      if (items.length) app.broadcast(items)
    } catch (e) {
      console.error(`live: ${e.message}`)
    }
  }, tick)
  app.addHook('onClose', async () => clearInterval(timer))
  return timer
}

async function main() {
  let opts
  try {
    opts = parseArgs(process.argv.slice(2))
  } catch (e) {
    console.error(`dashboard: ${e.message}`)
    process.exit(2)
  }
  const books = Books.open(opts.books, { members: opts.members, sales: opts.sales, log: (m) => console.log(m) })
  const app = buildApp(books, { live: opts.live })
  if (opts.live) startLive(app, books, opts.tick)
  await app.listen({ port: opts.port, host: opts.host })
  const { port } = app.server.address()
  console.log(`Upline dashboard on http://${opts.host}:${port}/${opts.live ? ' (live)' : ''}`)
  const stop = () => app.close().then(() => process.exit(0))
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`dashboard: ${e.code ? `${e.code}: ` : ''}${e.message}`)
    process.exit(1)
  })
}
