import { describe, expect, it } from 'vitest'
import { digestOf } from '../../../src/admin/auth.js'
import { csrfMatches, sameOrigin, sessionToken, SessionStore } from '../../../src/dashboard/session.js'

describe('SessionStore', () => {
  it('opens sessions that expire after the TTL on the injected clock', () => {
    let now = 1_000
    const store = new SessionStore(() => 60_000, () => now)
    const { token, session } = store.open(digestOf('adm-some-key-0123456789'))
    expect(session.keyId).toMatch(/^admin-[0-9a-f]{12}$/)
    expect(token).not.toContain('adm-some-key')
    expect(store.get(token)).toBe(session)
    now += 59_999
    expect(store.get(token)).toBe(session)
    now += 1
    expect(store.get(token)).toBeNull()
    expect(store.size).toBe(0)
  })

  it('reads its cookie, and checks the CSRF token and the origin', () => {
    const store = new SessionStore(() => 60_000)
    const { session } = store.open(digestOf('adm-some-key-0123456789'))
    expect(sessionToken({ cookie: 'a=b; sluice_session=tok123; c=d' })).toBe('tok123')
    expect(sessionToken({ cookie: 'a=b' })).toBeNull()
    expect(csrfMatches(session, session.csrfToken)).toBe(true)
    expect(csrfMatches(session, `${session.csrfToken}x`)).toBe(false)
    expect(csrfMatches(session, undefined)).toBe(false)
    expect(sameOrigin({ host: '127.0.0.1:4000', origin: 'http://127.0.0.1:4000' })).toBe(true)
    expect(sameOrigin({ host: '127.0.0.1:4000', origin: 'http://127.0.0.1:4001' })).toBe(false)
    expect(sameOrigin({ host: '127.0.0.1:4000', origin: 'null' })).toBe(false)
    expect(sameOrigin({ host: '127.0.0.1:4000', referer: 'http://evil.example/x' })).toBe(false)
    expect(sameOrigin({ host: '127.0.0.1:4000' })).toBe(true)
  })
})
