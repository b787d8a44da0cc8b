import { describe, expect, it } from 'vitest'
import { hashPair, RendezvousHash, type Candidate } from '../../../../src/core/balance/index.js'
import { cand, noRand, prng, weighted } from './helpers.js'

/** Reference cyrb53 over the concatenated string, to show the streamed pair form matches it. */
function cyrb53(s: string): number {
  let h1 = 0xdeadbeef
  let h2 = 0x41c6ce57
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 2654435761)
    h2 = Math.imul(h2 ^ ch, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507)
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507)
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return 4294967296 * (2097151 & h2) + (h1 >>> 0)
}

const sessions = Array.from({ length: 1000 }, (_, i) => `session-${i}`)
const five = ['nv-1', 'nv-2', 'nv-3', 'oa-1', 'oa-2']

function place(ids: readonly string[], keys: readonly string[]): Map<string, string> {
  const s = new RendezvousHash()
  const cs = ids.map((id) => cand(id))
  return new Map(keys.map((k) => [k, cs[s.pick(cs, k, noRand)]!.id]))
}

describe('hash function', () => {
  it('is cyrb53 of key + "\\0" + id', () => {
    // The reference matches bryc's published values, so it is cyrb53 and not a near miss.
    expect([cyrb53('a'), cyrb53('b'), cyrb53('revenge')]).toEqual([7929297801672961, 8684336938537663, 4051478007546757])
    for (const [k, id] of [['s1', 'nv-1'], ['', ''], ['10.0.0.7', 'oa-2'], ['çé✓', 'k']] as const) {
      expect(hashPair(k, id)).toBe(cyrb53(`${k}\0${id}`))
    }
  })

  it('is stable across releases and instances (pinned values)', () => {
    // If these change, every session moves to another key on upgrade: change them deliberately.
    expect([hashPair('session-1', 'nv-1'), hashPair('203.0.113.9', 'oa-1')]).toEqual([6159891477786813, 3797027233027296])
  })

  it('separates key from id', () => {
    expect(hashPair('ab', 'c')).not.toBe(hashPair('a', 'bc'))
  })
})

describe('rendezvous hashing', () => {
  it('sends a key to the same candidate every time and whatever the order', () => {
    const s = new RendezvousHash()
    const cs = five.map((id) => cand(id))
    const reversed = [...cs].reverse()
    for (const k of sessions.slice(0, 50)) {
      const id = cs[s.pick(cs, k, noRand)]!.id
      expect(cs[s.pick(cs, k, noRand)]!.id).toBe(id)
      expect(reversed[s.pick(reversed, k, noRand)]!.id).toBe(id)
    }
  })

  it('spreads 1,000 sessions evenly over five candidates', () => {
    const counts = new Map<string, number>()
    for (const id of place(five, sessions).values()) counts.set(id, (counts.get(id) ?? 0) + 1)
    for (const id of five) expect(counts.get(id), id).toBeGreaterThan(150)
    for (const id of five) expect(counts.get(id), id).toBeLessThan(250)
  })

  for (const removed of five) {
    it(`removing ${removed} remaps only its own sessions (≤ 25 %)`, () => {
      const before = place(five, sessions)
      const after = place(five.filter((id) => id !== removed), sessions)
      let moved = 0
      for (const k of sessions) {
        if (before.get(k) === after.get(k)) continue
        moved++
        expect(before.get(k), k).toBe(removed)
      }
      expect(moved / sessions.length).toBeLessThanOrEqual(0.25)
      expect(moved).toBe([...before.values()].filter((id) => id === removed).length)
    })
  }

  it('adding a sixth candidate moves only sessions onto it (≈ 1/6)', () => {
    const before = place(five, sessions)
    const after = place([...five, 'new'], sessions)
    const moved = sessions.filter((k) => before.get(k) !== after.get(k))
    for (const k of moved) expect(after.get(k)).toBe('new')
    expect(moved.length / sessions.length).toBeGreaterThan(0.12)
    expect(moved.length / sessions.length).toBeLessThan(0.22)
  })

  it('honours weights (weighted rendezvous: −w / ln u)', () => {
    const cs = weighted({ a: 3, b: 1, c: 1 })
    const s = new RendezvousHash()
    const counts = [0, 0, 0]
    for (let i = 0; i < 10_000; i++) counts[s.pick(cs, `user-${i}`, noRand)]!++
    expect(Math.abs(counts[0]! / 10_000 - 0.6)).toBeLessThanOrEqual(0.02)
  })

  it('never sends to a zero-weight candidate while others have weight', () => {
    const cs = weighted({ a: 0, b: 1, c: 1 })
    const s = new RendezvousHash()
    for (const k of sessions.slice(0, 200)) expect(s.pick(cs, k, noRand)).not.toBe(0)
  })

  it('bounded load: 1,000 sessions placed one at a time end ≤ 1.25 × mean + 1 on every candidate', () => {
    const s = new RendezvousHash()
    const cs = five.map((id) => cand(id))
    for (const k of sessions) cs[s.pick(cs, k, noRand)]!.inflight++
    const mean = sessions.length / cs.length
    for (const c of cs) expect(c.inflight, c.id).toBeLessThanOrEqual(1.25 * mean + 1)
  })

  it('bounded load: one hot session spills to its next candidate, then comes back', () => {
    const s = new RendezvousHash()
    const cs = five.map((id) => cand(id))
    const home = s.pick(cs, 'hot', noRand)
    // Four others at 4, home at 5: capacity ceil(1.25 × (21 + 1) / 5) = 6, and 5 + 1 fits.
    for (const c of cs) c.inflight = 4
    cs[home]!.inflight = 5
    expect(s.pick(cs, 'hot', noRand)).toBe(home)
    // Home at 6: 6 + 1 > ceil(1.25 × (22 + 1) / 5) = 6, so the next highest score takes it.
    cs[home]!.inflight = 6
    const spill = s.pick(cs, 'hot', noRand)
    expect(spill).not.toBe(home)
    // The spill target is the session's second choice: the winner without home.
    const rest = cs.filter((_, i) => i !== home).map((c) => ({ ...c, inflight: 0 }))
    expect(cs[spill]!.id).toBe(rest[s.pick(rest, 'hot', noRand)]!.id)
    cs[home]!.inflight = 4
    expect(s.pick(cs, 'hot', noRand)).toBe(home)
  })

  it('bounded load never leaves a session without a candidate, even with all loads at the cap', () => {
    const s = new RendezvousHash()
    const rand = prng(5)
    const cs: Candidate[] = five.map((id) => cand(id, { inflight: Math.floor(rand() * 50) }))
    for (const k of sessions.slice(0, 100)) expect(s.pick(cs, k, noRand)).toBeGreaterThanOrEqual(0)
  })

  it('falls back to p2c without a key', () => {
    const cs = [cand('later', { waitMs: 500 }), cand('now')]
    const s = new RendezvousHash()
    expect(s.pick(cs, null, () => 0)).toBe(1)
  })
})
