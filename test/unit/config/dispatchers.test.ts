import * as undici from 'undici'
import { describe, expect, it } from 'vitest'
import { Agent, Pool } from '../../../src/config/dispatchers.js'

describe('the dispatchers sluice loads without undici\'s index', () => {
  it('are the very classes undici exports, so an upgrade that moves them fails here, not in production', () => {
    expect(Pool).toBe(undici.Pool)
    expect(Agent).toBe(undici.Agent)
  })
})
