import { every, systemTimers, type Timers } from '../core/clock.js'
import { StateUnavailableError } from './errors.js'
import { heartbeatEveryMs, instanceTtlMs, type LiveInstance } from './instances.js'
import type { SharedState } from './shared-state.js'

// This instance among the others: it heartbeats into the registry, remembers how many were live
// when last seen (what a limit is divided by while Redis is away), and turns the connection's
// health into one "degraded" fact for readiness, /status and metrics — reported once per change,
// not once per failed call.

export interface ClusterOptions {
  readonly timers?: Timers
  /** Wall-clock epoch ms, for when the degraded mode began. */
  readonly epoch?: () => number
  readonly heartbeatEveryMs?: number
  readonly ttlMs?: number
  /** Shared state became unreachable (once per outage). */
  readonly onDegraded?: () => void
  /** It answers again (once per outage); what was cached from before it went away may be stale. */
  readonly onRecovered?: (downForMs: number) => void
  /** A heartbeat that failed for another reason than Redis being away (a script error). */
  readonly onError?: (err: unknown) => void
  /** After each heartbeat Redis answered (recovery included): the time to send what waited for it. */
  readonly onHeartbeat?: () => void
  /** Upstream keys (concurrency-limit ids) whose leases each heartbeat counts, by instance, for /status. */
  readonly permitKeys?: () => Iterable<string>
}

export interface ClusterSnapshot {
  readonly kind: 'memory' | 'redis'
  readonly instance: string
  readonly up: boolean
  /** ISO time the degraded mode began; null while up. */
  readonly degraded_since: string | null
  /** Live instances when last seen (at least 1, this one). */
  readonly live_instances: number
  readonly instances: readonly { readonly id: string; readonly heartbeat_age_ms: number }[]
  /** Per upstream key, the permits (leases) held by every instance at the last heartbeat; null when not counted (memory). */
  readonly permits: Readonly<Record<string, { readonly in_use: number; readonly by_instance: Readonly<Record<string, number>> }>> | null
  /** Requests admitted against this instance's share because their shared call failed, since start. */
  readonly fallbacks: number
  /** Settlement batches that could not be sent, since start (their tokens are lost, their cost owed when Redis was unreachable). */
  readonly failed_settlements: number
}

export class Cluster {
  readonly #shared: SharedState
  readonly #timers: Timers
  readonly #epoch: () => number
  readonly #everyMs: number
  readonly #ttlMs: number
  readonly #opts: ClusterOptions
  #live = 1
  #members: readonly LiveInstance[] = []
  #permits: ClusterSnapshot['permits'] = null
  #membersAt = 0
  #downSince: number | null = null
  #fallbacks = 0
  #failedSettlements = 0
  #stopTimer: (() => void) | null = null
  #unsubscribe: (() => void) | null = null

  constructor(shared: SharedState, opts: ClusterOptions = {}) {
    this.#shared = shared
    this.#timers = opts.timers ?? systemTimers
    this.#epoch = opts.epoch ?? Date.now
    this.#everyMs = opts.heartbeatEveryMs ?? heartbeatEveryMs
    this.#ttlMs = opts.ttlMs ?? instanceTtlMs
    this.#opts = opts
  }

  /** Whether the instances count together now. */
  get up(): boolean {
    return this.#downSince === null
  }

  /** Live instances when last seen, at least 1. */
  get liveInstances(): number {
    return this.#live
  }

  /** Joins: one heartbeat now (so the count is known before the first request), then one every period. */
  async start(): Promise<void> {
    this.#unsubscribe = this.#shared.health.onChange((up) => this.#healthChanged(up))
    if (!this.#shared.health.up) this.#healthChanged(false)
    await this.#beat()
    this.#stopTimer = every(this.#timers, this.#everyMs, () => void this.#beat())
  }

  /** A request's shared call failed and it was admitted against this instance's share. */
  fellBack(): void {
    this.#fallbacks++
  }

  /** A batch of settlements could not be sent. */
  settlementsFailed(): void {
    this.#failedSettlements++
  }

  snapshot(): ClusterSnapshot {
    const since = this.#epoch() - this.#membersAt
    return {
      kind: this.#shared.kind,
      instance: this.#shared.instanceId,
      up: this.up,
      degraded_since: this.#downSince === null ? null : new Date(this.#downSince).toISOString(),
      live_instances: this.#live,
      instances: this.#members.map((m) => ({ id: m.id, heartbeat_age_ms: m.ageMs + since })),
      permits: this.#permits,
      fallbacks: this.#fallbacks,
      failed_settlements: this.#failedSettlements,
    }
  }

  /** Leaves the registry at once (a clean shutdown), rather than after the TTL. */
  async stop(): Promise<void> {
    this.#stopTimer?.()
    this.#stopTimer = null
    this.#unsubscribe?.()
    this.#unsubscribe = null
    if (this.up) await this.#shared.instances.leave(this.#shared.instanceId).catch(() => {})
  }

  async #beat(): Promise<void> {
    try {
      const count = await this.#shared.instances.heartbeat(this.#shared.instanceId, this.#ttlMs)
      this.#live = Math.max(1, count)
      this.#members = await this.#shared.instances.live(this.#ttlMs)
      this.#membersAt = this.#epoch()
      const keys = this.#opts.permitKeys
      if (keys !== undefined) {
        // Sent together (one write, answers in order): a few commands every heartbeat, not per request.
        const ids = [...keys()]
        const counts = await Promise.all(ids.map((id) => this.#shared.permits.inUse(id)))
        this.#permits = Object.fromEntries(ids.map((id, i) => [id, { in_use: counts[i]!.total, by_instance: counts[i]!.byInstance }]))
      }
    } catch (err) {
      // Redis away or slow: health says so (once it is an outage, not one slow call), and the
      // last count stands (that is the point of it). Only a script error is worth a line.
      if (!(err instanceof StateUnavailableError)) this.#opts.onError?.(err)
      return
    }
    this.#opts.onHeartbeat?.()
  }

  #healthChanged(up: boolean): void {
    if (up === this.up) return
    if (!up) {
      this.#downSince = this.#epoch()
      this.#opts.onDegraded?.()
      return
    }
    const downFor = this.#epoch() - (this.#downSince ?? this.#epoch())
    this.#downSince = null
    this.#opts.onRecovered?.(downFor)
    // Back in the registry at once: the others may have dropped this instance meanwhile.
    void this.#beat()
  }
}
