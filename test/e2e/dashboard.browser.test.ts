import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import OpenAI from 'openai'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SluiceConfigInput } from '../../src/config/schema.js'
import { startGateway, type Gateway } from '../../src/main.js'
import { startSimulator, type Simulator } from '../../src/simulator/index.js'
import { createLogger } from '../../src/telemetry/logger.js'
import { eventually } from '../integration/admin/support.js'
import { send } from '../support/data-plane.js'
import { LogCapture } from '../support/harness.js'
import { chat } from '../support/schedule.js'
import { usd } from '../../src/dashboard/ui/format.js'

// The dashboard in a real Chromium (Debian's, driven by playwright-core; nothing is downloaded),
// against an in-process gateway and the simulator on 127.0.0.1. One browser for the file, one
// page per role, reused from test to test: the tests run in order and build on each other.

const adminKey = 'adm-dash-3c1f9e7a52b8d4e06'
const readKey = 'adm-dash-read-8b2e4d6f1a3c5e79'
/** Every provider key is a canary: it must never reach the page, a response or the stream. */
const secret = (p: string): string => `sk-canary-${p}-94e1b7c0d2a6f358`
const providers = ['paced', 'capped', 'flaky', 'cheap'] as const
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
const shots = new URL('../../test-results/dashboard/', import.meta.url)
/** The capped key's upstream concurrency cap, which the gateway is not told and must learn. */
const cap = 3
/** Ticks the page must keep showing the learned limit on the cap, under traffic, to count as settled. */
const settleTicks = 5
const day = 86_400_000
/** Ticks (about a second each) the limit has to settle in, traffic running. */
const maxTicks = 40

function config(simUrl: string): SluiceConfigInput {
  const provider = (p: string, key: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ type: 'openai' as const, base_url: `${simUrl}/v1`, keys: [{ id: 'k', key: secret(p), ...key }], ...extra })
  return {
    admin: { keys: [adminKey], read_only_keys: [readKey] },
    providers: {
      paced: provider('paced', { rpm: 240 }),
      capped: provider('capped', { max_concurrent: null }),
      flaky: provider('flaky', {}, { health_check: { model: 'probe-model', interval: '1h', timeout: '2s' }, failover: { enabled: true } }),
      cheap: provider('cheap', {}),
    },
    models: Object.fromEntries(providers.map((p) => [p, { targets: [{ provider: p, model: `up-${p}` }] }])),
    tiers: { metered: { budget_usd: 1 } },
    pricing: { 'up-cheap': { input: 1000, output: 2000 } },
  } as SluiceConfigInput
}

describe('dashboard in Chromium', () => {
  let sim: Simulator
  let gw: Gateway
  let browser: Browser
  let admin: BrowserContext
  let page: Page
  let virtualKey = ''
  let attacker: Server
  let skewMs = 0
  const logs = new LogCapture()
  /** Every body the admin page received from the gateway, for the canary scan. */
  const bodies: string[] = []
  /** Every URL the admin page asked for, and what its console said about the Content-Security-Policy. */
  const requested: string[] = []
  const cspViolations: string[] = []

  beforeAll(async () => {
    // The page as `npm run build` makes it.
    execFileSync(process.execPath, ['scripts/build-dashboard.js'], { cwd: new URL('../../', import.meta.url), stdio: 'pipe' })
    mkdirSync(shots, { recursive: true })
    sim = await startSimulator({
      config: {
        keys: {
          [secret('paced')]: { id: 'paced' },
          [secret('capped')]: { id: 'capped.k', max_concurrent: cap },
          [secret('flaky')]: { id: 'flaky', revoked: true },
          [secret('cheap')]: { id: 'cheap' },
        },
      },
    })
    gw = await startGateway({
      config: { value: config(sim.url), label: 'test' },
      logger: createLogger({ level: 'info', destination: logs }),
      port: 0,
      processMetrics: false,
      database: 'sqlite::memory:',
      watch: false,
      // Wall-clock time the test can move forward, to expire the session without waiting.
      epoch: { now: () => Date.now() + skewMs },
    })
    attacker = createServer((_req, res) => {
      // Another origin's page (same site, other port) that posts a form to an action route.
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end(`<form id="f" method="POST" action="${gw.url}/api/admin/deployments/paced~k/disable"><input name="x" value="1"></form><script>document.getElementById('f').submit()</script>`)
    })
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve))
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs, headless: true })
    admin = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'dark' })
    page = await admin.newPage()
    page.on('request', (r) => requested.push(r.url()))
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text())
    })
    page.on('response', (r) => {
      if (!r.url().startsWith(gw.url) || r.url().endsWith('/api/admin/events')) return
      r.text().then((t) => bodies.push(t), () => undefined)
    })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await new Promise((resolve) => attacker?.close(resolve))
    await gw?.shutdown()
    await sim?.close()
  })

  const api = async <T>(path: string, method: 'GET' | 'POST' = 'GET'): Promise<T> => {
    const reply = await send(gw.url, path, { method, headers: { authorization: `Bearer ${adminKey}` } })
    expect(reply.status, reply.text).toBe(200)
    return reply.json<T>()
  }
  const deployment = async (keyId: string) =>
    (await api<{ data: { key_id: string; health: { state: string }; probes: { sent: number; last_status: number | null } | null }[] }>('/api/admin/deployments')).data.find((d) => d.key_id === keyId)
  const tab = (name: string) => page.getByRole('tab', { name }).click()
  /** `workers` clients, each sending its next request as soon as its last is answered, until stop() (at most `max` in all). */
  const drive = (model: string, workers: number, max: number) => {
    let stopped = false
    let sent = 0
    const statuses: number[] = []
    const loops = Array.from({ length: workers }, async () => {
      while (!stopped && sent < max) statuses.push((await chat(gw.url, { model, id: `${model}-drive-${String(sent++).padStart(4, '0')}` })).status)
    })
    return {
      stop: async (): Promise<number[]> => {
        stopped = true
        await Promise.all(loops)
        return statuses
      },
    }
  }

  it('logs in with an admin key only; the session cookie is HttpOnly, SameSite=Strict and expires; it survives a reload', async () => {
    const res = await page.goto(`${gw.url}/dashboard`)
    expect(res?.status()).toBe(200)
    const csp = res?.headers()['content-security-policy'] ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toContain('unsafe-inline')
    expect(await page.locator('script:not([src])').count()).toBe(0)

    await page.fill('#admin-key', 'adm-dash-wrong-000000000000')
    await page.click('button[type=submit]')
    await expect.poll(() => page.getByRole('alert').innerText()).toContain('not an admin key')
    await page.screenshot({ path: new URL('login-1280.png', shots).pathname })
    expect(await admin.cookies()).toEqual([])

    await page.fill('#admin-key', adminKey)
    await page.click('button[type=submit]')
    await page.getByText('Reload config').waitFor()
    const [cookie] = await admin.cookies()
    expect(cookie).toMatchObject({ name: 'sluice_session', httpOnly: true, sameSite: 'Strict', path: '/' })
    expect(cookie?.value).not.toContain(adminKey)
    expect(cookie?.expires).toBeGreaterThan(Date.now() / 1000 + 3600)

    await page.reload()
    await page.getByText('Reload config').waitFor()
    expect(await page.locator('#admin-key').count()).toBe(0)
  })

  it('shows the queue and the rate of a paced key while traffic waits for it', async () => {
    const burst = Promise.all(Array.from({ length: 16 }, (_, i) => chat(gw.url, { model: 'paced', id: `paced-${String(i).padStart(2, '0')}` })))
    await page.locator('[data-model="paced"] [data-field="waiting"]').filter({ hasText: /^[1-9]\d*$/ }).waitFor({ timeout: 10_000 })
    await tab('Keys')
    await page.locator('[data-key="paced~k"] [data-field="rps"]').filter({ hasText: /^(?!0$)\d+(\.\d+)?$/ }).waitFor({ timeout: 10_000 })
    await page.locator('[data-key="paced~k"] [data-field="pacer"]').filter({ hasText: /steady|paused|retreating|recovering/ }).waitFor()
    expect((await burst).map((r) => r.status)).toEqual(Array.from({ length: 16 }, () => 200))
    await tab('Overview')
    await page.locator('[data-model="paced"] [data-field="waiting"]').filter({ hasText: /^0$/ }).waitFor({ timeout: 10_000 })
  })

  it('drives a concurrency-capped key and watches the learned limit settle on the cap', async () => {
    // Answers that take a while, so clients kept busy hold the upstream's cap and more.
    sim.configure({ latency: { ttft_ms: 60 } })
    await tab('Keys')
    const card = page.locator('[data-key="capped~k"]')
    const limitShown = async (): Promise<number> => Number(await card.locator('[data-field="limit"]').innerText())
    const traffic = drive('capped', 3 * cap, 4_000)
    let statuses: number[] = []
    try {
      // The limit starts above the cap (nothing is known), meets concurrency 429s and comes down,
      // and may climb past the cap again before it knows it. Settled: the page shows it on the cap,
      // tick after tick, while the traffic goes on. A bounded wait: a limit that stays above or
      // below fails, with what the page showed.
      const shown: number[] = []
      const settled = () => shown.length >= settleTicks && shown.slice(-settleTicks).every((n) => n === cap)
      while (!settled() && shown.length < maxTicks) {
        const at = await page.locator('main.content').getAttribute('data-at')
        await page.locator(`main.content:not([data-at="${at}"])`).waitFor({ timeout: 5_000 })
        shown.push(await limitShown())
      }
      expect(settled(), `the limit the page showed, tick by tick: ${shown.join(' ')}`).toBe(true)
      await card.getByText(/concurrent \d+/).waitFor()
      expect(await card.locator('[data-field="learned"]').innerText()).toBe(String(cap))
    } finally {
      statuses = await traffic.stop()
      sim.configure({ latency: { ttft_ms: 0 } })
    }
    // The gateway sends each concurrency 429 again: no client saw one.
    expect(statuses.filter((s) => s !== 200)).toEqual([])
    const stats = await api<{ effective_limit: number; concurrent_429_count: number }>('/api/admin/adaptive/keys/capped~k/stats')
    expect(stats.concurrent_429_count).toBeGreaterThan(0)
    expect(stats.effective_limit).toBe(cap)
  }, 60_000)

  it('shows a failing key out with its reason; enable and probe from the page, and the admin API agrees', async () => {
    const failed = await chat(gw.url, { model: 'flaky', id: 'flaky-000' })
    expect(failed.status).toBeGreaterThanOrEqual(500)
    await tab('Keys')
    const card = page.locator('[data-key="flaky~k"]')
    await card.locator('[data-field="health"]').filter({ hasText: 'disabled' }).waitFor()
    expect(await card.locator('[data-field="reason"]').innerText()).toContain('refused its credentials')
    await tab('Overview')
    await page.locator('.banner').getByText('flaky~k').waitFor()

    sim.configure({ keys: { [secret('flaky')]: { id: 'flaky', revoked: false } } })
    await tab('Keys')
    await card.locator('[data-action="enable"]').click()
    await page.getByRole('status').filter({ hasText: 'flaky~k enabled' }).waitFor()
    expect((await deployment('flaky~k'))?.health.state).toBe('closed')
    await card.locator('[data-field="health"]').filter({ hasText: 'closed' }).waitFor()

    await card.locator('[data-action="probe"]').click()
    await page.getByRole('status').filter({ hasText: 'Probe of flaky~k sent' }).waitFor()
    const d = await deployment('flaky~k')
    expect(d?.probes?.sent).toBe(1)
    expect(d?.probes?.last_status).toBe(200)
  })

  it('creates a consumer and a key; the key works from the openai client and its request shows in the log and the spend', async () => {
    await tab('Consumers')
    await page.fill('input[name="consumer-name"]', 'team-ui')
    await page.selectOption('select[name="tier"]', 'metered')
    await page.click('[data-action="create-consumer"]')
    const row = page.locator('tr[data-consumer="team-ui"]')
    await row.waitFor()
    await row.locator('[data-action="create-key"]').click()
    const key = (await page.locator('[data-field="new-key"]').innerText()).trim()
    expect(key).toMatch(/^sk-/)
    virtualKey = key

    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 })
    const { data, response } = await client.chat.completions.create({ model: 'cheap', messages: [{ role: 'user', content: 'hello dashboard' }] }).withResponse()
    expect(data.choices[0]?.message.content).toBeTruthy()
    const requestId = response.headers.get('x-request-id') as string

    await tab('Requests')
    const line = page.locator(`tr[data-request="${requestId}"]`)
    await line.waitFor()
    expect(await line.innerText()).toContain('team-ui')
    expect(await line.innerText()).not.toContain(key)

    // The same spend reaches Prometheus, by model and tier, for the Grafana dashboard.
    const metricsText = (await send(gw.url, '/metrics')).text
    expect(Number(/^sluice_spend_usd_total\{model="cheap",tier="metered"\} (\S+)$/m.exec(metricsText)?.[1])).toBeGreaterThan(0)
    expect(metricsText).toMatch(/^sluice_tokens_total\{model="cheap",type="prompt"\} [1-9]/m)

    await tab('Consumers')
    await row.locator('[data-field="spend"]').filter({ hasText: /\$(?!0\.00\b)\d/ }).waitFor({ timeout: 15_000 })
    await row.locator('[data-field="requests"]').filter({ hasText: /^1$/ }).waitFor()
  })

  it('shows each consumer\'s requests, tokens and spend per UTC day, from the usage ledger, against its budget', async () => {
    // A consumer with a past: days a test cannot wait through, written to the ledger as the
    // gateway would have, then the consumer (the store's own call: the API picks ids itself).
    const id = 'con_dashboard_days'
    const now = Date.now() + skewMs
    const today = Math.floor(now / day) * day
    const past = [
      { at: Math.max(today, now - 1_000), costUsd: 0.0625, promptTokens: 100, completionTokens: 20 },
      { at: today - day + 3_600_000, costUsd: 0.25, promptTokens: 1_000, completionTokens: 500 },
      { at: today - day + 7_200_000, costUsd: 0.125, promptTokens: 1_000, completionTokens: 500 },
      { at: today - 5 * day + 60_000, costUsd: 0.5, promptTokens: 4_000, completionTokens: 0 },
      // Older than the panel's 14 days: in no bar, but in a budget whose period reaches back to it.
      { at: today - 20 * day, costUsd: 0.03125, promptTokens: 10, completionTokens: 10 },
    ]
    await gw.store.usage.appendBatch(past.map((p, i) => ({
      ...p, requestId: `past-${i}`, consumerId: id, keyPrefix: null, sessionId: null, model: 'cheap', deployment: 'cheap/k/up-cheap',
      status: 200, outcome: 'success', queueMs: 0, latencyMs: 10, partial: false, priority: 'normal',
    })))
    await gw.store.consumers.create({ id, name: 'team-days', tier: 'metered', overrides: null, disabled: false, createdAt: now, updatedAt: now })
    const monthStart = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1)
    const spentThisMonth = past.filter((r) => r.at >= monthStart).reduce((sum, r) => sum + r.costUsd, 0)

    await tab('Consumers')
    const row = page.locator('tr[data-consumer="team-days"]')
    const yesterday = new Date(today - day).toISOString().slice(0, 10)
    await row.locator(`[data-field="days"] tr[data-day="${yesterday}"]`).waitFor({ state: 'attached', timeout: 15_000 })
    expect(await row.locator('[data-field="requests"]').innerText()).toBe('1')
    expect(await row.locator('[data-field="spend"]').innerText()).toBe(usd(0.0625))
    expect(await row.locator('[data-field="days"] .spark span').count()).toBe(14)
    await row.locator('[data-field="days"] summary').click()
    const days = row.locator('[data-field="days"] tbody tr')
    await days.first().waitFor()
    // Newest first, only days with requests.
    const shown = (await days.allInnerTexts()).map((t) => t.split('\t').map((c) => c.trim()))
    expect(shown).toEqual([
      [new Date(today).toISOString().slice(0, 10), '1', '120', usd(0.0625)],
      [yesterday, '2', '3000', usd(0.375)],
      [new Date(today - 5 * day).toISOString().slice(0, 10), '1', '4000', usd(0.5)],
    ])
    // The tier's budget is $1 a month (budget_period's default): what the month spent, older days included.
    expect(await row.locator('[data-field="budget"]').innerText()).toBe(`${usd(spentThisMonth)} of ${usd(1)} this month`)
    await page.screenshot({ path: new URL('consumers-days-1280.png', shots).pathname, fullPage: true })
  })

  it('the other actions go through the admin API: fix and free a limit, reset learning, revoke a key, disable a consumer, reload', async () => {
    type Stats = { adaptive_mode: boolean; max_concurrent: number | null; concurrent_429_count: number; adjustment_count: number }
    await tab('Keys')
    const paced = page.locator('[data-key="paced~k"]')
    await paced.locator('input[aria-label="fixed limit"]').fill('3')
    await paced.locator('[data-action="fix"]').click()
    await page.getByRole('status').filter({ hasText: 'paced~k fixed at 3' }).waitFor()
    expect(await api<Stats>('/api/admin/adaptive/keys/paced~k/stats')).toMatchObject({ adaptive_mode: false, max_concurrent: 3 })
    await paced.locator('[data-action="adaptive"]').click()
    await page.getByRole('status').filter({ hasText: 'paced~k learns its limit' }).waitFor()
    expect(await api<Stats>('/api/admin/adaptive/keys/paced~k/stats')).toMatchObject({ adaptive_mode: true, max_concurrent: null })

    await page.locator('[data-key="capped~k"] [data-action="reset"]').click()
    await page.getByRole('status').filter({ hasText: 'capped~k: learning reset' }).waitFor()
    expect(await api<Stats>('/api/admin/adaptive/keys/capped~k/stats')).toMatchObject({ concurrent_429_count: 0, adjustment_count: 0 })

    await tab('Consumers')
    const row = page.locator('tr[data-consumer="team-ui"]')
    await row.locator('[data-action="revoke"]').click()
    await page.getByRole('status').filter({ hasText: 'revoked' }).waitFor()
    const keys = await api<{ data: { consumer: string; state: string }[] }>('/api/admin/keys')
    expect(keys.data.filter((k) => k.consumer === 'team-ui').map((k) => k.state)).toEqual(['revoked'])
    const refused = await new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: virtualKey, maxRetries: 0 }).chat.completions.create({ model: 'cheap', messages: [{ role: 'user', content: 'again' }] }).catch((e: unknown) => e)
    expect((refused as { status?: number }).status).toBe(401)

    await row.locator('[data-action="disable-consumer"]').click()
    await row.locator('[data-action="enable-consumer"]').waitFor()
    const consumers = await api<{ data: { name: string; disabled: boolean }[] }>('/api/admin/consumers')
    expect(consumers.data.find((c) => c.name === 'team-ui')?.disabled).toBe(true)

    const before = (await api<{ generation: number }>('/api/admin/tiers')).generation
    await page.click('[data-action="reload"]')
    await page.getByRole('status').filter({ hasText: 'Configuration reloaded' }).waitFor()
    expect((await api<{ generation: number }>('/api/admin/tiers')).generation).toBe(before + 1)

    // Every change is in the log under the admin key's id, never its value.
    const changes = logs.entries().filter((e) => e.msg === 'admin')
    expect(changes.length).toBeGreaterThanOrEqual(9)
    for (const c of changes) expect(c.adminKey).toMatch(/^admin-[0-9a-f]{12}$/)
    expect(logs.lines.some((l) => l.includes(adminKey))).toBe(false)
  })

  it('saves screenshots at 1280 and 390 px', async () => {
    for (const [width, height] of [[1280, 900], [390, 844]] as const) {
      await page.setViewportSize({ width, height })
      for (const name of ['Overview', 'Keys', 'Charts', 'Consumers', 'Requests']) {
        await tab(name)
        await page.locator('.content').waitFor()
        await page.screenshot({ path: new URL(`${name.toLowerCase()}-${width}.png`, shots).pathname, fullPage: true })
      }
      // Nothing wider than the screen: the page is usable at a phone's width.
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width)
    }
    await page.setViewportSize({ width: 1280, height: 900 })
  })

  it('a read-only key sees no action buttons, and a forged action is refused with 403', async () => {
    const reader = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' })
    try {
      const p = await reader.newPage()
      await p.goto(`${gw.url}/dashboard`)
      await p.fill('#admin-key', readKey)
      await p.click('button[type=submit]')
      await p.getByText('read-only').waitFor()
      expect(await p.evaluate<string>('getComputedStyle(document.body).backgroundColor')).toBe('rgb(246, 247, 249)')
      for (const name of ['Overview', 'Keys', 'Consumers']) {
        await p.getByRole('tab', { name }).click()
        await p.locator('.content').waitFor()
        expect(await p.locator('[data-action]').count(), name).toBe(0)
      }
      await p.getByRole('tab', { name: 'Keys' }).click()
      await p.screenshot({ path: new URL('keys-1280-light-read-only.png', shots).pathname, fullPage: true })
      const forged = await p.evaluate(async () => {
        const s = (await (await fetch('/api/admin/session')).json()) as { csrf_token: string }
        const r = await fetch('/api/admin/deployments/paced~k/disable', { method: 'POST', headers: { 'x-csrf-token': s.csrf_token } })
        return { status: r.status, body: await r.text() }
      })
      expect(forged.status).toBe(403)
      expect(forged.body).toContain('read_only_admin_key')
      expect((await deployment('paced~k'))?.health.state).toBe('closed')
    } finally {
      await reader.close()
    }
  })

  it('refuses a cross-site form post to an action route', async () => {
    const other = await admin.newPage()
    try {
      const { port } = attacker.address() as AddressInfo
      const landed = other.waitForResponse((r) => r.url().includes('/api/admin/deployments/paced~k/disable'))
      await other.goto(`http://127.0.0.1:${port}/`)
      const res = await landed
      expect(res.status()).toBe(403)
      expect(await res.text()).toContain('csrf_check_failed')
      expect((await deployment('paced~k'))?.health.state).toBe('closed')
    } finally {
      await other.close()
    }
  })

  it('never shows a provider key: not in the page, its responses or the event stream', async () => {
    // The stream as the browser gets it, read here with the page's own cookie for two ticks.
    const cookie = (await admin.cookies()).map((c) => `${c.name}=${c.value}`).join('; ')
    const abort = new AbortController()
    const res = await fetch(`${gw.url}/api/admin/events`, { headers: { cookie }, signal: abort.signal })
    expect(res.status).toBe(200)
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    let stream = ''
    while ((stream.match(/event: tick/g) ?? []).length < 2) stream += new TextDecoder().decode((await reader.read()).value)
    abort.abort()
    expect(stream).toContain('"deployments"')
    await tab('Keys')
    const html = await page.content()
    expect(bodies.length).toBeGreaterThan(5)
    for (const p of providers) {
      for (const [what, text] of [['page', html], ['stream', stream], ...bodies.map((b, i) => [`response ${i}`, b])] as const) {
        expect(text.includes(secret(p)), `${what} holds the key of ${p}`).toBe(false)
        expect(text.includes(adminKey), `${what} holds the admin key`).toBe(false)
      }
    }
  })

  it('works offline: everything the page loaded came from the gateway, and nothing broke its Content-Security-Policy', async () => {
    expect(requested.length).toBeGreaterThan(10)
    expect(requested.filter((u) => !u.startsWith(`${gw.url}/`) && !u.startsWith('data:'))).toEqual([])
    expect(cspViolations).toEqual([])
    // Dark, as this browser's system setting asks (the read-only page is light).
    expect(await page.evaluate<string>('getComputedStyle(document.body).backgroundColor')).toBe('rgb(15, 17, 21)')
  })

  it('closes the event stream when the browser leaves, and nobody watching costs no ticks', async () => {
    const viewers = async (): Promise<number> => Number(/^sluice_dashboard_viewers(?:\{\})? (\d+)$/m.exec((await send(gw.url, '/metrics')).text)?.[1])
    expect(await viewers()).toBe(1)
    await page.goto('about:blank')
    expect(await eventually(viewers, (n) => n === 0)).toBe(0)
  })

  it('ends the session when it expires: the open page falls back to the login', async () => {
    await page.goto(`${gw.url}/dashboard`)
    await page.getByText('Reload config').waitFor()
    await page.locator('.live.live').waitFor()
    skewMs = 13 * 3600_000 // past the 12 h default session_ttl
    await page.locator('#admin-key').waitFor({ timeout: 5_000 })
    const again = await page.evaluate(async () => (await fetch('/api/admin/session')).status)
    expect(again).toBe(401)
  })
})
