import { describe, expect, it } from 'vitest'
import { LoginGuard, loginGuardDefaults } from '../../../src/dashboard/login-guard.js'

describe('LoginGuard', () => {
  it('refuses an address after its allowance of failures until the window ends; other addresses are not affected', () => {
    let now = 0
    const guard = new LoginGuard(() => now)
    for (let i = 0; i < loginGuardDefaults.failures - 1; i++) guard.failed('a')
    expect(guard.retryAfter('a')).toBe(0)
    guard.failed('a')
    expect(guard.retryAfter('a')).toBe(60)
    expect(guard.retryAfter('b')).toBe(0)
    now = 59_001
    expect(guard.retryAfter('a')).toBe(1)
    now = 60_000
    expect(guard.retryAfter('a')).toBe(0)
    guard.failed('a')
    expect(guard.retryAfter('a')).toBe(0)
  })
})
