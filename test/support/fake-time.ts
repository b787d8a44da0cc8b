import type { Clock, Timers } from '../../src/core/clock.js'

/**
 * One hand-moved time for the clock and the timers: `advance` fires what falls due, in order,
 * with the clock at each timer's instant. Tests never sleep on it.
 */
export class FakeTime implements Clock, Timers {
  t = 1_000
  readonly #timers = new Map<number, { at: number; fn: () => void }>()
  #next = 1

  now(): number {
    return this.t
  }

  setTimeout(fn: () => void, ms: number): number {
    const id = this.#next++
    this.#timers.set(id, { at: this.t + Math.max(0, ms), fn })
    return id
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number)
  }

  /** Timers armed and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size
  }

  /** Due times of the pending timers, earliest first. */
  dueTimes(): number[] {
    return [...this.#timers.values()].map((t) => t.at).sort((a, b) => a - b)
  }

  /** Moves time forward by `ms`, firing every timer that falls due (earliest first, ties by arming order). */
  advance(ms: number): void {
    const end = this.t + ms
    for (;;) {
      let id = -1
      let at = Infinity
      for (const [k, v] of this.#timers) if (v.at <= end && v.at < at) [id, at] = [k, v.at]
      if (id < 0) break
      const timer = this.#timers.get(id) as { at: number; fn: () => void }
      this.#timers.delete(id)
      this.t = Math.max(this.t, timer.at)
      timer.fn()
    }
    this.t = end
  }
}
