import type { KeyPolicy, SimulatorRuntime } from '../config/compile.js'
import { createLimiter } from '../limits/create-limiter.js'
import type { RateLimiter } from '../limits/types.js'
import type { Clock } from '../types.js'
import { KeyLimits } from './key-limits.js'

/** Configured keys by key value. A config change keeps a limiter's state when its algorithm and limit are unchanged. */
export class KeyRegistry {
  #byKey = new Map<string, KeyLimits>()

  constructor(private readonly clock: Clock) {}

  get(key: string): KeyLimits | undefined {
    return this.#byKey.get(key)
  }

  apply(runtime: SimulatorRuntime): void {
    const next = new Map<string, KeyLimits>()
    for (const [key, policy] of runtime.keys) {
      const old = this.#byKey.get(key)
      next.set(key, new KeyLimits(
        policy,
        this.#limiter(policy, policy.rpm, old?.policy.rpm, old?.requests),
        this.#limiter(policy, policy.tpm, old?.policy.tpm, old?.tokens),
      ))
    }
    this.#byKey = next
  }

  /** Forgets every limiter's history (reset()). */
  resetLimiters(): void {
    const policies = [...this.#byKey.values()].map((l) => l.policy)
    this.#byKey = new Map(policies.map((p) => [p.key, new KeyLimits(
      p,
      p.rpm === null ? null : createLimiter(p.algorithm, p.rpm, this.clock),
      p.tpm === null ? null : createLimiter(p.algorithm, p.tpm, this.clock),
    )]))
  }

  #limiter(policy: KeyPolicy, limit: number | null, oldLimit: number | null | undefined, old: RateLimiter | null | undefined): RateLimiter | null {
    if (limit === null) return null
    const sameAlgorithm = this.#byKey.get(policy.key)?.policy.algorithm === policy.algorithm
    if (old && sameAlgorithm && oldLimit === limit) return old
    return createLimiter(policy.algorithm, limit, this.clock)
  }
}

/** A stats id for a key the config does not list: enough to tell keys apart, never the whole secret. */
export function unlistedKeyId(key: string): string {
  return `${key.slice(0, Math.min(8, Math.floor(key.length / 2)))}…`
}
