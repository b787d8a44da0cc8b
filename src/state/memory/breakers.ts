import type { BreakerCommand, BreakerPolicy, BreakerView, SharedBreakers, TrialVerdict } from '../breakers.js'
import type { BreakerRecord, MemoryBacking } from './backing.js'

/** The same transitions as breaker-1.lua, on a record per key (the conformance suite holds them equal). */
export class MemorySharedBreakers implements SharedBreakers {
  constructor(readonly backing: MemoryBacking) {}

  async read(keyId: string): Promise<BreakerView> {
    return view(this.#advance(keyId, this.backing.now()), this.backing.now(), false)
  }

  async trip(keyId: string, policy: BreakerPolicy): Promise<BreakerView> {
    const now = this.backing.now()
    const b = this.#advance(keyId, now)
    if (b.state !== 'closed') return view(b, now, false)
    open(b, now, policy)
    return view(b, now, true)
  }

  async claimTrial(keyId: string, holder: string, ttlMs: number): Promise<BreakerView> {
    const now = this.backing.now()
    const b = this.#advance(keyId, now)
    if (b.state !== 'half-open' || b.trial !== null) return view(b, now, false)
    b.trial = holder
    b.trialUntil = now + ttlMs
    return view(b, now, true)
  }

  async report(keyId: string, verdict: TrialVerdict, from: { readonly trialHolder: string } | { readonly probeEpoch: number }, policy: BreakerPolicy): Promise<BreakerView> {
    const now = this.backing.now()
    const b = this.#advance(keyId, now)
    if ('trialHolder' in from) {
      if (b.trial === null || b.trial !== from.trialHolder) return view(b, now, false)
      b.trial = null
      if (b.state === 'half-open') {
        if (verdict === 'success') countSuccess(b, policy)
        else if (verdict === 'failure') open(b, now, policy)
      }
      return view(b, now, true)
    }
    if (from.probeEpoch < b.fence) return view(b, now, false)
    b.fence = from.probeEpoch
    if (!(b.state === 'open' || b.state === 'half-open' || (b.state === 'disabled' && b.reason === 'auth'))) return view(b, now, false)
    if (verdict === 'success') countSuccess(b, policy)
    else if (verdict === 'failure') {
      b.successes = 0
      if (b.state === 'half-open') open(b, now, policy)
    }
    return view(b, now, true)
  }

  async command(keyId: string, command: BreakerCommand): Promise<BreakerView> {
    const now = this.backing.now()
    const b = this.#advance(keyId, now)
    if (command.kind === 'enable') {
      if (b.state === 'closed') return view(b, now, false)
      close(b)
      return view(b, now, true)
    }
    if (b.state === 'disabled' && (command.reason === 'auth' || b.reason === 'admin')) return view(b, now, false)
    b.state = 'disabled'
    b.reason = command.reason
    b.successes = 0
    b.openUntil = command.reason === 'auth' && command.halfOpenAfterMs !== null ? now + command.halfOpenAfterMs : 0
    return view(b, now, true)
  }

  #advance(keyId: string, now: number): BreakerRecord {
    let b = this.backing.breakers.get(keyId)
    if (b === undefined) {
      b = { state: 'closed', openUntil: 0, opens: 0, successes: 0, trial: null, trialUntil: 0, reason: null, fence: 0 }
      this.backing.breakers.set(keyId, b)
    }
    if (b.trial !== null && now >= b.trialUntil) b.trial = null
    if (b.state === 'open' && now >= b.openUntil) {
      b.state = 'half-open'
      b.openUntil = 0
    } else if (b.state === 'disabled' && b.reason === 'auth' && b.openUntil > 0 && now >= b.openUntil) {
      b.state = 'half-open'
      b.openUntil = 0
      b.reason = null
    }
    return b
  }
}

function open(b: BreakerRecord, now: number, p: BreakerPolicy): void {
  b.opens++
  const base = Math.min(p.maxOpenMs, p.openMs * 2 ** Math.min(b.opens - 1, 40))
  b.state = 'open'
  b.openUntil = now + Math.floor(base * p.jitterFactor)
  b.successes = 0
  b.reason = null
}

function close(b: BreakerRecord): void {
  b.state = 'closed'
  b.openUntil = 0
  b.opens = 0
  b.successes = 0
  b.reason = null
}

function countSuccess(b: BreakerRecord, p: BreakerPolicy): void {
  b.successes++
  if (b.successes >= p.successThreshold) close(b)
}

function view(b: BreakerRecord, now: number, applied: boolean): BreakerView {
  let waitMs: number | null = 0
  if (b.state === 'half-open') waitMs = b.trial !== null ? null : 0
  else if (b.state === 'open') waitMs = b.openUntil - now
  else if (b.state === 'disabled') waitMs = b.openUntil > 0 ? b.openUntil - now : null
  return { state: b.state, waitMs, opens: b.opens, successes: b.successes, trialHeld: b.trial !== null, disabledReason: b.reason, applied }
}
