import { h, render } from 'preact'
import { useEffect, useMemo, useState } from 'preact/hooks'
import htm from 'htm'
import 'uplot/dist/uPlot.min.css'
import './style.css'
import { ApiError, enc, get, login, logout, send, setCsrf, type Session } from './api.js'
import { Chart, palette, type Line } from './charts.js'
import { absolute, ms, num, relative, usd } from './format.js'

const html = htm.bind(h)

// ── what the event stream and the admin API answer (only the fields the page reads) ──

interface Health { state: string; consecutive_failures: number; last_failure_kind: string | null; last_failure_at: string | null; reopens_at: string | null; disabled_reason: string | null; times_opened: number }
interface Deployment { id: string; key_id: string; provider: string; key: string; model: string; routes: string[]; health: Health; in_flight: number; concurrency_limit: number; pacer_state: string; probes: { sent: number; passed: number; failed: number; last_status: string | null; next_at: string | null } | null }
interface Pacer { id: string; provider: string; key: string; model: string | null; state: string; requests: { rate_rpm: number | null; configured_rpm: number | null; learned_rpm: number | null; paused_for_ms: number }; upstream_429: Record<string, number> }
interface Adaptive { id: string; is_adaptive: boolean; max_concurrent: number | null; effective_limit: number; learned_max_concurrent: number }
interface Adjustment { key_id: string; timestamp: string; old: number; new: number; reason: string }
interface ModelLive { queue: Record<string, number> | null; waiting: number; requests: number; errors: number; rps: number | null; errors_by_code: Record<string, number> }
interface LogEntry { seq: number; at: number; requestId: string; endpoint: string; model: string | null; provider: string | null; key: string | null; consumer: string | null; priority: string | null; status: number; outcome: string; error: string | null; totalMs: number; queuedMs: number; ttftMs: number | null; promptTokens: number | null; completionTokens: number | null }
interface Totals { requests: number; prompt_tokens: number; completion_tokens: number; cost_usd: number }
interface Budget { usd: number; period: string; period_start: string; spent_usd: number }
/** GET /api/admin/usage/daily, one consumer: its days with any request, oldest first. */
interface ConsumerUsage { days: (Totals & { day: string })[]; totals: Totals; budget: Budget | null }
interface Consumer { id: string; name: string; tier: string | null; disabled: boolean; usage?: ConsumerUsage | null }
/** The consumers panel: the UTC days it covers (today last) and the consumers with their usage. */
interface ConsumersView { days: string[]; list: Consumer[] }
interface Sample { time: number; models: Record<string, Record<string, number | null>>; keys: Record<string, Record<string, number | null>> }
interface Tick {
  at: number
  status: { requests: { in_flight: number; total: number }; pacers: Pacer[]; config: { generation: number; loaded_at: string } }
  models: Record<string, ModelLive>
  keys: Record<string, { requests: number; errors: number; rps: number | null }>
  deployments: Deployment[]
  adaptive: Adaptive[]
  adjustments: Adjustment[]
  consumers: ConsumersView | null
  log: LogEntry[]
  sample: Sample | null
}
interface HistoryData { interval_ms: number; times: number[]; models: Record<string, Record<string, (number | null)[]>>; keys: Record<string, Record<string, (number | null)[]>> }
interface VirtualKey { id: string; consumer_id: string; consumer?: string; prefix: string; name: string | null; state: string; created_at: string; last_used_at: string | null }
interface Tier { name: string }

const logCap = 1000
const historyPoints = 720
const priorities = ['urgent', 'high', 'normal', 'low'] as const

type Notify = (text: string, kind?: 'ok' | 'error') => void

// ── the page ──

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined)
  useEffect(() => {
    get<Session>('/api/admin/session').then(
      (s) => {
        setCsrf(s.csrf_token)
        setSession(s)
      },
      () => setSession(null),
    )
  }, [])
  if (session === undefined) return html`<div class="center muted">Loading…</div>`
  if (session === null) {
    return html`<${Login} onDone=${(s: Session) => {
      setCsrf(s.csrf_token)
      setSession(s)
    }} />`
  }
  return html`<${Console} session=${session} onLogout=${() => setSession(null)} />`
}

function Login(props: { onDone: (s: Session) => void }) {
  const [key, setKey] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      props.onDone(await login(key))
    } catch (err) {
      setError(err instanceof ApiError && err.status === 403 ? 'That key is not an admin key of this gateway.' : (err as Error).message)
    } finally {
      setBusy(false)
    }
  }
  return html`<main class="login">
    <form class="card" onSubmit=${submit}>
      <h1><span class="logo">◆</span> sluice</h1>
      <p class="muted">Log in with an admin key (<code>admin.keys</code> or <code>admin.read_only_keys</code>). The key is exchanged for a session cookie and is not kept by this page.</p>
      <label for="admin-key">Admin key</label>
      <input id="admin-key" name="key" type="password" autocomplete="current-password" value=${key} onInput=${(e: Event) => setKey((e.target as HTMLInputElement).value)} required />
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <button class="primary" type="submit" disabled=${busy || key.length === 0}>Log in</button>
    </form>
  </main>`
}

type TabName = 'overview' | 'keys' | 'charts' | 'consumers' | 'log'
const tabs: { id: TabName; label: string }[] = [
  { id: 'overview', label: 'Overview' },
  { id: 'keys', label: 'Keys' },
  { id: 'charts', label: 'Charts' },
  { id: 'consumers', label: 'Consumers' },
  { id: 'log', label: 'Requests' },
]

function Console(props: { session: Session; onLogout: () => void }) {
  const { session } = props
  const canAct = session.role === 'admin'
  const [tick, setTick] = useState<Tick | null>(null)
  const [live, setLive] = useState<'connecting' | 'live' | 'lost'>('connecting')
  const [log, setLog] = useState<LogEntry[]>([])
  const [history, setHistory] = useState<HistoryData | null>(null)
  const [consumers, setConsumers] = useState<ConsumersView>({ days: [], list: [] })
  const [tab, setTab] = useState<TabName>(() => (tabs.some((t) => `#${t.id}` === location.hash) ? (location.hash.slice(1) as TabName) : 'overview'))
  const [toast, setToast] = useState<{ text: string; kind: 'ok' | 'error' } | null>(null)
  const notify: Notify = (text, kind = 'ok') => {
    setToast({ text, kind })
    setTimeout(() => setToast((t) => (t?.text === text ? null : t)), 4000)
  }
  const expired = () => {
    setCsrf(null)
    props.onLogout()
  }

  useEffect(() => {
    let first = true
    const source = new EventSource('/api/admin/events')
    source.addEventListener('tick', (e) => {
      const t = JSON.parse((e as MessageEvent<string>).data) as Tick
      setLive('live')
      setTick(t)
      if (t.consumers) setConsumers(t.consumers)
      if (first) {
        first = false
        // The ring as it is now; the entries the ticks bring are merged by seq.
        get<{ data: LogEntry[] }>('/api/admin/requests').then((r) => setLog((cur) => merge(r.data, cur)), () => undefined)
        get<HistoryData>('/api/admin/history').then(setHistory, () => undefined)
      }
      if (t.log.length > 0) setLog((cur) => merge(cur, t.log))
      if (t.sample) setHistory((cur) => (cur ? appendSample(cur, t.sample as Sample) : cur))
    })
    source.addEventListener('expired', () => {
      source.close()
      expired()
    })
    source.onerror = () => {
      setLive('lost')
      // A closed session also shows up here: ask once whether it still holds.
      get<Session>('/api/admin/session').catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 401) {
          source.close()
          expired()
        }
      })
    }
    const leave = () => source.close()
    addEventListener('pagehide', leave)
    return () => {
      removeEventListener('pagehide', leave)
      source.close()
    }
  }, [])

  const act = async (label: string, call: () => Promise<unknown>): Promise<unknown> => {
    try {
      const out = await call()
      notify(label)
      return out
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) expired()
      notify(err instanceof Error ? err.message : String(err), 'error')
      return undefined
    }
  }

  const choose = (t: TabName) => {
    setTab(t)
    window.history.replaceState(null, '', `#${t}`)
  }

  return html`<div class="app">
    <header class="top">
      <div class="brand"><span class="logo">◆</span> sluice</div>
      <span class=${`live ${live}`} title=${live === 'live' ? 'Receiving live updates' : 'Reconnecting'}>${live === 'live' ? 'live' : live === 'lost' ? 'reconnecting' : 'connecting'}</span>
      <div class="spacer"></div>
      <span class="who" title=${`admin key ${session.admin_key_id}${session.expires_at ? `; session ends ${absolute(session.expires_at)}` : ''}`}>
        <span class=${`badge ${canAct ? 'ok' : 'muted'}`}>${canAct ? 'admin' : 'read-only'}</span>
        <span class="hide-narrow muted">${session.admin_key_id}</span>
      </span>
      ${canAct
        ? html`<button class="ghost" data-action="reload" onClick=${() => act('Configuration reloaded', () => send('POST', '/api/admin/reload'))}>Reload config</button>`
        : null}
      <button class="ghost" onClick=${async () => {
        await logout()
        expired()
      }}>Log out</button>
    </header>
    <nav class="tabs" role="tablist">
      ${tabs.map((t) => html`<button role="tab" aria-selected=${tab === t.id} class=${tab === t.id ? 'tab on' : 'tab'} onClick=${() => choose(t.id)}>${t.label}</button>`)}
    </nav>
    <main class="content" data-at=${tick?.at}>
      ${tick === null
        ? html`<p class="center muted">Waiting for the first update…</p>`
        : tab === 'overview'
          ? html`<${Overview} tick=${tick} history=${history} />`
          : tab === 'keys'
            ? html`<${Keys} tick=${tick} canAct=${canAct} act=${act} />`
            : tab === 'charts'
              ? html`<${Charts} tick=${tick} history=${history} />`
              : tab === 'consumers'
                ? html`<${Consumers} consumers=${consumers} canAct=${canAct} act=${act} />`
                : html`<${RequestLog} log=${log} />`}
    </main>
    ${toast ? html`<div class=${`toast ${toast.kind}`} role="status">${toast.text}</div>` : null}
  </div>`
}

function merge(a: readonly LogEntry[], b: readonly LogEntry[]): LogEntry[] {
  const bySeq = new Map<number, LogEntry>()
  for (const e of a) bySeq.set(e.seq, e)
  for (const e of b) bySeq.set(e.seq, e)
  return [...bySeq.values()].sort((x, y) => x.seq - y.seq).slice(-logCap)
}

function appendSample(cur: HistoryData, s: Sample): HistoryData {
  if (cur.times.at(-1) === s.time) return cur
  const cut = cur.times.length >= historyPoints ? 1 : 0
  const push = (rows: Record<string, Record<string, (number | null)[]>>, point: Record<string, Record<string, number | null>>) => {
    const out: Record<string, Record<string, (number | null)[]>> = {}
    for (const id of new Set([...Object.keys(rows), ...Object.keys(point)])) {
      const row = rows[id] ?? {}
      const p = point[id] ?? {}
      const series: Record<string, (number | null)[]> = {}
      for (const name of new Set([...Object.keys(row), ...Object.keys(p)])) {
        const prev = row[name] ?? cur.times.map(() => null)
        series[name] = [...prev.slice(cut), p[name] ?? null]
      }
      out[id] = series
    }
    return out
  }
  return { ...cur, times: [...cur.times.slice(cut), s.time], models: push(cur.models, s.models), keys: push(cur.keys, s.keys) }
}

// ── overview ──

function Overview(props: { tick: Tick; history: HistoryData | null }) {
  const { tick } = props
  const models = Object.entries(tick.models)
  const keys = keyRows(tick)
  const out = keys.filter((k) => k.health.state !== 'closed')
  const waits = lastPoint(props.history)
  return html`<section>
    <div class="stats">
      <${Stat} label="In flight" value=${num(tick.status.requests.in_flight)} />
      <${Stat} label="Waiting" value=${num(models.reduce((n, [, m]) => n + (m.waiting ?? 0), 0))} />
      <${Stat} label="Requests/s" value=${num(models.reduce((n, [, m]) => n + (m.rps ?? 0), 0))} />
      <${Stat} label="Keys out" value=${`${out.length} / ${keys.length}`} tone=${out.length > 0 ? 'warn' : ''} />
    </div>
    ${out.length > 0
      ? html`<div class="banner warn">${out.map((k) => html`<div><b>${k.id}</b> is ${k.health.state}${reason(k.health) ? html` — ${reason(k.health)}` : null}${k.health.reopens_at ? html`, retried <${When} at=${k.health.reopens_at} />` : null}</div>`)}</div>`
      : null}
    <h2>Models</h2>
    ${models.length === 0
      ? html`<p class="empty">No managed models yet: add a <code>models:</code> section to sluice.yaml (a route name with its targets), then reload.</p>`
      : html`<div class="grid">${models.map(([name, m]) => html`<${ModelCard} name=${name} m=${m} w=${waits?.models[name] ?? null} />`)}</div>`}
  </section>`
}

function lastPoint(h: HistoryData | null): { models: Record<string, Record<string, number | null>> } | null {
  if (!h || h.times.length === 0) return null
  const models: Record<string, Record<string, number | null>> = {}
  for (const [name, series] of Object.entries(h.models)) {
    models[name] = {}
    for (const [s, values] of Object.entries(series)) {
      // The newest non-empty value: a quiet interval has no percentile.
      let v: number | null = null
      for (let i = values.length - 1; i >= 0 && i >= values.length - 12; i--) if (values[i] !== null) { v = values[i] as number; break }
      ;(models[name] as Record<string, number | null>)[s] = v
    }
  }
  return { models }
}

function Stat(props: { label: string; value: string; tone?: string }) {
  return html`<div class=${`stat ${props.tone ?? ''}`}><div class="value">${props.value}</div><div class="label">${props.label}</div></div>`
}

function ModelCard(props: { name: string; m: ModelLive; w: Record<string, number | null> | null }) {
  const { m, w } = props
  const q = m.queue ?? {}
  const max = Math.max(1, ...priorities.map((p) => q[p] ?? 0))
  const errors = Object.entries(m.errors_by_code)
  return html`<article class="card model" data-model=${props.name}>
    <header><h3>${props.name}</h3><span class="muted">${num(m.rps)} req/s</span></header>
    <div class="queue" aria-label="queue depth by priority">
      ${priorities.map((p) => html`<div class="qrow"><span class="qlabel">${p}</span><span class="bar"><span class=${`fill p-${p}`} style=${{ width: `${((q[p] ?? 0) / max) * 100}%` }}></span></span><span class="qnum" data-queue=${p}>${q[p] ?? 0}</span></div>`)}
    </div>
    <dl class="kv">
      <dt>waiting</dt><dd data-field="waiting">${m.waiting}</dd>
      <dt>wait p50 / p99</dt><dd>${ms(w?.wait_p50_ms)} / ${ms(w?.wait_p99_ms)}</dd>
      <dt>latency p50</dt><dd>${ms(w?.latency_p50_ms)}</dd>
      <dt>requests</dt><dd>${num(m.requests)}${m.errors > 0 ? html` <span class="muted">(${m.errors} failed)</span>` : null}</dd>
    </dl>
    ${errors.length > 0 ? html`<div class="codes">${errors.map(([code, n]) => html`<span class="badge bad">${code} ${n}</span>`)}</div>` : null}
  </article>`
}

// ── keys ──

interface KeyRow { id: string; provider: string; key: string; health: Health; probes: Deployment['probes']; inFlight: number; limit: number; models: string[]; pacer: Pacer | null; adaptive: Adaptive | null; rps: number | null }

function keyRows(tick: Tick): KeyRow[] {
  const rows = new Map<string, KeyRow>()
  for (const d of tick.deployments) {
    const row = rows.get(d.key_id)
    if (row) {
      row.models.push(d.model)
      continue
    }
    const pacer = tick.status.pacers.find((p) => p.provider === d.provider && p.key === d.key) ?? null
    const adaptive = tick.adaptive.find((a) => a.id === d.key_id) ?? null
    rows.set(d.key_id, { id: d.key_id, provider: d.provider, key: d.key, health: d.health, probes: d.probes, inFlight: d.in_flight, limit: d.concurrency_limit, models: [d.model], pacer, adaptive, rps: tick.keys[d.key_id]?.rps ?? null })
  }
  return [...rows.values()]
}

function reason(h: Health): string | null {
  if (h.disabled_reason === 'admin') return 'disabled by an admin'
  if (h.disabled_reason === 'auth') return 'the upstream refused its credentials (401/403)'
  if (h.disabled_reason === 'quota') return 'its quota is used up (insufficient_quota)'
  if (h.disabled_reason) return h.disabled_reason
  if (h.last_failure_kind) return `${h.consecutive_failures} failures in a row, last: ${h.last_failure_kind}`
  return null
}

function When(props: { at: string | number | null }) {
  return html`<time datetime=${typeof props.at === 'number' ? new Date(props.at).toISOString() : (props.at ?? '')} title=${absolute(props.at)}>${relative(props.at)}</time>`
}

const stateTone: Record<string, string> = { closed: 'ok', steady: 'ok', recovering: 'info', retreating: 'warn', paused: 'warn', 'half-open': 'warn', open: 'bad', disabled: 'bad' }

function Keys(props: { tick: Tick; canAct: boolean; act: (label: string, call: () => Promise<unknown>) => Promise<unknown> }) {
  const rows = keyRows(props.tick)
  if (rows.length === 0) return html`<p class="empty">No upstream keys: add <code>providers:</code> with <code>keys:</code> and a model that uses them to sluice.yaml.</p>`
  return html`<section class="keys">${rows.map((k) => html`<${KeyCard} k=${k} canAct=${props.canAct} act=${props.act} />`)}</section>`
}

function KeyCard(props: { k: KeyRow; canAct: boolean; act: (label: string, call: () => Promise<unknown>) => Promise<unknown> }) {
  const { k, act } = props
  const [fixed, setFixed] = useState(String(k.adaptive?.max_concurrent ?? k.limit))
  const p = k.pacer
  const configured = p?.requests.configured_rpm ?? null
  const learned = p?.requests.learned_rpm ?? null
  const rate = p?.requests.rate_rpm ?? null
  const ceiling = Math.min(configured ?? Infinity, learned ?? Infinity)
  const r429 = Object.entries(p?.upstream_429 ?? {}).filter(([, n]) => n > 0)
  const dep = `/api/admin/deployments/${enc(k.id)}`
  const ad = `/api/admin/adaptive/keys/${enc(k.id)}`
  const out = k.health.state !== 'closed'
  return html`<article class="card key" data-key=${k.id}>
    <header>
      <h3>${k.id}</h3>
      <span class=${`badge ${stateTone[k.health.state] ?? ''}`} data-field="health">${k.health.state}</span>
      <span class=${`badge ${stateTone[p?.state ?? ''] ?? 'muted'}`} title="pacer state" data-field="pacer">${p?.state ?? 'unpaced'}</span>
    </header>
    ${out ? html`<p class="reason" data-field="reason">${reason(k.health) ?? 'out of service'}${k.health.reopens_at ? html` · retried <${When} at=${k.health.reopens_at} />` : null}</p>` : null}
    <div class="meters">
      <${Meter} label="rate" value=${rate} max=${Number.isFinite(ceiling) ? ceiling : null} unit="rpm"
        note=${`configured ${configured === null ? 'none' : num(configured)} · learned ${learned === null ? '—' : num(learned)}`} />
      <${Meter} label="in flight" value=${k.inFlight} max=${k.limit} unit="" field="limit"
        note=${k.adaptive ? (k.adaptive.is_adaptive ? html`adaptive, learned <span data-field="learned">${num(k.adaptive.learned_max_concurrent)}</span>` : `fixed at ${k.adaptive.max_concurrent}`) : ''} />
    </div>
    <dl class="kv">
      <dt>sent</dt><dd><span data-field="rps">${num(k.rps)}</span> req/s</dd>
      <dt>429s</dt><dd>${r429.length === 0 ? 'none' : r429.map(([t, n]) => html`<span class="badge warn">${t} ${n}</span> `)}</dd>
      <dt>serves</dt><dd>${k.models.join(', ')}</dd>
      <dt>probes</dt><dd>${k.probes ? html`${k.probes.passed}/${k.probes.sent} passed${k.probes.last_status ? ` · last answer ${k.probes.last_status}` : ''}${k.probes.next_at ? html` · next <${When} at=${k.probes.next_at} />` : null}` : 'no health check'}</dd>
      ${k.health.last_failure_at ? html`<dt>last failure</dt><dd><${When} at=${k.health.last_failure_at} /> (${k.health.last_failure_kind})</dd>` : null}
    </dl>
    ${props.canAct
      ? html`<div class="actions">
          ${k.health.state === 'disabled' || k.health.state === 'open'
            ? html`<button class="primary" data-action="enable" onClick=${() => act(`${k.id} enabled`, () => send('POST', `${dep}/enable`))}>Enable</button>`
            : html`<button data-action="disable" onClick=${() => act(`${k.id} disabled`, () => send('POST', `${dep}/disable`))}>Disable</button>`}
          <button data-action="probe" onClick=${() => act(`Probe of ${k.id} sent`, () => send('POST', `${dep}/probe`))}>Probe</button>
          ${k.adaptive?.is_adaptive
            ? html`<span class="inline"><input aria-label="fixed limit" type="number" min="1" max="100" value=${fixed} onInput=${(e: Event) => setFixed((e.target as HTMLInputElement).value)} />
                <button data-action="fix" onClick=${() => act(`${k.id} fixed at ${fixed}`, () => send('PATCH', `${ad}/mode`, { enabled: false, fixed_limit: Number(fixed) }))}>Fix limit</button></span>`
            : html`<button data-action="adaptive" onClick=${() => act(`${k.id} learns its limit`, () => send('PATCH', `${ad}/mode`, { enabled: true }))}>Make adaptive</button>`}
          <button class="ghost" data-action="reset" onClick=${() => act(`${k.id}: learning reset`, () => send('DELETE', `${ad}/learning`))}>Reset learning</button>
        </div>`
      : null}
  </article>`
}

/** `field` names the limit for tests that read it off the page (data-field). */
function Meter(props: { label: string; value: number | null; max: number | null; unit: string; note: unknown; field?: string }) {
  const pct = props.value !== null && props.max !== null && props.max > 0 ? Math.min(100, (props.value / props.max) * 100) : 0
  return html`<div class="meter">
    <div class="mhead"><span>${props.label}</span><span><b>${num(props.value)}</b> / <span data-field=${props.field}>${props.max === null ? '∞' : num(props.max)}</span> ${props.unit}</span></div>
    <div class="bar"><span class=${`fill ${pct > 90 ? 'hot' : ''}`} style=${{ width: `${pct}%` }}></span></div>
    <div class="muted small">${props.note}</div>
  </div>`
}

// ── charts ──

function Charts(props: { tick: Tick; history: HistoryData | null }) {
  const h = props.history
  if (!h) return html`<p class="center muted">Loading the last hour…</p>`
  const keyIds = Object.keys(h.keys)
  const models = Object.keys(h.models)
  const color = (i: number) => palette[i % palette.length] as string
  const sumModels = (series: string): (number | null)[] =>
    h.times.map((_, i) => {
      let total: number | null = null
      for (const m of models) {
        const v = h.models[m]?.[series]?.[i]
        if (v !== null && v !== undefined) total = (total ?? 0) + v
      }
      return total
    })
  const byKey = (series: string, dash = false): Line[] => keyIds.map((id, i) => ({ label: `${id}${dash ? ' 429' : ''}`, values: h.keys[id]?.[series] ?? [], color: color(i), dash }))
  const marks = props.tick.adjustments.map((a) => Date.parse(a.timestamp)).filter((t) => Number.isFinite(t))
  const latency: Line[] = models.flatMap((m, i) => [
    { label: `${m} p50`, values: h.models[m]?.latency_p50_ms ?? [], color: color(i) },
    { label: `${m} p99`, values: h.models[m]?.latency_p99_ms ?? [], color: color(i), dash: true },
    { label: `${m} TTFT`, values: h.models[m]?.ttft_p50_ms ?? [], color: color(i + 4) },
  ])
  return html`<section class="charts">
    <p class="muted small">The last hour, one point every ${Math.round(h.interval_ms / 1000)} s, kept in memory by the gateway.</p>
    <div class="grid wide">
      <${Chart} title="Requests/s and 429s/s per key" unit="" times=${h.times} lines=${[...byKey('rps'), ...byKey('r429_per_s', true)]} empty="No key has been used yet." />
      <${Chart} title="Concurrency limit per key (dashed: learned; markers: each change)" unit="" times=${h.times} lines=${[...byKey('concurrency_limit'), ...keyIds.map((id, i) => ({ label: `${id} learned`, values: h.keys[id]?.learned_limit ?? [], color: color(i), dash: true }))]} marks=${marks} />
      <${Chart} title="Queue depth by priority" unit="" times=${h.times} lines=${priorities.map((p, i) => ({ label: p, values: sumModels(`queue_${p}`), color: color(i) }))} />
      <${Chart} title="Latency and time to first token" unit="ms" times=${h.times} lines=${latency} empty="No request has been answered yet." />
      <${Chart} title="Paced rate per key" unit="" times=${h.times} lines=${byKey('rate_rpm')} />
      <${Chart} title="Queue wait p50 / p99" unit="ms" times=${h.times} lines=${models.flatMap((m, i) => [{ label: `${m} p50`, values: h.models[m]?.wait_p50_ms ?? [], color: color(i) }, { label: `${m} p99`, values: h.models[m]?.wait_p99_ms ?? [], color: color(i), dash: true }])} />
    </div>
  </section>`
}

// ── consumers ──

function Consumers(props: { consumers: ConsumersView; canAct: boolean; act: (label: string, call: () => Promise<unknown>) => Promise<unknown> }) {
  const { act } = props
  const [tiers, setTiers] = useState<Tier[]>([])
  const [keys, setKeys] = useState<VirtualKey[]>([])
  const [name, setName] = useState('')
  const [tier, setTier] = useState('')
  const [created, setCreated] = useState<{ consumer: string; key: string } | null>(null)
  const [list, setList] = useState<Consumer[]>(props.consumers.list)
  const reloadKeys = () => get<{ data: VirtualKey[] }>('/api/admin/keys').then((r) => setKeys(r.data), () => undefined)
  // A new or changed consumer shows at once; its usage comes with the stream's next read of it.
  const reloadConsumers = () => get<{ data: Consumer[] }>('/api/admin/consumers').then((r) => setList((cur) => r.data.map((c) => ({ ...c, usage: cur.find((x) => x.id === c.id)?.usage ?? props.consumers.list.find((x) => x.id === c.id)?.usage })) ), () => undefined)
  useEffect(() => {
    get<{ data: Tier[] }>('/api/admin/tiers').then((r) => setTiers(r.data), () => undefined)
    void reloadKeys()
  }, [])
  useEffect(() => setList(props.consumers.list), [props.consumers])
  const days = props.consumers.days
  const today = days.at(-1)
  const create = async (e: Event) => {
    e.preventDefault()
    const out = await act(`Consumer ${name} created`, () => send('POST', '/api/admin/consumers', { name, tier: tier === '' ? null : tier }))
    if (out) {
      setName('')
      await reloadConsumers()
    }
  }
  return html`<section>
    ${props.canAct
      ? html`<form class="card row-form" onSubmit=${create}>
          <label>New consumer <input name="consumer-name" value=${name} placeholder="team-a" onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)} required /></label>
          <label>Tier <select name="tier" value=${tier} onChange=${(e: Event) => setTier((e.target as HTMLSelectElement).value)}>
            <option value="">none (no limits)</option>
            ${tiers.map((t) => html`<option value=${t.name}>${t.name}</option>`)}
          </select></label>
          <button class="primary" type="submit" data-action="create-consumer">Create</button>
        </form>`
      : null}
    ${created
      ? html`<div class="card secret" role="alert">
          <b>Key for ${created.consumer}</b> — copy it now, it is shown this once:
          <code class="key-value" data-field="new-key">${created.key}</code>
          <button class="ghost" onClick=${() => setCreated(null)}>Done</button>
        </div>`
      : null}
    ${list.length === 0
      ? html`<p class="empty">No consumers yet: ${props.canAct ? 'create one above' : 'an admin can create one'}, or run <code>sluice keys create</code>. Without consumers, <code>auth: off</code> serves everyone as one anonymous caller.</p>`
      : html`<div class="table-wrap"><table class="table stack">
          <thead><tr><th>Consumer</th><th>Tier</th><th class="n">Requests today</th><th class="n">Tokens today</th><th class="n">Spend today</th><th>Budget</th><th>Last ${days.length} days (UTC)</th><th>Keys</th>${props.canAct ? html`<th></th>` : null}</tr></thead>
          <tbody>${list.map((c) => {
            const now = c.usage?.days.find((d) => d.day === today)
            const mine = keys.filter((k) => k.consumer_id === c.id && k.state === 'active')
            return html`<tr data-consumer=${c.name} class=${c.disabled ? 'off' : ''}>
              <td data-label="Consumer"><b>${c.name}</b>${c.disabled ? html` <span class="badge bad">disabled</span>` : null}</td>
              <td data-label="Tier">${c.tier ?? html`<span class="muted">none</span>`}</td>
              <td class="n" data-label="Requests today" data-field="requests">${num(now?.requests ?? 0)}</td>
              <td class="n" data-label="Tokens today">${num((now?.prompt_tokens ?? 0) + (now?.completion_tokens ?? 0))}</td>
              <td class="n" data-label="Spend today" data-field="spend">${usd(now?.cost_usd ?? 0)}</td>
              <td data-label="Budget" data-field="budget"><${BudgetCell} budget=${c.usage?.budget ?? null} /></td>
              <td data-label=${`Last ${days.length} days`}><${Days} days=${days} usage=${c.usage ?? null} /></td>
              <td data-label="Keys">${mine.length === 0 ? html`<span class="muted">none</span>` : mine.map((k) => html`<span class="chip"><code>${k.prefix}…</code>${props.canAct ? html`<button class="x" title="Revoke" data-action="revoke" onClick=${async () => { await act(`Key ${k.prefix}… revoked`, () => send('POST', `/api/admin/keys/${enc(k.id)}/revoke`)); await reloadKeys() }}>×</button>` : null}</span>`)}</td>
              ${props.canAct
                ? html`<td class="actions">
                    <button data-action="create-key" onClick=${async () => {
                      const out = (await act(`Key created for ${c.name}`, () => send('POST', `/api/admin/consumers/${enc(c.id)}/keys`, {}))) as { key?: string } | undefined
                      if (out?.key) setCreated({ consumer: c.name, key: out.key })
                      await reloadKeys()
                    }}>New key</button>
                    <button class="ghost" data-action=${c.disabled ? 'enable-consumer' : 'disable-consumer'} onClick=${async () => {
                      await act(`${c.name} ${c.disabled ? 'enabled' : 'disabled'}`, () => send('PATCH', `/api/admin/consumers/${enc(c.id)}`, { disabled: !c.disabled }))
                      await reloadConsumers()
                    }}>${c.disabled ? 'Enable' : 'Disable'}</button>
                  </td>`
                : null}
            </tr>`
          })}</tbody>
        </table></div>`}
  </section>`
}

const periodNames: Record<string, string> = { day: 'today', week: 'this week', month: 'this month', total: 'in all' }

function BudgetCell(props: { budget: Budget | null }) {
  const b = props.budget
  if (b === null) return html`<span class="muted">none</span>`
  const share = b.usd > 0 ? b.spent_usd / b.usd : 1
  return html`<span title=${`since ${absolute(b.period_start)}`}>${usd(b.spent_usd)} <span class="muted">of ${usd(b.usd)} ${periodNames[b.period] ?? b.period}</span></span>
    <div class="bar thin"><span class=${`fill ${share > 0.9 ? 'hot' : ''}`} style=${{ width: `${Math.min(100, share * 100)}%` }}></span></div>`
}

/** One bar per day (height: requests; hover: the numbers), and the days with requests as a table on demand. */
function Days(props: { days: string[]; usage: ConsumerUsage | null }) {
  const byDay = new Map((props.usage?.days ?? []).map((d) => [d.day, d]))
  if (byDay.size === 0) return html`<span class="muted">no requests</span>`
  const most = Math.max(...[...byDay.values()].map((d) => d.requests))
  const tokens = (d: Totals) => d.prompt_tokens + d.completion_tokens
  return html`<div class="days" data-field="days">
    <div class="spark" aria-hidden="true">${props.days.map((day) => {
      const d = byDay.get(day)
      return d
        ? html`<span title=${`${day}: ${num(d.requests)} requests, ${num(tokens(d))} tokens, ${usd(d.cost_usd)}`} style=${{ height: `${Math.max(12, (d.requests / most) * 100)}%` }}></span>`
        : html`<span class="none" title=${`${day}: no requests`}></span>`
    })}</div>
    <details>
      <summary class="small muted">${num(props.usage?.totals.requests)} ${props.usage?.totals.requests === 1 ? 'request' : 'requests'} · ${usd(props.usage?.totals.cost_usd)}</summary>
      <table class="table days-table">
        <thead><tr><th>Day</th><th class="n">Requests</th><th class="n">Tokens</th><th class="n">Spend</th></tr></thead>
        <tbody>${[...byDay.values()].reverse().map((d) => html`<tr data-day=${d.day}><td>${d.day}</td><td class="n">${num(d.requests)}</td><td class="n">${num(tokens(d))}</td><td class="n">${usd(d.cost_usd)}</td></tr>`)}</tbody>
      </table>
    </details>
  </div>`
}

// ── request log ──

function RequestLog(props: { log: LogEntry[] }) {
  const [model, setModel] = useState('')
  const [key, setKey] = useState('')
  const [consumer, setConsumer] = useState('')
  const [status, setStatus] = useState('')
  const options = useMemo(() => {
    const set = (f: (e: LogEntry) => string | null) => [...new Set(props.log.map(f).filter((v): v is string => v !== null))].sort()
    return { models: set((e) => e.model), keys: set((e) => (e.provider && e.key ? `${e.provider}~${e.key}` : null)), consumers: set((e) => e.consumer), statuses: set((e) => String(e.status)) }
  }, [props.log])
  const shown = props.log
    .filter((e) => (model === '' || e.model === model) && (key === '' || `${e.provider}~${e.key}` === key) && (consumer === '' || e.consumer === consumer) && (status === '' || String(e.status) === status))
    .slice(-200)
    .reverse()
  const select = (label: string, value: string, set: (v: string) => void, values: string[]) =>
    html`<label>${label} <select name=${label} value=${value} onChange=${(e: Event) => set((e.target as HTMLSelectElement).value)}><option value="">all</option>${values.map((v) => html`<option value=${v}>${v}</option>`)}</select></label>`
  return html`<section>
    <div class="filters">
      ${select('model', model, setModel, options.models)}
      ${select('key', key, setKey, options.keys)}
      ${select('consumer', consumer, setConsumer, options.consumers)}
      ${select('status', status, setStatus, options.statuses)}
      <span class="muted small">${props.log.length} of the last ${logCap} kept · newest 200 shown</span>
    </div>
    ${props.log.length === 0
      ? html`<p class="empty">No requests yet. Send one to <code>/v1/chat/completions</code> and it appears here within a second.</p>`
      : html`<div class="table-wrap"><table class="table log stack">
          <thead><tr><th>When</th><th>Model</th><th>Key</th><th>Consumer</th><th>Status</th><th class="n">Queued</th><th class="n">Total</th><th class="n hide-narrow">Tokens</th></tr></thead>
          <tbody>${shown.map((e) => html`<tr data-request=${e.requestId}>
            <td data-label="When"><${When} at=${e.at} /></td>
            <td data-label="Model">${e.model ?? '—'}${e.priority ? html` <span class="muted small">${e.priority}</span>` : null}</td>
            <td data-label="Key">${e.key ? `${e.provider}~${e.key}` : '—'}</td>
            <td data-label="Consumer">${e.consumer ?? '—'}</td>
            <td data-label="Status"><span class=${`badge ${e.status < 400 ? 'ok' : e.status === 499 ? 'muted' : 'bad'}`} title=${e.error ?? e.outcome}>${e.status}</span>${e.error ? html` <span class="muted small">${e.error}</span>` : null}</td>
            <td class="n" data-label="Queued">${ms(e.queuedMs)}</td>
            <td class="n" data-label="Total">${ms(e.totalMs)}</td>
            <td class="n hide-narrow" data-label="Tokens">${e.promptTokens === null ? '—' : `${e.promptTokens} → ${e.completionTokens ?? 0}`}</td>
          </tr>`)}</tbody>
        </table></div>`}
  </section>`
}

render(html`<${App} />`, document.getElementById('app') as HTMLElement)
