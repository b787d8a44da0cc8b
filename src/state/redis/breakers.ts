import type { BreakerCommand, BreakerPolicy, BreakerView, SharedBreakers, SharedBreakerState, TrialVerdict } from '../breakers.js'
import type { Arg, RedisConnection } from './connection.js'
import type { RedisKeys } from './keys.js'

const noPolicy: readonly Arg[] = [0, 0, 1, 1]

/** Shared breakers on Redis: every call is one run of breaker-1.lua, one round trip. */
export class RedisSharedBreakers implements SharedBreakers {
  constructor(
    readonly conn: RedisConnection,
    readonly keys: RedisKeys,
  ) {}

  read(keyId: string): Promise<BreakerView> {
    return this.#run(keyId, 'read', '', '', noPolicy)
  }

  trip(keyId: string, policy: BreakerPolicy): Promise<BreakerView> {
    return this.#run(keyId, 'trip', '', '', policyArgs(policy))
  }

  claimTrial(keyId: string, holder: string, ttlMs: number): Promise<BreakerView> {
    return this.#run(keyId, 'claim', holder, ttlMs, noPolicy)
  }

  report(keyId: string, verdict: TrialVerdict, from: { readonly trialHolder: string } | { readonly probeEpoch: number }, policy: BreakerPolicy): Promise<BreakerView> {
    return 'trialHolder' in from
      ? this.#run(keyId, 'trial', from.trialHolder, verdict, policyArgs(policy))
      : this.#run(keyId, 'probe', from.probeEpoch, verdict, policyArgs(policy))
  }

  command(keyId: string, command: BreakerCommand): Promise<BreakerView> {
    return command.kind === 'enable'
      ? this.#run(keyId, 'enable', '', '', noPolicy)
      : this.#run(keyId, 'disable', command.reason, command.halfOpenAfterMs ?? -1, noPolicy)
  }

  async #run(keyId: string, op: string, subject: Arg, detail: Arg, policy: readonly Arg[]): Promise<BreakerView> {
    const r = await this.conn.run<[string, number, number, number, number, string, number]>('breaker', [this.keys.upstream(keyId).breaker], [op, subject, detail, ...policy])
    return {
      state: r[0] as SharedBreakerState,
      waitMs: r[1] < 0 ? null : r[1],
      opens: r[2],
      successes: r[3],
      trialHeld: r[4] === 1,
      disabledReason: r[5] === '' ? null : (r[5] as 'auth' | 'admin'),
      applied: r[6] === 1,
    }
  }
}

function policyArgs(p: BreakerPolicy): readonly Arg[] {
  return [p.openMs, p.maxOpenMs, p.jitterFactor, p.successThreshold]
}
