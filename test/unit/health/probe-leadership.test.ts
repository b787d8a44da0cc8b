import { describe, expect, it } from 'vitest'
import { ProbeLeadership } from '../../../src/health/probe-leadership.js'
import type { StateHealth } from '../../../src/state/index.js'
import { createMemoryState } from '../../../src/state/memory/index.js'
import { FakeTime } from '../../support/fake-time.js'

function withHealth(up: { value: boolean }) {
  const health: StateHealth = { get up() { return up.value }, onChange: () => () => {} }
  return { ...createMemoryState({ instanceId: 'follower' }), health }
}

describe('ProbeLeadership: who probes a provider', () => {
  it('an instance that does not lead follows while Redis answers, and probes itself while it cannot be reached', () => {
    const up = { value: true }
    const leadership = new ProbeLeadership({ shared: withHealth(up), timers: new FakeTime() })
    // No campaign has run: this instance leads nothing.
    expect(leadership.leads('openai')).toBe(false)
    expect(leadership.probesHere('openai')).toBe(false)
    up.value = false
    expect(leadership.probesHere('openai')).toBe(true)
    up.value = true
    expect(leadership.probesHere('openai')).toBe(false)
  })
})
