import type { LeaderElection, LeaderInfo, Leadership } from '../leader.js'
import type { MemoryBacking } from './backing.js'

export class MemoryLeaderElection implements LeaderElection {
  constructor(readonly backing: MemoryBacking) {}

  async campaign(name: string, holder: string, ttlMs: number): Promise<Leadership> {
    const now = this.backing.now()
    const l = this.backing.leaders.get(name)
    if (l !== undefined && l.holder !== '' && l.until > now) {
      if (l.holder !== holder) return { leader: false, epoch: l.epoch, ttlMs: l.until - now }
      l.until = now + ttlMs
      return { leader: true, epoch: l.epoch, ttlMs }
    }
    const epoch = (l?.epoch ?? 0) + 1
    this.backing.leaders.set(name, { holder, until: now + ttlMs, epoch })
    return { leader: true, epoch, ttlMs }
  }

  async resign(name: string, holder: string): Promise<boolean> {
    const l = this.backing.leaders.get(name)
    if (l === undefined || l.holder !== holder || l.until <= this.backing.now()) return false
    l.holder = ''
    l.until = 0
    return true
  }

  async current(name: string): Promise<LeaderInfo | null> {
    const now = this.backing.now()
    const l = this.backing.leaders.get(name)
    if (l === undefined || l.holder === '' || l.until <= now) return null
    return { holder: l.holder, epoch: l.epoch, ttlMs: l.until - now }
  }
}
