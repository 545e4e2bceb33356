// The books the dashboard shows: an `Engine` on the embedded SQLite store,
// and a small index of what the engine's queries do not keep in one place
// (money per day, payout batches with their items and states, reviews
// waiting, holds, recent awards, recent activity). The index is fed the
// (event, applied record) pairs: while the demo books are written, while
// live events are applied, and, when existing books are opened, by
// replaying the stored log (`storedEventsJson`) into a scratch in-memory
// engine, whose records are the same as the stored engine's.
//
// Money in the index is a BigInt of millionths (exact); it leaves as a
// decimal string at the currency's scale.

import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { writeBooks } from './gen.mjs'

const require = createRequire(import.meta.url)
/** The Node package, built from `bindings-node` (`npm run build` there). */
export const upline = require('../../../bindings-node')

/** The currency the dashboard's money-per-day figures are in (the demo books' only one). */
export const CURRENCY = 'USD'

const SCALE = 6
const ONE = 10n ** BigInt(SCALE)

/** A decimal string as a BigInt of millionths. */
export function toMicros(text) {
  const m = /^(-?)(\d+)(?:\.(\d{0,6}))?$/.exec(String(text))
  if (!m) throw new Error(`not a decimal with at most ${SCALE} places: ${text}`)
  const v = BigInt(m[2]) * ONE + BigInt((m[3] ?? '').padEnd(SCALE, '0'))
  return m[1] ? -v : v
}

/** A BigInt of millionths as a decimal string with `places` places. */
export function fromMicros(v, places = 2) {
  const neg = v < 0n
  const a = neg ? -v : v
  const cut = 10n ** BigInt(SCALE - places)
  const q = a / cut
  const s = q.toString().padStart(places + 1, '0')
  const text = places ? `${s.slice(0, -places)}.${s.slice(-places)}` : s
  return neg && q !== 0n ? `-${text}` : text
}

const dayOf = (iso) => iso.slice(0, 10)

function bump(map, key, field, by) {
  let row = map.get(key)
  if (!row) map.set(key, (row = {}))
  row[field] = (row[field] ?? 0n) + by
}

/** What the dashboard keeps beside the engine. */
export class Index {
  constructor() {
    this.clockMs = 0
    this.members = 0
    this.sales = 0
    this.refunds = 0
    /** day → { joins, sales, volume, commissions, reversals, bonuses } (BigInt). */
    this.days = new Map()
    this.holds = new Map()
    this.batches = []
    this.payoutState = new Map()
    this.reviews = new Map()
    this.flagged = 0
    this.awards = []
    this.awardCount = new Map()
    this.recent = []
  }

  tick(iso) {
    const ms = Date.parse(iso)
    if (ms > this.clockMs) this.clockMs = ms
  }

  /** Feeds one applied event and its records; returns a feed item or null. */
  feed(event, applied) {
    const at = event.at ?? event.as_of ?? event.effective_from
    if (typeof at === 'string') this.tick(at)
    // What each earner's lifetime earnings moved by (the engine's own sense:
    // commissions and bonuses less their reversals), for the live network.
    const earned = new Map()
    const move = (earner, by) => earned.set(earner, (earned.get(earner) ?? 0n) + by)
    for (const entry of applied.entries ?? []) {
      if (entry.currency !== CURRENCY) continue
      const a = toMicros(entry.amount)
      const day = dayOf(entry.at)
      switch (entry.kind) {
        case 'commission':
          bump(this.days, day, 'commissions', a)
          move(entry.earner, a)
          break
        case 'adjustment':
          move(entry.earner, a)
          break
        case 'reversal':
        case 'reversal_held':
          bump(this.days, day, 'reversals', a)
          move(entry.earner, -a)
          break
        case 'bonus':
          bump(this.days, day, 'bonuses', a)
          move(entry.earner, a)
          break
        case 'bonus_reversal':
          bump(this.days, day, 'bonuses', -a)
          move(entry.earner, -a)
          break
        default:
      }
    }
    for (const award of applied.awards ?? applied.distribution?.awards ?? []) this.addAward(award, at)
    let item = null
    switch (event.type) {
      case 'member_joined':
        this.members++
        bump(this.days, dayOf(event.at), 'joins', 1n)
        item = { kind: 'join', member: event.member, sponsor: event.sponsor }
        break
      case 'sale_recorded': {
        this.sales++
        bump(this.days, dayOf(event.at), 'sales', 1n)
        if (event.currency === CURRENCY) bump(this.days, dayOf(event.at), 'volume', toMicros(event.amount))
        const d = applied.distribution
        const hits = d?.screening?.hits ?? []
        if (hits.some((h) => h.action === 'hold')) {
          this.reviews.set(event.sale, {
            sale: event.sale,
            buyer: event.buyer,
            at: event.at,
            amount: event.amount,
            held: fromMicros(
              d.lines.filter((l) => l.held).reduce((s, l) => s + toMicros(l.amount), 0n),
            ),
            rules: [...new Set(hits.filter((h) => h.action === 'hold').map((h) => h.rule))],
            state: 'waiting',
          })
        } else if (hits.some((h) => h.action === 'review')) this.flagged++
        item = {
          kind: 'sale',
          sale: event.sale,
          buyer: event.buyer,
          amount: event.amount,
          currency: event.currency,
          lines: (d?.lines ?? []).map((l) => ({ earner: l.earner, level: l.level, amount: l.amount, held: l.held })),
        }
        break
      }
      case 'refund_recorded':
        this.refunds++
        item = {
          kind: 'refund',
          refund: event.refund,
          sale: event.sale,
          amount: event.amount,
          reversals: (applied.reversals ?? []).map((r) => ({ earner: r.earner, amount: r.amount })),
        }
        break
      case 'member_hold_set':
        if (event.on) this.holds.set(event.member, { member: event.member, reason: event.reason, at: event.at })
        else this.holds.delete(event.member)
        item = { kind: 'hold', member: event.member, on: event.on }
        break
      case 'fraud_review_resolved': {
        const r = this.reviews.get(event.review)
        if (r) {
          r.state = event.decision === 'reverse' ? 'reversed' : 'released'
          r.resolvedAt = event.at
        }
        break
      }
      case 'payouts_prepared':
        if (applied.batch) {
          this.batches.push(applied.batch)
          for (const it of applied.batch.items) this.payoutState.set(it.payout, { state: 'reserved' })
        }
        break
      case 'payout_settled':
        this.payoutState.set(event.payout, { state: 'settled', at: event.at, reference: event.reference })
        break
      case 'payout_failed':
        this.payoutState.set(event.payout, { state: 'failed', at: event.at, reason: event.reason })
        break
      default:
    }
    if (item) {
      item.earned = Object.fromEntries([...earned].map(([m, v]) => [m, fromMicros(v)]))
      item.seq = applied.seq
      item.at = at
      this.recent.push(item)
      if (this.recent.length > 100) this.recent.shift()
    }
    return item
  }

  addAward(award, at) {
    this.awards.push({ ...award, at })
    if (this.awards.length > 500) this.awards.shift()
    this.awardCount.set(award.name, (this.awardCount.get(award.name) ?? 0) + 1)
  }

  /** Counts and money (in `CURRENCY`) per day, oldest first, as numbers and decimal strings. */
  series() {
    return [...this.days.keys()].sort().map((day) => {
      const r = this.days.get(day)
      return {
        day,
        joins: Number(r.joins ?? 0n),
        sales: Number(r.sales ?? 0n),
        volume: fromMicros(r.volume ?? 0n),
        commissions: fromMicros(r.commissions ?? 0n),
        reversals: fromMicros(r.reversals ?? 0n),
        bonuses: fromMicros(r.bonuses ?? 0n),
      }
    })
  }
}

/** The engine and its index, opened or generated. */
export class Books {
  constructor(engine, index, source) {
    this.engine = engine
    this.index = index
    this.source = source
  }

  /**
   * Opens the SQLite books at `file`. An empty or missing file gets the demo
   * books (`members`, `sales`); existing books are indexed from their log.
   */
  static open(file, { members = 2000, sales = 4000, log = () => {} } = {}) {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    const engine = new upline.Engine({ path: file })
    const index = new Index()
    const started = Date.now()
    if (engine.auditHead().seq === 0) {
      log(`writing demo books (${members} members, ${sales} sales) to ${file}`)
      writeBooks(engine, { members, sales }, (event, applied) => index.feed(event, applied))
      log(`wrote ${engine.auditHead().seq} events in ${Date.now() - started} ms`)
      return new Books(engine, index, 'generated')
    }
    Books.reindex(engine, index)
    log(`opened ${file}: ${engine.auditHead().seq} events indexed in ${Date.now() - started} ms`)
    return new Books(engine, index, 'opened')
  }

  /** Replays the stored log into a scratch engine and feeds its records to `index`. */
  static reindex(engine, index) {
    const scratch = new upline.Engine()
    const page = 20_000
    for (let from = 1; ; from += page) {
      const stored = JSON.parse(engine.storedEventsJson(from, page))
      if (stored.length === 0) break
      const events = stored.map((s) => s.event)
      const results = JSON.parse(scratch.applyBatchJson(JSON.stringify(events), { records: true }))
      results.forEach((result, i) => {
        if (!result.error) index.feed(events[i], result)
      })
      if (stored.length < page) break
    }
  }

  /** The books' clock: the latest event time, as an RFC 3339 string. */
  clock() {
    return new Date(this.index.clockMs || Date.UTC(2026, 0, 1)).toISOString()
  }

  /** Applies live events; returns the feed items (refused events are skipped). */
  applyLive(events) {
    const results = JSON.parse(this.engine.applyBatchJson(JSON.stringify(events), { records: true }))
    const items = []
    results.forEach((result, i) => {
      if (result.error) return
      const item = this.index.feed(events[i], result)
      if (item) items.push(item)
    })
    return items
  }
}
