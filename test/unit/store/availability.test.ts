import { describe, expect, it } from 'vitest'
import { DatabaseAvailability } from '../../../src/store/availability.js'
import type { Timers as TimersPort } from '../../../src/core/clock.js'

/** Timers fired by hand. */
class Timers implements TimersPort {
  readonly armed = new Map<number, { ms: number; fn: () => void }>()
  #seq = 0
  setTimeout(fn: () => void, ms: number): unknown {
    this.armed.set(++this.#seq, { ms, fn })
    return this.#seq
  }
  clearTimeout(handle: unknown): void {
    this.armed.delete(handle as number)
  }
  async fireAll(): Promise<void> {
    const due = [...this.armed.entries()]
    this.armed.clear()
    for (const [, t] of due) t.fn()
    for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

function setup() {
  const timers = new Timers()
  const db = { up: true, probes: 0 }
  const events: string[] = []
  const availability = new DatabaseAvailability({
    probe: async () => {
      db.probes++
      if (!db.up) throw new Error('connect ECONNREFUSED')
    },
    probeEveryMs: 5_000,
    onRecovered: () => events.push('recovered'),
    onLost: () => events.push('lost'),
    timers,
  })
  return { timers, db, events, availability }
}

describe('DatabaseAvailability', () => {
  it('reachable until a query fails; nothing runs while it answers', () => {
    const { timers, availability, events } = setup()
    availability.answered()
    expect(availability.reachable).toBe(true)
    expect(timers.armed.size).toBe(0)
    expect(events).toEqual([])
  })

  it('a failure marks it down once and arms one probe; failed probes re-arm it; a passing probe brings it back', async () => {
    const { timers, db, availability, events } = setup()
    db.up = false
    availability.failed(new Error('x'))
    availability.failed(new Error('y'))
    expect(availability.reachable).toBe(false)
    expect(events).toEqual(['lost'])
    expect([...timers.armed.values()].map((t) => t.ms)).toEqual([5_000])
    await timers.fireAll()
    expect([db.probes, availability.reachable, timers.armed.size]).toEqual([1, false, 1])
    db.up = true
    await timers.fireAll()
    expect([db.probes, availability.reachable, timers.armed.size]).toEqual([2, true, 0])
    expect(events).toEqual(['lost', 'recovered'])
  })

  it('any answer from its users brings it back and disarms the probe', () => {
    const { timers, availability, events } = setup()
    availability.failed(new Error('x'))
    availability.answered()
    expect([availability.reachable, timers.armed.size]).toEqual([true, 0])
    expect(events).toEqual(['lost', 'recovered'])
  })

  it('close() disarms it for good', async () => {
    const { timers, db, availability } = setup()
    availability.failed(new Error('x'))
    availability.close()
    expect(timers.armed.size).toBe(0)
    availability.failed(new Error('y'))
    expect(timers.armed.size).toBe(0)
    await timers.fireAll()
    expect(db.probes).toBe(0)
  })
})
