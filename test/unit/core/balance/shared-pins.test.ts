import { describe, expect, it } from 'vitest'
import { SharedPinTable, sharedPinTtlMs } from '../../../../src/core/balance/shared-pins.js'
import { MemoryBacking } from '../../../../src/state/memory/backing.js'
import { MemoryPinStore } from '../../../../src/state/memory/pins.js'
import type { PinStore } from '../../../../src/state/pins.js'

// Two instances' pin tables over one shared store: what one pinned, the other finds (once, then
// from its own table), and a store that cannot be reached makes a miss, never an error.

describe('SharedPinTable', () => {
  it('a pin made on one instance is found on another, and kept there', async () => {
    let now = 1_000
    const backing = new MemoryBacking(() => now)
    let asked = 0
    const store = new MemoryPinStore(backing)
    const counting: PinStore = { pin: (o, k, ttl) => store.pin(o, k, ttl), keyOf: (o) => (asked++, store.keyOf(o)), unpin: (o) => store.unpin(o) }
    const a = new SharedPinTable(counting)
    const b = new SharedPinTable(counting)
    a.pin('p\0file-1', 'k2')
    await Promise.resolve()
    expect(a.keyOf('p\0file-1')).toBe('k2')
    expect(b.keyOf('p\0file-1')).toBeUndefined()
    expect(await b.lookup('p\0file-1')).toBe('k2')
    expect(await b.lookup('p\0file-1')).toBe('k2')
    expect(asked).toBe(1)
    expect(await b.lookup('p\0file-2')).toBeUndefined()
    // Past the shared TTL, an instance that never saw it finds nothing.
    now += sharedPinTtlMs
    expect(await new SharedPinTable(counting).lookup('p\0file-1')).toBeUndefined()
  })

  it('a store that fails: a miss, reported', async () => {
    const errors: unknown[] = []
    const failing: PinStore = { pin: () => Promise.reject(new Error('down')), keyOf: () => Promise.reject(new Error('down')), unpin: () => Promise.resolve() }
    const t = new SharedPinTable(failing, (err) => errors.push(err))
    t.pin('p\0x', 'k1')
    expect(await t.lookup('p\0x')).toBe('k1') // its own pins need no store
    expect(await t.lookup('p\0y')).toBeUndefined()
    expect(errors).toHaveLength(2)
  })

  it('shared state down: a pin this instance never saw is a miss at once, without asking the store', async () => {
    let asked = 0
    const store: PinStore = { pin: () => Promise.resolve(), keyOf: () => (asked++, Promise.resolve('k9')), unpin: () => Promise.resolve() }
    const health = { up: false }
    const t = new SharedPinTable(store, () => {}, undefined, health)
    t.pin('p\0x', 'k1')
    expect(await t.lookup('p\0x')).toBe('k1')
    expect(await t.lookup('p\0y')).toBeUndefined()
    expect(asked).toBe(0)
    health.up = true
    expect(await t.lookup('p\0y')).toBe('k9')
    expect(asked).toBe(1)
  })
})
