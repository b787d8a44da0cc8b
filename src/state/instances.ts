// Which instances are alive: each heartbeats; one not heard from within the TTL is gone. The
// live count is what an instance divides a limit by when Redis is unreachable (fail-static).

export interface LiveInstance {
  readonly id: string
  /** ms since its last heartbeat. */
  readonly ageMs: number
}

export interface InstanceRegistry {
  /** This instance is alive; returns how many are (itself included). */
  heartbeat(instanceId: string, ttlMs: number): Promise<number>
  /** Instances heard from within `ttlMs`, most recent first. */
  live(ttlMs: number): Promise<readonly LiveInstance[]>
  /** A clean shutdown: gone at once rather than after the TTL. */
  leave(instanceId: string): Promise<void>
}

export const heartbeatEveryMs = 5_000
export const instanceTtlMs = 15_000
