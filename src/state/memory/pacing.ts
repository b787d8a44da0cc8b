import type { PaceGrant, SharedPacing } from '../pacing.js'
import type { MemoryBacking } from './backing.js'

export class MemorySharedPacing implements SharedPacing {
  constructor(readonly backing: MemoryBacking) {}

  async take(keyId: string, requestIntervalMs: number, tokenIntervalMs: number, tokens: number): Promise<PaceGrant> {
    const now = this.backing.now()
    const tat = this.#schedule(keyId, now)
    const allowedAt = Math.max(tat.requests, tokenIntervalMs > 0 ? tat.tokens : -Infinity, tat.pausedUntil)
    if (allowedAt > now) return { granted: false, waitMs: allowedAt - now }
    if (requestIntervalMs > 0) tat.requests = Math.max(tat.requests, now) + requestIntervalMs
    if (tokenIntervalMs > 0) tat.tokens = Math.max(tat.tokens, now) + tokenIntervalMs * tokens
    return { granted: true, waitMs: 0 }
  }

  async refund(keyId: string, requestIntervalMs: number, tokenIntervalMs: number, tokens: number): Promise<void> {
    const now = this.backing.now()
    const tat = this.backing.paces.get(keyId)
    if (tat === undefined) return
    tat.requests = Math.max(now, tat.requests - requestIntervalMs)
    tat.tokens = Math.max(now, tat.tokens - tokenIntervalMs * tokens)
  }

  async pause(keyId: string, ms: number): Promise<void> {
    const now = this.backing.now()
    const tat = this.#schedule(keyId, now)
    tat.pausedUntil = Math.max(tat.pausedUntil, now + ms)
  }

  #schedule(keyId: string, now: number): { requests: number; tokens: number; pausedUntil: number } {
    let tat = this.backing.paces.get(keyId)
    if (tat === undefined) this.backing.paces.set(keyId, (tat = { requests: now, tokens: now, pausedUntil: now }))
    return tat
  }
}
