// The dashboard's page logic: routing between sections, fetching the
// server's JSON, drawing the network (sigma.js over a graphology graph) and
// the charts (ECharts), and applying live events pushed by Server-Sent
// Events. Money stays a decimal string; it becomes a JS number only as a
// chart coordinate (sums shown as text are done on BigInt cents).

/* global graphology, Sigma, echarts */

const $ = (sel, root = document) => root.querySelector(sel)
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v
    else if (k.startsWith('data-')) e.setAttribute(k, v)
    else e[k] = v
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)))
  return e
}

// ---- money on BigInt cents --------------------------------------------------

const toCents = (s) => {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(s))
  if (!m) return 0n
  const v = BigInt(m[2]) * 100n + BigInt((m[3] ?? '').padEnd(2, '0'))
  return m[1] ? -v : v
}
const fromCents = (v) => {
  const neg = v < 0n
  const s = (neg ? -v : v).toString().padStart(3, '0')
  return `${neg ? '-' : ''}${s.slice(0, -2)}.${s.slice(-2)}`
}
/** A decimal string with thousands separators, for reading. */
const fmt = (s) => {
  const [i, f] = String(s).split('.')
  return i.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (f !== undefined ? `.${f}` : '')
}

// ---- requests and errors ------------------------------------------------------

async function api(path, options) {
  const response = await fetch(path, options)
  let body
  try {
    body = await response.json()
  } catch {
    body = { error: { code: 'malformed', message: `the server answered ${response.status} without JSON` } }
  }
  if (!response.ok) {
    const err = new Error(body.error?.message ?? response.statusText)
    err.code = body.error?.code
    err.status = response.status
    throw err
  }
  return body
}

function showError(e) {
  const box = $('#error')
  box.hidden = false
  box.textContent = `${e.status ?? ''} ${e.code ?? 'error'}: ${e.message}`.trim()
}
function clearError() {
  $('#error').hidden = true
  $('#error').textContent = ''
}

const state = { section: 'overview', member: null, root: null, summary: null, live: false, charts: {} }

function chart(id) {
  if (!state.charts[id]) state.charts[id] = echarts.init(document.getElementById(id))
  return state.charts[id]
}

// ---- routing -------------------------------------------------------------------

const SECTIONS = ['overview', 'network', 'member', 'leaderboards', 'growth', 'payouts', 'screening', 'audit']

async function route() {
  const [name, arg] = decodeURIComponent(location.hash.slice(1)).split('/')
  const section = SECTIONS.includes(name) ? name : 'overview'
  state.section = section
  for (const s of SECTIONS) $(`#${s}`).hidden = s !== section
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.section === section)
  clearError()
  try {
    if (!state.summary) await loadSummary()
    if (section === 'overview') await showOverview()
    if (section === 'network') await showNetwork(arg || state.root || state.summary.topEarner?.member)
    if (section === 'member') await showMember(arg || state.member || state.summary.topEarner?.member)
    if (section === 'leaderboards') await showLeaderboards()
    if (section === 'growth') await showGrowth()
    if (section === 'payouts') await showPayouts()
    if (section === 'screening') await showScreening()
    if (section === 'audit') await showAudit()
    for (const c of Object.values(state.charts)) c.resize()
  } catch (e) {
    showError(e)
  }
}

// ---- overview ------------------------------------------------------------------

async function loadSummary() {
  const s = await api('/api/summary')
  state.summary = s
  $('[data-testid=members]').textContent = fmt(s.members)
  $('[data-testid=sales]').textContent = fmt(s.sales)
  $('[data-testid=volume]').textContent = fmt(s.volume)
  $('[data-testid=commissions]').textContent = fmt(s.commissions)
  $('[data-testid=reversals]').textContent = fmt(s.reversals)
  $('[data-testid=head-seq]').textContent = s.head.seq
  $('[data-testid=clock]').textContent = `books up to ${s.clock.slice(0, 16).replace('T', ' ')} UTC`
  const top = $('[data-testid=top-earner]')
  top.textContent = s.topEarner?.member ?? 'nobody yet'
  top.href = s.topEarner ? `#member/${s.topEarner.member}` : '#member'
  $('[data-testid=top-earner-value]').textContent = s.topEarner ? `${fmt(s.topEarner.value)} USD net` : ''
  if (!state.feedFilled) {
    state.feedFilled = true
    for (const item of [...s.recent].reverse()) addFeed(item, false)
  }
  $('#live-badge').hidden = !s.live
  return s
}

async function showOverview() {
  await Promise.all([loadSummary(), drawOverall()])
  performance.mark('overview-rendered')
  document.body.dataset.overview = 'ready'
}

async function drawOverall() {
  const { days } = await api('/api/series')
  const x = days.map((d) => d.day)
  chart('chart-overall').setOption({
    title: { text: 'Sales and commissions per day (USD)', textStyle: { fontSize: 14 } },
    tooltip: { trigger: 'axis' },
    legend: { top: 24 },
    grid: { top: 60, left: 70, right: 70, bottom: 40 },
    xAxis: { type: 'category', data: x },
    yAxis: [{ type: 'value', name: 'commissions' }, { type: 'value', name: 'sales volume' }],
    series: [
      { name: 'commissions', type: 'bar', stack: 'c', data: days.map((d) => Number(d.commissions)) },
      { name: 'bonuses', type: 'bar', stack: 'c', data: days.map((d) => Number(d.bonuses)) },
      { name: 'clawed back', type: 'bar', data: days.map((d) => -Number(d.reversals)) },
      { name: 'sales volume', type: 'line', yAxisIndex: 1, showSymbol: false, data: days.map((d) => Number(d.volume)) },
    ],
  }, true)
}

function describe(item) {
  switch (item.kind) {
    case 'sale': return `sale ${item.sale}: ${item.buyer} bought ${item.amount} ${item.currency}, ${item.lines.length} commission lines`
    case 'refund': return `refund of ${item.amount} on ${item.sale}, ${item.reversals.length} lines clawed back`
    case 'join': return `${item.member} joined under ${item.sponsor ?? 'nobody'}`
    case 'hold': return `${item.member} ${item.on ? 'put on hold' : 'released from hold'}`
    default: return item.kind
  }
}

function addFeed(item, fresh = true) {
  const list = $('#feed')
  const id = item.sale ?? item.refund ?? item.member ?? ''
  const li = el('li', { 'data-kind': item.kind, 'data-id': id, class: fresh ? 'new' : '' }, `#${item.seq} `, describe(item))
  list.prepend(li)
  while (list.children.length > 60) list.lastChild.remove()
}

// ---- network -----------------------------------------------------------------

const net = { graph: null, renderer: null, info: new Map(), expanded: new Set(), selected: null }

function colour(n) {
  if (n.hold) return '#e8590c'
  if (n.status === 'terminated') return '#212529'
  if (n.status === 'inactive') return '#adb5bd'
  const c = toCents(n.earned)
  if (c >= 1_000_000n) return '#1864ab'
  if (c >= 100_000n) return '#1c7ed6'
  if (c >= 10_000n) return '#4dabf7'
  if (c > 0n) return '#74c0fc'
  return '#a5d8ff'
}

function ensureRenderer() {
  if (net.renderer) return
  net.graph = new graphology.Graph({ type: 'directed' })
  net.renderer = new Sigma(net.graph, document.getElementById('graph'), {
    labelRenderedSizeThreshold: 6,
    defaultEdgeColor: '#ced4da',
    zIndex: true,
    allowInvalidContainer: true,
    // Labels are drawn on a 2D canvas, the costly part of a frame: none while panning.
    hideLabelsOnMove: true,
    hideEdgesOnMove: true,
  })
  net.renderer.on('clickNode', ({ node }) => toggle(node).catch(showError))
  window.dashboard = {
    /** Where `id` is drawn, in page pixels (for tests). */
    nodePosition(id) {
      if (!net.graph.hasNode(id)) return null
      const a = net.graph.getNodeAttributes(id)
      const p = net.renderer.graphToViewport({ x: a.x, y: a.y })
      const r = document.getElementById('graph').getBoundingClientRect()
      return { x: r.left + p.x, y: r.top + p.y }
    },
    shown: () => net.graph.nodes(),
    childrenOf: (id) => (net.graph.hasNode(id) ? net.graph.outNeighbors(id) : null),
    earned: (id) => net.info.get(id)?.earned ?? null,
    camera: () => net.renderer.getCamera().getState(),
  }
}

function putNode(n) {
  const prev = net.info.get(n.id)
  const info = { ...prev, ...n }
  net.info.set(n.id, info)
  const attrs = {
    label: n.id,
    size: 3 + 2 * Math.log2(1 + info.directs),
    color: colour(info),
  }
  if (net.graph.hasNode(n.id)) net.graph.mergeNodeAttributes(n.id, attrs)
  else net.graph.addNode(n.id, { ...attrs, x: 0, y: 0 })
  if (n.parent && net.graph.hasNode(n.parent) && !net.graph.hasEdge(n.parent, n.id)) {
    net.graph.addEdge(n.parent, n.id, { size: 0.6 })
  }
}

/** A radial tree layout: each subtree gets an angle in proportion to its leaves. */
function layout() {
  const root = state.root
  if (!net.graph.hasNode(root)) return
  const leaves = new Map()
  const count = (id) => {
    const kids = net.graph.outNeighbors(id)
    let n = kids.length ? 0 : 1
    for (const k of kids) n += count(k)
    leaves.set(id, n)
    return n
  }
  // Recursion as deep as the shown tree: the export stops at 64 levels, each click adds one.
  count(root)
  const place = (id, depth, a0, a1) => {
    const a = (a0 + a1) / 2
    net.graph.mergeNodeAttributes(id, { x: depth * Math.cos(a), y: depth * Math.sin(a) })
    let start = a0
    for (const k of net.graph.outNeighbors(id)) {
      const span = ((a1 - a0) * leaves.get(k)) / leaves.get(id)
      place(k, depth + 1, start, start + span)
      start += span
    }
  }
  place(root, 0, 0, 2 * Math.PI)
}

async function showNetwork(root) {
  if (!root) return
  ensureRenderer()
  net.renderer.resize()
  const started = performance.now()
  const depth = $('#network-depth').value
  const max = $('#network-max').value
  const token = (net.token = (net.token ?? 0) + 1)
  const data = await api(`/api/network/${encodeURIComponent(root)}?depth=${depth}&maxNodes=${max}`)
  if (token !== net.token) return // a later request (another root or depth) wins
  state.root = root
  net.graph.clear()
  net.info.clear()
  net.expanded.clear()
  for (const n of data.nodes) {
    putNode({ ...n, asOf: data.seq })
    if (n.shown > 0) net.expanded.add(n.id)
  }
  layout()
  net.renderer.getCamera().setState({ x: 0.5, y: 0.5, ratio: 1, angle: 0 })
  net.renderer.refresh()
  $('[data-testid=network-root]').textContent = `${root} (${data.nodes.length} shown${data.truncated ? ', truncated' : ''})`
  const up = $('#network-upline')
  up.replaceChildren(...(data.upline.length ? ['upline: ', ...data.upline.map((u) => el('a', { href: `#network/${u}` }, u, ' '))] : []))
  panel(root)
  if (location.hash !== `#network/${root}`) history.replaceState(null, '', `#network/${root}`)
  performance.mark('network-interactive')
  document.body.dataset.network = 'ready'
  document.body.dataset.networkMs = String(Math.round(performance.now() - started))
}

function descendants(id, out = []) {
  for (const k of net.graph.outNeighbors(id)) {
    out.push(k)
    descendants(k, out)
  }
  return out
}

async function toggle(id) {
  net.selected = id
  if (net.expanded.has(id)) {
    for (const d of descendants(id)) {
      net.graph.dropNode(d)
      net.info.delete(d)
      net.expanded.delete(d)
    }
    net.expanded.delete(id)
  } else {
    const max = $('#network-max').value
    const data = await api(`/api/network/${encodeURIComponent(id)}?depth=1&maxNodes=${max}`)
    for (const n of data.nodes) if (n.parent) putNode({ ...n, asOf: data.seq })
    net.expanded.add(id)
  }
  layout()
  net.renderer.refresh()
  panel(id)
}

function panel(id) {
  const n = net.info.get(id)
  const box = $('#node-panel')
  if (!n) return
  const kids = net.graph.outNeighbors(id)
  box.replaceChildren(
    el('h3', {}, el('a', { href: `#member/${id}`, 'data-testid': 'panel-member' }, id)),
    el('p', {}, `status ${n.status}${n.hold ? ', on hold' : ''}`),
    el('p', {}, `lifetime earnings ${fmt(n.earned)} USD`),
    el('p', {}, `${n.directs} direct referrals, ${kids.length} shown`),
    el('p', {}, el('a', { href: `#network/${id}` }, 'centre the view here')),
    el('ol', { 'data-testid': 'children' }, ...kids.map((k) => el('li', { 'data-id': k }, k))),
  )
}

/** Live events on the network: new members under shown sponsors, earnings on shown earners. */
function liveNetwork(items) {
  if (!net.graph) return
  let relayout = false
  for (const item of items) {
    if (item.kind === 'join' && item.sponsor && net.info.has(item.sponsor) && item.seq > net.info.get(item.sponsor).asOf) {
      const sponsor = net.info.get(item.sponsor)
      putNode({ ...sponsor, directs: sponsor.directs + 1 })
      if (net.expanded.has(item.sponsor) || sponsor.directs === 0) {
        putNode({ id: item.member, parent: item.sponsor, status: 'active', hold: false, earned: '0.00', directs: 0, shown: 0, asOf: item.seq - 1 })
        net.expanded.add(item.sponsor)
        relayout = true
      }
    }
    // Earnings moved by the event (commissions, clawbacks, milestone bonuses), as the engine counts them.
    for (const [member, amount] of Object.entries(item.earned ?? {})) {
      const n = net.info.get(member)
      // A node loaded after this event already counts it.
      if (n && item.seq > n.asOf) putNode({ ...n, earned: fromCents(toCents(n.earned) + toCents(amount)), asOf: item.seq })
    }
  }
  if (relayout) layout()
  net.renderer.refresh()
  if (net.selected && net.info.has(net.selected)) panel(net.selected)
}

// ---- member ---------------------------------------------------------------------

async function showMember(id) {
  if (!id) return
  const m = await api(`/api/member/${encodeURIComponent(id)}`)
  state.member = id
  $('[data-testid=member-id]').textContent = id
  $('[data-testid=member-status]').textContent = `${m.metrics.status}${m.hold ? `, on hold: ${m.hold.reason}` : ''}; balances as of ${m.asOf.slice(0, 16).replace('T', ' ')} UTC`
  for (const k of ['pending', 'available', 'held', 'reserved', 'paid']) $(`[data-testid=bal-${k}]`).textContent = fmt(m.balances[k])
  $('[data-testid=member-lifetime]').textContent = fmt(m.metrics.earnings.find((e) => e.currency === 'USD')?.lifetime ?? '0.00')
  const mm = m.metrics
  $('[data-testid=member-facts]').textContent =
    `joined ${mm.joined_at.slice(0, 10)} at depth ${mm.depth}; ${mm.direct_referrals} direct referrals (${mm.qualified_referrals} qualified), downline ${mm.downline_size} members over ${mm.downline_depth} levels; upline ${m.upline.join(' → ') || 'none'}`
  $('#member-awards').replaceChildren(...(m.awards.length ? m.awards.map((a) => el('li', {}, `${a.name} (${a.metric} ≥ ${a.threshold})${a.bonuses.length ? `: ${a.bonuses.map((b) => `${b.amount} ${b.currency}`).join(', ')}` : ''}`)) : [el('li', {}, 'none yet')]))
  let cum = 0n
  const cumulative = m.days.map((d) => Number(fromCents((cum += toCents(d.earned)))))
  chart('chart-member').setOption({
    title: { text: `Net earnings of ${id} per day (USD)`, textStyle: { fontSize: 14 } },
    tooltip: { trigger: 'axis' },
    legend: { top: 24 },
    grid: { top: 60, left: 70, right: 70, bottom: 40 },
    xAxis: { type: 'category', data: m.days.map((d) => d.day) },
    yAxis: [{ type: 'value', name: 'per day' }, { type: 'value', name: 'cumulative' }],
    series: [
      { name: 'per day', type: 'bar', data: m.days.map((d) => Number(d.earned)) },
      { name: 'cumulative', type: 'line', yAxisIndex: 1, showSymbol: false, data: cumulative },
    ],
  }, true)
  if (location.hash !== `#member/${id}`) history.replaceState(null, '', `#member/${id}`)
}

// ---- leaderboards -------------------------------------------------------------

async function showLeaderboards() {
  const period = $('#lb-period')
  if (period.options.length === 1) {
    const { days } = await api('/api/series')
    const months = [...new Set(days.map((d) => d.day.slice(0, 7)))]
    period.append(el('option', { value: '30d' }, 'last 30 days'), el('option', { value: '7d' }, 'last 7 days'), ...months.map((mo) => el('option', { value: mo }, mo)))
  }
  const metric = $('#lb-metric').value
  const lb = await api(`/api/leaderboard?metric=${metric}&period=${encodeURIComponent(period.value)}&limit=20`)
  const body = $('[data-testid=leaderboard] tbody')
  body.replaceChildren(...lb.entries.map((e) => el('tr', { 'data-member': e.member },
    el('td', {}, e.rank), el('td', {}, el('a', { href: `#member/${e.member}` }, e.member)),
    el('td', { class: 'num' }, fmt(e.value)), el('td', {}, e.reached_at.slice(0, 10)))))
  if (!lb.entries.length) body.append(el('tr', {}, el('td', { colSpan: 4 }, 'nobody in this period')))
  // What the table shows, for people and tests alike.
  Object.assign($('[data-testid=leaderboard]').dataset, { metric, period: period.value })
  const aw = await api('/api/awards')
  $('#award-counts').replaceChildren(...Object.entries(aw.counts).map(([name, n]) => el('li', {}, `${name}: ${n} members`)))
  $('#awards').replaceChildren(...aw.recent.slice(0, 30).map((a) => el('li', {}, `${a.at?.slice(0, 10) ?? ''} ${a.member} reached ${a.name}${a.bonuses.length ? ` (+${a.bonuses.map((b) => `${b.amount} ${b.currency}`).join(', ')})` : ''}`)))
}

// ---- growth ------------------------------------------------------------------------

async function showGrowth() {
  const { report, projection, measured } = await api('/api/viral?cohortDays=7&windowDays=30')
  $('[data-testid=viral-overall]').textContent =
    `Overall K = ${report.overall.k.toFixed(3)} (${report.overall.referrals} referrals by ${report.overall.size} members within ${report.window_days} days of joining); viral cycle ${report.cycle_time_days.toFixed(2)} days. ` +
    `Branching-process projection from ${projection.seed} members: ${Math.round(projection.closed_form_total)} after ${projection.points.length} cycles${projection.limit ? `, limit ${Math.round(projection.limit)}` : ''}.`
  chart('chart-k').setOption({
    title: { text: 'Viral coefficient K per 7-day join cohort', textStyle: { fontSize: 14 } },
    tooltip: { trigger: 'axis' },
    grid: { top: 50, left: 50, right: 50, bottom: 40 },
    xAxis: { type: 'category', data: report.cohorts.map((c) => c.start.slice(0, 10)) },
    yAxis: { type: 'value', name: 'K' },
    series: [{
      type: 'bar', data: report.cohorts.map((c) => Number(c.k.toFixed(3))),
      markLine: { symbol: 'none', data: [{ yAxis: 1, name: 'K = 1' }, { yAxis: Number(report.overall.k.toFixed(3)), name: 'overall' }] },
    }],
  }, true)
  const start = Date.parse(measured[0]?.day ?? '2026-01-01')
  const day = 86_400_000
  chart('chart-projection').setOption({
    title: { text: 'Members: measured and projected', textStyle: { fontSize: 14 } },
    tooltip: { trigger: 'axis' },
    legend: { top: 24 },
    grid: { top: 60, left: 70, right: 20, bottom: 40 },
    xAxis: { type: 'time' },
    yAxis: { type: 'value', name: 'members' },
    series: [
      { name: 'measured', type: 'line', showSymbol: false, data: measured.map((d) => [d.day, d.total]) },
      { name: 'projection', type: 'line', lineStyle: { type: 'dashed' }, data: projection.points.map((p) => [new Date(start + p.day * day).toISOString().slice(0, 10), Math.round(p.total)]) },
    ],
  }, true)
}

// ---- payouts and screening --------------------------------------------------------

async function showPayouts() {
  const s = $('#payout-state').value
  const p = await api(`/api/payouts?state=${s}&limit=200`)
  $('#batches').replaceChildren(...p.batches.map((b) => el('div', { class: 'cards' },
    el('div', { class: 'card' }, el('span', {}, 'batch'), el('b', {}, b.batch), el('small', {}, `as of ${b.as_of.slice(0, 10)}`)),
    el('div', { class: 'card' }, el('span', {}, 'payouts'), el('b', {}, b.count), el('small', {}, `net ${fmt(b.net)} USD`)),
    el('div', { class: 'card' }, el('span', {}, 'settled / failed / reserved'), el('b', { 'data-testid': 'payout-counts' }, `${b.counts.settled} / ${b.counts.failed} / ${b.counts.reserved}`)),
    el('div', { class: 'card' }, el('span', {}, 'left out'), el('b', {}, Object.values(b.skipped).reduce((x, y) => x + y, 0)), el('small', {}, Object.entries(b.skipped).map(([k, v]) => `${k.replaceAll('_', ' ')} ${v}`).join(', '))),
  )))
  const items = p.batches.flatMap((b) => b.items)
  $('[data-testid=payout-items] tbody').replaceChildren(...items.map((i) => el('tr', {},
    el('td', {}, i.payout), el('td', {}, el('a', { href: `#member/${i.earner}` }, i.earner)), el('td', {}, i.method),
    el('td', { class: 'num' }, fmt(i.gross)), el('td', { class: 'num' }, fmt(i.fee)), el('td', { class: 'num' }, fmt(i.net)),
    el('td', { class: `state-${i.state}` }, i.state + (i.reason ? `: ${i.reason}` : '')))))
}

async function showScreening() {
  const s = await api('/api/screening')
  $('[data-testid=review-counts]').textContent =
    `Held for review: ${s.reviews.waiting} waiting, ${s.reviews.released} released, ${s.reviews.reversed} reversed; ${s.reviews.flagged} sales flagged (paid). ${s.holds.length} members on hold.`
  $('[data-testid=reviews] tbody').replaceChildren(...s.waiting.map((r) => el('tr', {},
    el('td', {}, r.sale), el('td', {}, el('a', { href: `#member/${r.buyer}` }, r.buyer)), el('td', { class: 'num' }, fmt(r.amount)),
    el('td', { class: 'num' }, fmt(r.held)), el('td', {}, r.rules.join(', ')), el('td', {}, r.at.slice(0, 10)))))
  $('[data-testid=holds] tbody').replaceChildren(...s.holds.map((h) => el('tr', {},
    el('td', {}, el('a', { href: `#member/${h.member}` }, h.member)), el('td', {}, h.reason), el('td', {}, h.at.slice(0, 10)))))
}

// ---- audit ---------------------------------------------------------------------------

async function showAudit() {
  const { head } = await api('/api/audit')
  $('[data-testid=audit-seq]').textContent = head.seq
  $('[data-testid=audit-hash]').textContent = head.hash
}

async function verify() {
  const out = $('#verify-result')
  out.className = ''
  out.textContent = 'verifying…'
  delete out.dataset.seq
  try {
    const r = await api('/api/audit/verify', { method: 'POST' })
    if (r.ok) {
      out.className = 'ok'
      out.dataset.state = 'ok'
      out.textContent = `✓ verified: all ${r.head.seq} events replay to the head ${r.head.hash.slice(0, 16)}… (${r.ms} ms)`
    } else {
      out.className = 'bad'
      out.dataset.state = 'tampered'
      out.dataset.seq = r.seq
      out.textContent = `✗ tampered: stored event ${r.seq} does not match the audit chain`
    }
  } catch (e) {
    out.className = 'bad'
    out.dataset.state = 'error'
    out.textContent = `${e.code}: ${e.message}`
  }
}

// ---- live ------------------------------------------------------------------------------

let refreshTimer = null
function connectLive() {
  const source = new EventSource('/api/events')
  source.addEventListener('hello', (e) => {
    state.live = JSON.parse(e.data).live
    $('#live-badge').hidden = !state.live
  })
  source.addEventListener('applied', (e) => {
    const { items, head } = JSON.parse(e.data)
    for (const item of items) addFeed(item)
    $('[data-testid=head-seq]').textContent = head.seq
    $('[data-testid=audit-seq]').textContent = head.seq
    $('[data-testid=audit-hash]').textContent = head.hash
    liveNetwork(items)
    if (!refreshTimer) {
      refreshTimer = setTimeout(async () => {
        refreshTimer = null
        try {
          await loadSummary()
          if (state.section === 'overview') await drawOverall()
        } catch (err) {
          showError(err)
        }
      }, 1000)
    }
  })
}

// ---- wiring ------------------------------------------------------------------------------

// `?depth=N&max=N` preset the network view's selects (used by the measurements).
{
  const q = new URLSearchParams(location.search)
  const preset = (id, v) => {
    if (v === null) return
    const sel = $(id)
    if (![...sel.options].some((o) => o.value === v)) sel.append(el('option', {}, v))
    sel.value = v
  }
  preset('#network-depth', q.get('depth'))
  preset('#network-max', q.get('max'))
}

$('#lookup').addEventListener('submit', (e) => {
  e.preventDefault()
  const id = $('#lookup-id').value.trim()
  if (!id) return
  const section = state.section === 'network' ? 'network' : 'member'
  const target = `#${section}/${encodeURIComponent(id)}`
  if (location.hash === target) route()
  else location.hash = target
})
$('#network-depth').addEventListener('change', () => route())
$('#network-max').addEventListener('change', () => route())
$('#lb-metric').addEventListener('change', () => showLeaderboards().catch(showError))
$('#lb-period').addEventListener('change', () => showLeaderboards().catch(showError))
$('#payout-state').addEventListener('change', () => showPayouts().catch(showError))
$('#verify').addEventListener('click', verify)
window.addEventListener('hashchange', route)
window.addEventListener('resize', () => Object.values(state.charts).forEach((c) => c.resize()))
route().then(connectLive)
