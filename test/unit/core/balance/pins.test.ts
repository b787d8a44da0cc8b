import { describe, expect, it } from 'vitest'
import { PinTable } from '../../../../src/core/balance/pins.js'

describe('PinTable', () => {
  it('remembers which key created an object', () => {
    const pins = new PinTable()
    pins.pin('file-1', 'k2')
    expect(pins.keyOf('file-1')).toBe('k2')
    expect(pins.keyOf('file-2')).toBeUndefined()
  })

  it('forgets the least recently used object first when full', () => {
    const pins = new PinTable(3)
    pins.pin('a', 'k1')
    pins.pin('b', 'k1')
    pins.pin('c', 'k1')
    expect(pins.keyOf('a')).toBe('k1') // a is now the most recent
    pins.pin('d', 'k2')
    expect(pins.size).toBe(3)
    expect(pins.keyOf('b')).toBeUndefined()
    expect(pins.keyOf('a')).toBe('k1')
    expect(pins.keyOf('d')).toBe('k2')
  })

  it('a re-pinned object moves to its new key', () => {
    const pins = new PinTable()
    pins.pin('a', 'k1')
    pins.pin('a', 'k2')
    expect(pins.keyOf('a')).toBe('k2')
    expect(pins.size).toBe(1)
  })
})
