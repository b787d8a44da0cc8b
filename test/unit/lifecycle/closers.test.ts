import { describe, expect, it } from 'vitest'
import { Closers } from '../../../src/lifecycle.js'

describe('Closers', () => {
  it('closes newest first, awaiting each, and only once however often it is asked', async () => {
    const closers = new Closers()
    const order: string[] = []
    closers.add('store', () => order.push('store'))
    closers.add('writer', async () => {
      await Promise.resolve()
      order.push('writer')
    })
    closers.add('server', () => order.push('server'))
    expect(closers.open).toEqual(['store', 'writer', 'server'])
    await Promise.all([closers.closeAll(), closers.closeAll()])
    expect(order).toEqual(['server', 'writer', 'store'])
    expect(closers.open).toEqual([])
  })

  it('a closer that fails is reported and the rest still close', async () => {
    const closers = new Closers()
    const closed: string[] = []
    const failed: string[] = []
    closers.add('store', () => closed.push('store'))
    closers.add('prober', () => {
      throw new Error('boom')
    })
    closers.add('server', () => Promise.reject(new Error('late')))
    await closers.closeAll((name) => failed.push(name))
    expect(failed).toEqual(['server', 'prober'])
    expect(closed).toEqual(['store'])
  })

  it('nothing can be opened once closing has begun', async () => {
    const closers = new Closers()
    await closers.closeAll()
    expect(() => closers.add('late', () => undefined)).toThrow(/already closing/)
  })
})
