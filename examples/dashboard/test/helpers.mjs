// Shared pieces of the dashboard's tests: demo books written in a child
// process (so the SQLite file is closed and checkpointed when it exits), a
// server started on a free port, and Debian's Chromium driven through
// playwright-core with the flags this closed network needs.

import { spawn, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

export const here = path.dirname(fileURLToPath(import.meta.url))
export const root = path.resolve(here, '..')
/** Where tests put books and screenshots (the repository's `target/`, not committed). */
export const out = path.resolve(root, '../../target/dashboard-test')
fs.mkdirSync(out, { recursive: true })

/** Writes fresh demo books at `file` in a child process and returns when it has exited. */
export function writeDemoBooks(file, { members = 1500, sales = 3000 } = {}) {
  for (const s of ['', '-wal', '-shm']) fs.rmSync(file + s, { force: true })
  execFileSync(process.execPath, [path.join(root, 'lib/write-books.mjs'), file, String(members), String(sales)], { stdio: 'inherit' })
}

/** Starts `server.mjs` with `args` on a free port; resolves to `{ url, stop, child }`. */
export function startServer(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'server.mjs'), '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let text = ''
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${text}`)), 120_000)
    const onData = (d) => {
      text += d
      const m = /on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(text)
      if (m) {
        clearTimeout(timer)
        resolve({
          url: m[1],
          child,
          output: () => text,
          stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM') }),
        })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited (${code}):\n${text}`)) })
  })
}

/**
 * Launches headless Chromium with a fresh profile folder; resolves to a
 * browser context (`newPage`, `close`). The viewport is 1400×900.
 */
export async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'upline-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run',
    ],
  })
  const close = context.close.bind(context)
  context.close = async () => { await close(); fs.rmSync(profile, { recursive: true, force: true }) }
  return context
}

export const shot = (page, name) => page.screenshot({ path: path.join(out, `${name}.png`), fullPage: false })
