// Failed dashboard logins per client address in a fixed window: past the allowance, logins from
// that address are refused (429) until the window ends, so the login is no faster an oracle for
// guessing admin keys than it has to be. A success does not reset the count.

export const loginGuardDefaults = {
  failures: 10,
  windowMs: 60_000,
  /** Addresses tracked at once; the oldest windows are dropped first beyond this. */
  maxTracked: 10_000,
} as const

export class LoginGuard {
  readonly #windows = new Map<string, { startedAt: number; failures: number }>()

  constructor(private readonly now: () => number = Date.now) {}

  /** Seconds until `address` may try again; 0 when it may now. */
  retryAfter(address: string): number {
    const w = this.#windows.get(address)
    if (!w) return 0
    const left = w.startedAt + loginGuardDefaults.windowMs - this.now()
    if (left <= 0) {
      this.#windows.delete(address)
      return 0
    }
    return w.failures >= loginGuardDefaults.failures ? Math.ceil(left / 1000) : 0
  }

  failed(address: string): void {
    const now = this.now()
    let w = this.#windows.get(address)
    if (!w || w.startedAt + loginGuardDefaults.windowMs <= now) {
      this.#windows.delete(address)
      if (this.#windows.size >= loginGuardDefaults.maxTracked) this.#windows.delete(this.#windows.keys().next().value as string)
      this.#windows.set(address, (w = { startedAt: now, failures: 0 }))
    }
    w.failures++
  }
}
