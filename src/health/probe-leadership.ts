import { defaultBreakerSettings } from '../core/breaker/types.js'
import type { TimerHandle, Timers } from '../core/clock.js'
import { leaderRenewMs, leaderTtlMs, type BreakerPolicy, type SharedState } from '../state/index.js'

// Several instances (state: redis): one probe leader per provider, so a key that is out is
// probed once per interval however many instances watch it (research/algorithms.md §6.2.4).
// Leadership is a lease renewed every 5 s and lost 15 s after its holder stops renewing; each
// new leader gets a higher epoch, and the leader's verdicts carry it, so a stale leader (paused,
// then back) cannot overwrite what a newer one wrote. The instances that do not lead follow
// the verdicts instead: at each of their probe times they read the key's shared breaker (which
// the scheduler's SharedBreakerMirror trips when an instance takes a key out), and a key seen
// out there and closed since — the leader's probes restored it — is restored on them too. A key
// out here that they never saw out there (the leader closed it before they first looked, or
// their own trip never reached Redis) they probe themselves: no verdict of the leader's will
// ever come for it.

/** The shared breaker's rules for verdicts; the scripts take no settings of their own. */
const probePolicy: Omit<BreakerPolicy, 'jitterFactor'> = {
  openMs: defaultBreakerSettings.openMs,
  maxOpenMs: defaultBreakerSettings.maxOpenMs,
  successThreshold: defaultBreakerSettings.successThreshold,
}

interface Held {
  leader: boolean
  epoch: number
  /** Local ms until which the last campaign's answer holds (a leader that cannot renew stops probing then). */
  validUntil: number
}

export interface ProbeLeadershipOptions {
  readonly shared: SharedState
  readonly timers: Timers
  /** Local wall time in ms, only to bound how long a leadership answer is trusted. */
  readonly now?: () => number
  readonly rand?: () => number
  readonly onError?: (err: unknown) => void
  readonly onChange?: (provider: string, leader: boolean, epoch: number) => void
}

/**
 * restored: the leader's probes closed it; out: still out there; unknown: Redis did not answer;
 * probe: closed there but never seen out, so only a probe of this instance's own can tell.
 */
export type Follow = 'restored' | 'out' | 'unknown' | 'probe'

export class ProbeLeadership {
  readonly #shared: SharedState
  readonly #timers: Timers
  readonly #now: () => number
  readonly #rand: () => number
  readonly #onError: (err: unknown) => void
  readonly #onChange: (provider: string, leader: boolean, epoch: number) => void
  readonly #held = new Map<string, Held>()
  /** Keys this instance has seen out in the shared breaker since it last followed a restore. */
  readonly #sawOut = new Set<string>()
  #timer: TimerHandle | null = null
  #closed = false

  constructor(opts: ProbeLeadershipOptions) {
    this.#shared = opts.shared
    this.#timers = opts.timers
    this.#now = opts.now ?? Date.now
    this.#rand = opts.rand ?? Math.random
    this.#onError = opts.onError ?? (() => {})
    this.#onChange = opts.onChange ?? (() => {})
  }

  /** The providers whose keys are probed; campaigns start at once for new ones. */
  watch(providers: Iterable<string>): void {
    if (this.#closed) return
    const next = new Set(providers)
    for (const p of [...this.#held.keys()]) {
      if (next.has(p)) continue
      this.#held.delete(p)
      void this.#shared.leaders.resign(leaderName(p), this.#shared.instanceId).catch(this.#onError)
    }
    let added = false
    for (const p of next) {
      if (this.#held.has(p)) continue
      this.#held.set(p, { leader: false, epoch: 0, validUntil: 0 })
      added = true
    }
    if (added) void this.#campaignAll()
  }

  /** Whether this instance probes `provider`'s keys now. */
  leads(provider: string): boolean {
    const h = this.#held.get(provider)
    return h !== undefined && h.leader && this.#now() < h.validUntil
  }

  /**
   * Whether this instance probes `provider`'s keys itself: as its leader, or while Redis cannot
   * be reached (no leader can be elected or followed then, and a key out must still come back).
   */
  probesHere(provider: string): boolean {
    return this.leads(provider) || !this.#shared.health.up
  }

  /**
   * A leader's probe verdict on a key, written with its epoch (refused there if a newer leader
   * has written). The leader's own breaker, which knows the configured success_threshold,
   * decides when the key is back: `restored` closes the shared breaker with this pass.
   */
  report(provider: string, keyId: string, passed: boolean, restored: boolean): void {
    const h = this.#held.get(provider)
    if (h === undefined || !h.leader) return
    const policy = { ...probePolicy, successThreshold: restored ? 1 : Number.MAX_SAFE_INTEGER, jitterFactor: 0.9 + 0.2 * this.#rand() }
    this.#shared.breakers.report(keyId, passed ? 'success' : 'failure', { probeEpoch: h.epoch }, policy).catch(this.#onError)
  }

  /**
   * For an instance that does not lead: what the leader's probes say of a key that is out here.
   * `restored` once the shared breaker, seen out before, is closed again; `probe` when it is
   * closed and was never seen out.
   */
  async follow(keyId: string): Promise<Follow> {
    try {
      const view = await this.#shared.breakers.read(keyId)
      if (view.state !== 'closed') {
        this.#sawOut.add(keyId)
        return 'out'
      }
      return this.#sawOut.delete(keyId) ? 'restored' : 'probe'
    } catch (err) {
      this.#onError(err)
      return 'unknown'
    }
  }

  /** Who leads each provider, for the admin API. */
  snapshot(): Record<string, { leader: boolean; epoch: number }> {
    const out: Record<string, { leader: boolean; epoch: number }> = {}
    for (const [p, h] of this.#held) out[p] = { leader: this.leads(p), epoch: h.epoch }
    return out
  }

  /** Stops campaigning and gives up every leadership held, so another instance takes over at once. */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer)
    this.#timer = null
    const mine = [...this.#held].filter(([, h]) => h.leader).map(([p]) => p)
    this.#held.clear()
    await Promise.all(mine.map((p) => this.#shared.leaders.resign(leaderName(p), this.#shared.instanceId).catch(this.#onError)))
  }

  async #campaignAll(): Promise<void> {
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer)
    this.#timer = null
    const started = this.#now()
    await Promise.all(
      [...this.#held].map(async ([provider, h]) => {
        try {
          const answer = await this.#shared.leaders.campaign(leaderName(provider), this.#shared.instanceId, leaderTtlMs)
          if (this.#held.get(provider) !== h) return
          const changed = answer.leader !== h.leader || answer.epoch !== h.epoch
          h.leader = answer.leader
          h.epoch = answer.epoch
          // Trusted from when it was asked, not answered: a slow answer must not stretch the lease.
          h.validUntil = answer.leader ? started + answer.ttlMs : 0
          if (changed) this.#onChange(provider, h.leader, h.epoch)
        } catch (err) {
          this.#onError(err)
        }
      }),
    )
    if (!this.#closed) this.#timer = this.#timers.setTimeout(() => void this.#campaignAll(), leaderRenewMs)
  }
}

function leaderName(provider: string): string {
  return `probe:${provider}`
}
