import type { Dispatcher } from 'undici'
import type { KeyPacer } from '../core/pacer/key-pacer.js'
import type { BreakerEvents, HealthFailure, ProbeBreaker } from './breaker-port.js'
import { exchange, transportFailure, type CheckResponse } from './exchange.js'
import { systemTimers, type Clock, type TimerHandle, type Timers } from '../core/clock.js'
import type { SharedState } from '../state/index.js'
import { ProbeLeadership } from './probe-leadership.js'

/** What a probe needs of a key's pacer (KeyPacer has it). */
export type ProbePacer = Pick<KeyPacer, 'wait' | 'take' | 'settled'>

/** One key a prober may probe: compiled once per config generation by the caller. */
export interface ProbeTarget {
  /** The breaker id, provider~key. */
  readonly id: string
  readonly breaker: ProbeBreaker
  /** The pacer a probe is charged to (one request, `tokens` tokens); null for a base-URL check. */
  readonly pacer: ProbePacer | null
  readonly tokens: number
  readonly dispatcher: Dispatcher
  readonly origin: string
  readonly method: 'GET' | 'POST'
  readonly path: string
  /** Flat [name, value, …], credentials included: never logged, never put in a result. */
  readonly headers: readonly string[]
  readonly body: Buffer | null
  readonly intervalMs: number
  readonly timeoutMs: number
}

export interface ProbeResult {
  /** A 2xx with a usable body. */
  readonly ok: boolean
  /** The upstream's status; 0 when the exchange failed before one arrived. */
  readonly status: number
  /** What the breaker was told; null when it passed, or when the answer says nothing about health (429, 529). */
  readonly failure: HealthFailure | null
  /** Clock time the result came in. */
  readonly at: number
}

export interface ProbeStats {
  readonly id: string
  readonly sent: number
  readonly passed: number
  readonly failed: number
  /** Answers that were neither pass nor fail: the upstream was pacing or overloaded. */
  readonly inconclusive: number
  readonly inFlight: boolean
  readonly last: ProbeResult | null
  /** Clock time of the next scheduled probe, or null when none is (the key is healthy). */
  readonly nextAt: number | null
}

export interface ProberOptions {
  readonly clock: Clock
  readonly breakers: BreakerEvents
  /** [0, 1) like Math.random; spreads the probes of keys that failed together. */
  readonly rand?: () => number
  /** Told of every finished probe (metrics, events). */
  readonly onResult?: (target: ProbeTarget, result: ProbeResult) => void
  readonly timers?: Timers
  /** Shared state: with Redis, only the probe leader of a provider probes its keys. */
  readonly shared?: SharedState | null
  /** Redis calls that failed for the probe leadership (it retries by itself). */
  readonly onSharedError?: (err: unknown) => void
  /** This instance became or stopped being the probe leader of a provider. */
  readonly onLeadership?: (provider: string, leader: boolean, epoch: number) => void
  /** A key that wanted probes no longer does: its probes, the probe leader's or a live trial restored it. */
  readonly onBack?: (target: ProbeTarget) => void
}

/**
 * Probes only lengthen the interval, by up to this share: keys that failed together spread
 * apart, and no key is ever probed twice within one interval.
 */
export const probeJitter = 0.1
/** A one-token answer is tiny; anything longer than this is not a usable chat answer. */
const maxProbeBody = 64 * 1024

class ProbeTimeout extends Error {
  constructor() {
    super('probe timed out')
    this.name = 'ProbeTimeout'
  }
}

class ProbeCancelled extends Error {
  constructor() {
    super('probe cancelled')
    this.name = 'ProbeCancelled'
  }
}

/** Per target: its schedule, its one in-flight probe, and its counters. */
class Slot {
  timer: TimerHandle | null = null
  dueAt: number | null = null
  /** The breaker wanted probes at the last look; a change from false to true starts an outage. */
  wanted = false
  wantedSince = -Infinity
  lastStartAt = -Infinity
  running: Promise<ProbeResult | null> | null = null
  abort: AbortController | null = null
  /** The running probe's timeout. */
  deadline: TimerHandle | null = null
  sent = 0
  passed = 0
  failed = 0
  inconclusive = 0
  last: ProbeResult | null = null

  constructor(public target: ProbeTarget) {}
}

/**
 * Active health probes for keys that are out of service (breaker open or half-open, or
 * disabled after a 401/403); a healthy key is never probed (DESIGN.md §6, Failover).
 *
 * Event driven, like the dispatcher: a breaker transition into "wants probes" arms one timer
 * per key, one interval (plus up to 10 % jitter) later; the end of a probe arms the next one,
 * one interval after that probe started. A probe goes through the key's pacer like any
 * request — when the pacer says wait, the timer is re-armed for exactly that wait — so probing
 * a 40-requests-per-minute key every 30 s can never push it past its budget, and a key the
 * upstream is pausing is not hammered. At most one probe per key is in flight, and two never
 * start within one interval (the admin's probeNow excepted: it still waits for the pacer).
 */
export class Prober {
  readonly #clock: Clock
  readonly #rand: () => number
  readonly #timers: Timers
  readonly #onResult: ((target: ProbeTarget, result: ProbeResult) => void) | null
  readonly #onBack: (target: ProbeTarget) => void
  readonly #unlisten: () => void
  /** With state on Redis: who probes each provider; null for one instance, which probes everything itself. */
  readonly #leadership: ProbeLeadership | null
  #slots = new Map<string, Slot>()
  /** probeNow calls waiting for a pacer slot; close() ends them. */
  readonly #sleeps = new Set<{ handle: TimerHandle; wake: () => void }>()
  #closed = false

  constructor(opts: ProberOptions) {
    this.#clock = opts.clock
    this.#rand = opts.rand ?? Math.random
    this.#timers = opts.timers ?? systemTimers
    this.#onResult = opts.onResult ?? null
    this.#onBack = opts.onBack ?? (() => {})
    const shared = opts.shared
    this.#leadership =
      shared?.kind === 'redis'
        ? new ProbeLeadership({
            shared,
            timers: this.#timers,
            rand: this.#rand,
            ...(opts.onSharedError ? { onError: opts.onSharedError } : {}),
            ...(opts.onLeadership ? { onChange: opts.onLeadership } : {}),
          })
        : null
    this.#unlisten = opts.breakers.listen((b) => {
      const slot = this.#slots.get(b.id)
      if (slot !== undefined) this.#look(slot, this.#clock.now())
    })
  }

  /**
   * The keys to watch, at start and after every reload. A key that stays keeps its schedule
   * (re-timed if its interval changed), its counters and any probe in flight (the new target
   * is used from its next probe on); a key that goes has its timer cleared and its probe aborted.
   */
  setTargets(targets: readonly ProbeTarget[]): void {
    if (this.#closed) return
    const next = new Map<string, Slot>()
    for (const t of targets) {
      const slot = this.#slots.get(t.id)
      if (slot === undefined) next.set(t.id, new Slot(t))
      else {
        // A new interval applies at once: the next probe is re-timed from the same base.
        if (slot.target.intervalMs !== t.intervalMs) this.#disarm(slot)
        slot.target = t
        next.set(t.id, slot)
      }
    }
    for (const [id, slot] of this.#slots) if (!next.has(id)) this.#drop(slot)
    this.#slots = next
    this.#leadership?.watch(new Set(targets.map((t) => providerOf(t.id))))
    const now = this.#clock.now()
    for (const slot of next.values()) this.#look(slot, now)
  }

  /**
   * One probe now, whatever the key's state (the admin's "probe" button). It still waits for
   * the pacer, and joins a probe already in flight rather than starting a second. Its result
   * reaches the breaker only if the breaker wants probes: a healthy key is not tripped by a
   * manual check. Null for an unknown id, or when the prober closes first.
   */
  async probeNow(id: string): Promise<ProbeResult | null> {
    for (;;) {
      const slot = this.#slots.get(id)
      if (slot === undefined || this.#closed) return null
      if (slot.running !== null) return slot.running
      const now = this.#clock.now()
      const wait = slot.target.pacer?.wait(now, slot.target.tokens, false) ?? 0
      if (wait <= 0) return this.#start(slot, now)
      await this.#sleep(wait)
    }
  }

  /** Which providers this instance probes as leader (state: redis); null for one instance. */
  leadership(): Record<string, { leader: boolean; epoch: number }> | null {
    return this.#leadership?.snapshot() ?? null
  }

  /** Counters per target, in the order they were given, for the admin API. */
  stats(): ProbeStats[] {
    const out: ProbeStats[] = []
    for (const [id, s] of this.#slots) {
      out.push({ id, sent: s.sent, passed: s.passed, failed: s.failed, inconclusive: s.inconclusive, inFlight: s.running !== null, last: s.last, nextAt: s.dueAt })
    }
    return out
  }

  /** Clears every timer and aborts probes in flight; nothing is reported after this. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#unlisten()
    void this.#leadership?.close()
    for (const slot of this.#slots.values()) this.#drop(slot)
    this.#slots.clear()
    for (const s of this.#sleeps) {
      this.#timers.clearTimeout(s.handle)
      s.wake()
    }
    this.#sleeps.clear()
  }

  /** Brings a slot's schedule in line with its breaker. Idempotent; called on every transition. */
  #look(slot: Slot, now: number): void {
    const wants = slot.target.breaker.wantsProbe(now)
    if (wants && !slot.wanted) slot.wantedSince = now
    const back = slot.wanted && !wants
    slot.wanted = wants
    if (back) this.#onBack(slot.target)
    if (!wants) return this.#disarm(slot)
    // A probe in flight arms the next one when it ends.
    if (slot.running !== null || slot.timer !== null) return
    // One interval after the outage began or the last probe started, whichever is later.
    const base = Math.max(slot.wantedSince, slot.lastStartAt)
    const due = base + slot.target.intervalMs * (1 + probeJitter * this.#rand())
    this.#arm(slot, Math.max(now, due), now)
  }

  #arm(slot: Slot, due: number, now: number): void {
    this.#disarm(slot)
    slot.dueAt = due
    slot.timer = this.#timers.setTimeout(() => this.#fire(slot), Math.max(0, Math.ceil(due - now)))
  }

  #disarm(slot: Slot): void {
    if (slot.timer !== null) this.#timers.clearTimeout(slot.timer)
    slot.timer = null
    slot.dueAt = null
  }

  #fire(slot: Slot): void {
    slot.timer = null
    slot.dueAt = null
    if (this.#closed || this.#slots.get(slot.target.id) !== slot || slot.running !== null) return
    const now = this.#clock.now()
    const t = slot.target
    if (!t.breaker.wantsProbe(now)) return this.#look(slot, now)
    // A probe never jumps the pacer: it waits for the slot like any request would.
    const wait = t.pacer?.wait(now, t.tokens, false) ?? 0
    if (wait > 0) return this.#arm(slot, now + wait, now)
    if (this.#leadership !== null && !this.#leadership.probesHere(providerOf(t.id))) {
      // Another instance probes this provider: follow its verdicts, one interval from now.
      slot.lastStartAt = now
      void this.#follow(slot, this.#leadership)
      return
    }
    // A failure to report (a throwing breaker or onResult) must not become an unhandled
    // rejection; #probe re-arms the slot in its finally either way.
    this.#start(slot, now).catch(() => undefined)
  }

  #start(slot: Slot, now: number): Promise<ProbeResult | null> {
    // A probe started by hand replaces the scheduled one; its end schedules the next.
    this.#disarm(slot)
    const running = this.#probe(slot, now)
    slot.running = running
    return running
  }

  async #probe(slot: Slot, startedAt: number): Promise<ProbeResult | null> {
    const t = slot.target
    const pacer = t.pacer
    slot.lastStartAt = startedAt
    slot.sent++
    pacer?.take(startedAt, t.tokens)
    const ac = new AbortController()
    slot.abort = ac
    slot.deadline = this.#timers.setTimeout(() => ac.abort(new ProbeTimeout()), t.timeoutMs)
    let status = 0
    let failure: HealthFailure | null
    try {
      const res = await exchange(t, ac.signal, maxProbeBody)
      status = res.status
      failure = judge(t, res)
    } catch (err) {
      failure = ac.signal.reason instanceof ProbeTimeout ? 'timeout' : transportFailure(err)
    } finally {
      this.#clearDeadline(slot)
    }
    const at = this.#clock.now()
    // Settled whatever happened, so the pacer's in-flight count stays true.
    pacer?.settled(at, { dispatchedAt: startedAt, status, tokensCharged: t.tokens, tokensUsed: null })
    slot.running = null
    slot.abort = null
    if (ac.signal.reason instanceof ProbeCancelled) return null
    const ok = failure === null && status >= 200 && status < 300
    const result: ProbeResult = { ok, status, failure, at }
    slot.last = result
    if (ok) slot.passed++
    else if (failure !== null) slot.failed++
    else slot.inconclusive++
    if (this.#closed || this.#slots.get(t.id) !== slot) return result
    try {
      // A key that came back meanwhile (a live trial passed) needs no verdict from a probe.
      if (t.breaker.wantsProbe(at)) {
        if (ok) t.breaker.probePassed(at)
        else if (failure !== null) t.breaker.probeFailed(at, failure)
        if (ok || failure !== null) this.#leadership?.report(providerOf(t.id), t.id, ok, !t.breaker.wantsProbe(at))
      }
      this.#onResult?.(t, result)
    } finally {
      if (!this.#closed && this.#slots.get(t.id) === slot) this.#look(slot, this.#clock.now())
    }
    return result
  }

  /**
   * Not the leader: a key the leader's probes restored comes back here too, one no leader will
   * judge is probed here; otherwise the next look is one interval on.
   */
  async #follow(slot: Slot, leadership: ProbeLeadership): Promise<void> {
    const verdict = await leadership.follow(slot.target.id)
    if (this.#closed || this.#slots.get(slot.target.id) !== slot) return
    const breaker = slot.target.breaker
    if (verdict === 'probe' && slot.running === null && breaker.wantsProbe(this.#clock.now())) {
      this.#start(slot, this.#clock.now()).catch(() => undefined)
      return
    }
    // As many passes as closing takes (successThreshold), bounded in case a breaker never closes.
    for (let i = 0; verdict === 'restored' && i < 10 && breaker.wantsProbe(this.#clock.now()); i++) breaker.probePassed(this.#clock.now())
    this.#look(slot, this.#clock.now())
  }

  #drop(slot: Slot): void {
    this.#disarm(slot)
    this.#clearDeadline(slot)
    slot.abort?.abort(new ProbeCancelled())
  }

  #clearDeadline(slot: Slot): void {
    if (slot.deadline !== null) this.#timers.clearTimeout(slot.deadline)
    slot.deadline = null
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        handle: null as TimerHandle,
        wake: () => {
          this.#sleeps.delete(entry)
          resolve()
        },
      }
      entry.handle = this.#timers.setTimeout(entry.wake, Math.max(1, Math.ceil(ms)))
      this.#sleeps.add(entry)
    })
  }
}

/** Targets are named provider~key. */
function providerOf(id: string): string {
  const tilde = id.indexOf('~')
  return tilde < 0 ? id : id.slice(0, tilde)
}

/**
 * The verdict on an answer. 429 and Anthropic's 529 say the upstream is pacing or busy, not
 * that the key is broken: neither a pass nor a failure. 401/403 say the credential is refused.
 * A chat probe's 2xx must carry a JSON object, or the key is not really serving.
 */
function judge(t: ProbeTarget, res: CheckResponse): HealthFailure | null {
  const s = res.status
  if (s >= 200 && s < 300) return t.method === 'POST' && !isJsonObject(res.body) ? 'invalid' : null
  if (s === 429 || s === 529) return null
  if (s === 401 || s === 403) return 'auth'
  return s >= 500 ? 'http_5xx' : 'probe'
}

function isJsonObject(body: Buffer | null): boolean {
  if (body === null) return false
  try {
    const v: unknown = JSON.parse(body.toString('utf8'))
    return typeof v === 'object' && v !== null && !Array.isArray(v)
  } catch {
    return false
  }
}
