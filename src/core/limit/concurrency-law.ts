import type { LimitAdjustment } from '../../store/types.js'
import { concurrencyDefaults, type EpochMs, type LearnedState } from './learned-state.js'

const { min, max } = concurrencyDefaults

/**
 * The control law of an adaptive concurrency limit, and nothing else: L and Ĉ, when it was last
 * cut and probed, and the history of its moves. Permits, counters and persistence live beside
 * it (permits.ts, concurrency-limit.ts). Time comes in as arguments (epoch ms).
 *
 * Three speeds of growth, TCP's in spirit: slow start (L × 1.5 per round of L answers) while
 * nothing is known of the cap, so a cap of 200 is found in seconds rather than minutes; +1 per
 * round up to Ĉ after a cut; and probes of Ĉ once the key has been quiet, sooner and larger than
 * a first pass had them (two minutes, 10 %), backing off while the upstream keeps refusing them.
 * Two probes in a row that the upstream took mean the cap has moved a lot: slow start again.
 */
export class ConcurrencyLaw {
  #limit: number = concurrencyDefaults.initial
  #accepted: number | null = null
  /** The last concurrency 429: growth waits 5 s after it, probes at least two minutes. */
  #lastCutAt: EpochMs | null = null
  #lastProbeAt: EpochMs | null = null
  #slowStart = true
  /**
   * Counts cuts at a level the upstream had taken (capacity went down). A permit carries the era
   * it was granted in: a success granted before such a cut says nothing about the cap after it.
   */
  #era = 0
  /** The highest level at which a request granted in this era succeeded (0 = none yet). */
  #goodLevel = 0
  /** Ĉ before the probe in progress (null = none): a refusal above it means the probe failed. */
  #probeFrom: number | null = null
  /** The known level the last overshoot cut was measured against (null after a capacity cut). */
  #overshootRef: number | null = null
  #failedProbes = 0
  #probesTaken = 0
  /** When a probe was last given up untested: the next one waits the quiet time from then. */
  #untestedAt: EpochMs | null = null
  /** Slow start ended in an overshoot: the level above it is checked soon (exitCheckMs). */
  #checkExit = false
  /**
   * Bumped by every move that is not growth of L (a cut, a probe or one given back, slow start
   * again, a reset): with several instances (state: redis) each runs this law on one shared state, and a
   * state offered from an older generation must lose to the cut that came after it
   * (SharedLimit, acquire-lease-2.lua). Not persisted: a restarted instance takes the cluster's.
   */
  #generation = 0
  readonly #history: LimitAdjustment[] = []

  /** `changed` is told after every move worth persisting. */
  constructor(private readonly changed: () => void) {}

  restore(learned: LearnedState): void {
    this.#limit = clamp(learned.learnedLimit ?? concurrencyDefaults.initial)
    this.#accepted = learned.acceptedLevel === null ? null : clamp(learned.acceptedLevel)
    // Only the last 429's type is stored: when it was a concurrency 429, it was also the last cut.
    this.#lastCutAt = learned.last429Type === 'concurrent' ? learned.last429At : null
    this.#lastProbeAt = learned.lastProbeAt
    this.#slowStart = this.#accepted === null
    this.#resetEvidence()
    this.#history.length = 0
    this.#history.push(...learned.history.slice(-concurrencyDefaults.historySize))
  }

  reset(): void {
    this.#limit = concurrencyDefaults.initial
    this.#accepted = null
    this.#lastCutAt = this.#lastProbeAt = null
    this.#slowStart = true
    this.#resetEvidence()
    this.#generation++
    this.#history.length = 0
  }

  /** L with its fraction. */
  get limit(): number {
    return this.#limit
  }

  /** Ĉ: the highest level the upstream is believed to accept; null while unknown (slow start). */
  get accepted(): number | null {
    return this.#accepted
  }

  get lastProbeAt(): EpochMs | null {
    return this.#lastProbeAt
  }

  /** Whether L is growing multiplicatively (nothing known of the cap). */
  get slowStart(): boolean {
    return this.#slowStart
  }

  /** The era a permit granted now belongs to (see succeeded). */
  get era(): number {
    return this.#era
  }

  get history(): readonly LimitAdjustment[] {
    return this.#history
  }

  /** See #generation. */
  get generation(): number {
    return this.#generation
  }

  /**
   * Another instance moved the key's shared state (state: redis): `limit` (whole), `accepted`
   * (Ĉ, null in slow start), from `generation`, seen with `inflight` leases held. This law takes
   * it up, so every instance enforces and grows one limit rather than each its own (three laws
   * drifting apart held a cap-6 key at 3 for minutes, each instance waiting for the others to grow).
   *
   * A newer generation is a peer's probe (a higher Ĉ: refused above our Ĉ, it fails here as it
   * would there) or a peer's cut, a probe it gave back, slow start again or a reset: taken whole,
   * with the hold a cut of our own would start, so the rest of its burst of 429s, when it reaches
   * this instance, echoes that cut instead of cutting again, and successes granted before it do
   * not count. The same generation is a peer's growth, or a shallower cut of the same burst:
   * taken only where it is ahead (this instance's own wins on its next offer otherwise). An older
   * one is stale: ignored.
   */
  follow(now: EpochMs, limit: number, accepted: number | null, generation: number, inflight: number): void {
    if (generation < this.#generation) return
    const current = Math.floor(this.#limit)
    if (generation === this.#generation) {
      // Further grown, or a shallower cut of the same burst (offerWins): its Ĉ comes with it.
      if (limit <= current) return
      if (accepted !== null && this.#accepted !== null && accepted > this.#accepted) this.#accepted = clamp(accepted)
      this.#set(now, clamp(limit), 'followed', inflight)
      return
    }
    this.#generation = generation
    const before = this.#accepted
    if (accepted !== null && before !== null && accepted > before && this.#probeFrom === null) {
      this.#probeFrom = before
      this.#accepted = clamp(accepted)
      this.#lastProbeAt = now
      this.#checkExit = false
      this.#record(now, before, this.#accepted, 'followed_probe', inflight)
      if (limit > current) this.#set(now, clamp(limit), 'followed', inflight)
      return
    }
    const lowered = limit < current || (accepted !== null && (before === null || accepted < before))
    if (this.#probeFrom !== null) this.#failedProbes++
    this.#accepted = accepted === null ? null : clamp(accepted)
    this.#slowStart = accepted === null
    this.#era++
    this.#goodLevel = 0
    this.#probeFrom = null
    this.#checkExit = false
    if (lowered) {
      this.#lastCutAt = now
      this.#overshootRef = this.#accepted
    }
    if (limit !== current) this.#set(now, clamp(limit), 'followed', inflight)
    else this.changed()
  }

  /**
   * A concurrency 429 at `inflight` (the refused request included): the upstream accepts at
   * most one fewer.
   *
   * Refused above the level the upstream is known to take (#knownLevel: slow start or a probe
   * went one step too far): the cap is the level below, and L goes there, not to 0.9 × it, since
   * the level below is known to work; the rest of the burst (requests sent before the first
   * refusal came back, at higher levels) can only lower Ĉ, never raise it.
   *
   * Refused at a level it took before: capacity went down. L only ever takes the lower of
   * itself and 0.9 × Ĉ, so a burst of 429s at one level cuts it once, not once per 429. Ĉ, the
   * ceiling L grows back to, is the latest refused level: a request that reached the upstream
   * behind later ones (a slow new connection) is refused at a level lower than the real one, and
   * keeping the lowest would pin the key below its cap until the next probe; the latest is
   * corrected by the next 429 if it is too high.
   */
  cut(now: EpochMs, inflight: number): void {
    const ceiling = Math.max(min, inflight - 1)
    const endsSlowStart = this.#slowStart
    this.#slowStart = false
    this.#probesTaken = 0
    const reference = this.#knownLevel(now)
    const acceptedBefore = this.#accepted
    if (reference !== null && inflight > reference) {
      const echo = this.#overshootRef !== null && this.#inHold(now)
      if (endsSlowStart) this.#checkExit = true
      else if (!echo) this.#checkExit = false
      this.#overshootRef = reference
      this.#accepted = echo && this.#accepted !== null ? Math.min(this.#accepted, ceiling) : ceiling
      if (this.#probeFrom !== null) this.#failedProbes++
      this.#probeFrom = null
      this.#lastCutAt = now
      const next = clamp(Math.min(this.#limit, this.#accepted))
      if (next !== this.#limit || this.#accepted !== acceptedBefore) this.#generation++
      if (next !== this.#limit) this.#set(now, next, 'overshoot_429', inflight)
      else this.changed()
      return
    }
    this.#lastCutAt = now
    this.#accepted = ceiling
    this.#checkExit = false
    this.#generation++
    this.#era++
    this.#goodLevel = 0
    this.#overshootRef = null
    this.#probeFrom = null
    this.#failedProbes = 0
    const next = clamp(Math.min(this.#limit, concurrencyDefaults.backoff * ceiling))
    if (next !== this.#limit) this.#set(now, next, 'concurrent_429', inflight)
  }

  /**
   * The level the upstream is known to take, a refusal above which is an overshoot rather than a
   * capacity drop (null: none known): Ĉ as it was before a probe; in slow start, the highest
   * level that succeeded in this era; within the hold after an overshoot cut, the same level as
   * that cut (the rest of its burst). Levels are the gateway's: a request granted while an answer
   * is still on its way back counts one more than the upstream sees, so a success at the level
   * a probe is then refused at must not make that refusal look like a capacity drop.
   */
  #knownLevel(now: EpochMs): number | null {
    if (this.#overshootRef !== null && this.#inHold(now)) return this.#overshootRef
    if (this.#accepted === null) return this.#goodLevel > 0 ? this.#goodLevel : null
    return this.#probeFrom
  }

  #inHold(now: EpochMs): boolean {
    return this.#lastCutAt !== null && now - this.#lastCutAt < concurrencyDefaults.growthHoldMs
  }

  /**
   * The upstream accepted a request and its answer ended; `inflight` is how many were in flight
   * at that moment, this one included; `level` how many were when it was granted, and `era` the
   * era it was granted in. Grows L only when the limit is what held traffic back.
   */
  succeeded(now: EpochMs, inflight: number, level = inflight, era = this.#era): void {
    if (era === this.#era && level > this.#goodLevel) this.#goodLevel = level
    // Only concurrency 429s say anything about this limit: a rate 429 must not stop it growing.
    const since429 = this.#lastCutAt === null ? Infinity : now - this.#lastCutAt
    if (since429 < concurrencyDefaults.growthHoldMs) return
    const accepted = this.#accepted
    if (!this.#slowStart && accepted !== null && this.#probeFrom !== null) {
      // Only a request granted at the probed level, and answered, shows the upstream takes it;
      // any success may show that none was for a minute (demand below the level).
      if (this.#limit >= accepted && level >= accepted) {
        this.#probeTaken(now, inflight)
        if (this.#slowStart) return
      } else if (this.#lastProbeAt !== null && now - this.#lastProbeAt >= concurrencyDefaults.probeEveryMs) this.#probeUntested(now, inflight)
    }
    if (inflight < concurrencyDefaults.saturation * Math.floor(this.#limit)) return
    if (this.#slowStart) {
      const next = Math.min(max, this.#limit + concurrencyDefaults.slowStartGain)
      if (next > this.#limit) this.#set(now, next, 'slow_start', inflight)
      return
    }
    const quiet = Math.min(since429, this.#untestedAt === null ? Infinity : now - this.#untestedAt)
    if (this.#probeFrom === null && this.#accepted !== null && this.#limit >= this.#accepted && quiet >= this.#probeQuietMs() && this.#probeDue(now)) {
      const accepted = this.#accepted
      const step = this.#checkExit ? 1 : Math.max(1, Math.floor(concurrencyDefaults.probeShare * accepted))
      const raised = Math.min(max, accepted + step)
      this.#lastProbeAt = now
      this.#checkExit = false
      if (raised !== accepted) {
        this.#accepted = raised
        this.#probeFrom = accepted
        this.#generation++
        this.#record(now, accepted, raised, 'probe_increase', inflight)
      }
    }
    const next = Math.min(this.#accepted ?? max, this.#limit + 1 / this.#limit)
    if (next > this.#limit) this.#set(now, next, 'high_utilization', inflight)
  }

  /** L reached a probed Ĉ with no refusal: the upstream took the step. */
  #probeTaken(now: EpochMs, inflight: number): void {
    this.#probeFrom = null
    this.#failedProbes = 0
    this.#probesTaken++
    if (this.#probesTaken < concurrencyDefaults.slowStartAfterProbes) return
    // The cap has grown by more than two steps: find it at slow-start speed rather than a step a minute.
    this.#probesTaken = 0
    this.#slowStart = true
    this.#generation++
    const from = this.#accepted ?? Math.floor(this.#limit)
    this.#accepted = null
    this.#record(now, from, from, 'slow_start', inflight)
  }

  /**
   * A minute after a probe no request has been granted at its level (demand stayed at the old
   * Ĉ; L may still have grown there, since a success counts as saturated at 0.8 × floor(L)):
   * the probe says nothing, and leaving it would show L above a cap nothing tested, for as long
   * as demand stays low. Ĉ and L go back, and the next probe waits as after a refused one.
   */
  #probeUntested(now: EpochMs, inflight: number): void {
    const from = this.#probeFrom as number
    this.#probeFrom = null
    this.#failedProbes++
    this.#untestedAt = now
    this.#accepted = from
    this.#generation++
    if (this.#limit > from) this.#set(now, from, 'probe_untested', inflight)
    else this.changed()
  }

  /** Two quiet minutes, doubled for every probe in a row the upstream refused, at most ten; soon after slow start's end. */
  #probeQuietMs(): number {
    if (this.#checkExit) return concurrencyDefaults.exitCheckMs
    return Math.min(concurrencyDefaults.probeQuietMaxMs, concurrencyDefaults.probeQuietMs * 2 ** this.#failedProbes)
  }

  #probeDue(now: EpochMs): boolean {
    return this.#lastProbeAt === null || now - this.#lastProbeAt >= concurrencyDefaults.probeEveryMs
  }

  #resetEvidence(): void {
    this.#era++
    this.#goodLevel = 0
    this.#probeFrom = this.#overshootRef = null
    this.#failedProbes = this.#probesTaken = 0
    this.#untestedAt = null
    this.#checkExit = false
  }

  #set(now: EpochMs, next: number, reason: string, inflight: number): void {
    const before = Math.floor(this.#limit)
    this.#limit = next
    this.changed()
    // L moves by fractions; the history shows changes of the enforced whole number.
    if (Math.floor(next) !== before) this.#record(now, before, Math.floor(next), reason, inflight)
  }

  #record(now: EpochMs, oldLimit: number, newLimit: number, reason: string, inflight: number): void {
    this.#history.push({ timestamp: new Date(now).toISOString(), old_limit: oldLimit, new_limit: newLimit, reason, inflight })
    if (this.#history.length > concurrencyDefaults.historySize) this.#history.shift()
  }
}

function clamp(limit: number): number {
  return Math.min(max, Math.max(min, limit))
}
