import type { InstanceRegistry, LiveInstance } from '../instances.js'
import type { MemoryBacking } from './backing.js'

export class MemoryInstanceRegistry implements InstanceRegistry {
  constructor(readonly backing: MemoryBacking) {}

  async heartbeat(instanceId: string, ttlMs: number): Promise<number> {
    const now = this.backing.now()
    this.backing.heartbeats.set(instanceId, now)
    return this.#prune(now, ttlMs)
  }

  async live(ttlMs: number): Promise<readonly LiveInstance[]> {
    const now = this.backing.now()
    this.#prune(now, ttlMs)
    return [...this.backing.heartbeats].map(([id, at]) => ({ id, ageMs: now - at })).sort((x, y) => x.ageMs - y.ageMs || (x.id < y.id ? 1 : -1))
  }

  async leave(instanceId: string): Promise<void> {
    this.backing.heartbeats.delete(instanceId)
  }

  #prune(now: number, ttlMs: number): number {
    for (const [id, at] of this.backing.heartbeats) if (at <= now - ttlMs) this.backing.heartbeats.delete(id)
    return this.backing.heartbeats.size
  }
}
