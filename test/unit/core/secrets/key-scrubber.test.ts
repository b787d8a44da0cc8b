import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KeyScrubber, type ChunkScrubber } from '../../../../src/core/secrets/key-scrubber.js'

const key = 'sk-proj-0123456789abcdefABCDEF0123456789abcdef'
const other = 'sk-proj-ZYXWVUTSRQzyxwvutsrq9876543210'
const azure = '0f1e2d3c4b5a69788796a5b4c3d2e1f0'

/** Runs the chunks through one stream scrubber and joins everything it let out. */
function relay(scrubber: ChunkScrubber, chunks: readonly Buffer[]): { out: string; afterEachPush: number[] } {
  const parts: Buffer[] = []
  const afterEachPush: number[] = []
  let sent = 0
  for (const c of chunks) {
    const out = scrubber.push(c)
    parts.push(out)
    sent += out.length
    afterEachPush.push(sent)
  }
  const rest = scrubber.end()
  if (rest !== undefined) parts.push(rest)
  return { out: Buffer.concat(parts).toString('latin1'), afterEachPush }
}

const stars = (s: string): string => '*'.repeat(s.length)
const chunksOf = (text: string, cuts: readonly number[]): Buffer[] => {
  const b = Buffer.from(text, 'latin1')
  const at = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y)
  const out: Buffer[] = []
  let from = 0
  for (const c of at) {
    out.push(b.subarray(from, c))
    from = c
  }
  out.push(b.subarray(from))
  return out
}

describe('KeyScrubber', () => {
  const scrubber = new KeyScrubber([key, other, azure])

  const cases = [
    { name: 'a key in a JSON body', text: `{"message":"Incorrect API key provided: ${key}"}`, expected: `{"message":"Incorrect API key provided: ${stars(key)}"}` },
    { name: 'two keys of one provider and one of another', text: `${key} ${other}\n${azure}`, expected: `${stars(key)} ${stars(other)}\n${stars(azure)}` },
    { name: 'a key twice, back to back', text: `${key}${key}`, expected: stars(key + key) },
    { name: 'a shared prefix alone', text: 'sk-proj- is how keys start', expected: 'sk-proj- is how keys start' },
    { name: 'all but the last byte of a key, mid-body', text: `${key.slice(0, -1)}!`, expected: `${key.slice(0, -1)}!` },
    { name: 'nothing', text: 'data: {"choices":[]}\n\n', expected: 'data: {"choices":[]}\n\n' },
  ]
  for (const c of cases) {
    it(`masks ${c.name}, keeping the length`, () => {
      const out = scrubber.scrub(Buffer.from(c.text)).toString()
      expect(out).toBe(c.expected)
      expect(out.length).toBe(c.text.length)
    })
  }

  it('an SSE stream whose last event quotes the key, the key split across two chunks', () => {
    const text = `data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: {"error":{"message":"Incorrect API key provided: ${key}"}}\n\n`
    const cut = text.indexOf(key) + 20
    const { out, afterEachPush } = relay(scrubber.stream(), [Buffer.from(text.slice(0, cut)), Buffer.from(text.slice(cut))])
    expect(out).toBe(text.replace(key, stars(key)))
    // The first chunk went out up to where the key starts; nothing else waited.
    expect(afterEachPush[0]).toBe(text.indexOf(key))
  })

  it('a key split over many one-byte chunks', () => {
    const text = `x${key}y`
    expect(relay(scrubber.stream(), chunksOf(text, [...text].map((_, i) => i))).out).toBe(`x${stars(key)}y`)
  })

  it('holds back nothing after an SSE event or a JSON body, and only a possible key start otherwise', () => {
    const s = scrubber.stream()
    expect(s.push(Buffer.from('data: {"a":1}\n\n')).length).toBe(15)
    expect(s.push(Buffer.from('{"a":"b"}')).length).toBe(9)
    // "this s" ends with "s", which may begin "sk-proj-…": one byte waits; "x" may not, none does.
    expect(s.push(Buffer.from('this s')).toString()).toBe('this ')
    expect(s.push(Buffer.from('ays x')).toString()).toBe('says x')
    expect(s.end()).toBeUndefined()
  })

  it('flushes a held tail at the end; masks it when it is a long start of a key cut by the end', () => {
    const short = scrubber.stream()
    expect(short.push(Buffer.from('ends with sk-')).toString()).toBe('ends with ')
    expect(short.end()?.toString()).toBe('sk-')
    const long = scrubber.stream()
    expect(long.push(Buffer.from(`cut ${key.slice(0, 30)}`)).toString()).toBe('cut ')
    expect(long.end()?.toString()).toBe('*'.repeat(30))
  })

  it('a key that is the start of a longer one is masked, and so is the longer one', () => {
    const s = new KeyScrubber(['abcdefgh', 'abcdefghijklmnop'])
    expect(relay(s.stream(), chunksOf('x abcdefgh y abcdefghijklmnop z abcdefghij.', [5, 10, 20, 25])).out).toBe(
      `x ${'*'.repeat(8)} y ${'*'.repeat(16)} z ${'*'.repeat(8)}ij.`,
    )
  })

  it('costs nothing without keys, and returns the chunk itself when it holds none', () => {
    const none = new KeyScrubber([])
    const chunk = Buffer.from(`a ${key}`)
    expect(none.stream().push(chunk)).toBe(chunk)
    const clean = Buffer.from('data: {"choices":[]}\n\n')
    expect(scrubber.stream().push(clean)).toBe(clean)
  })
})

// Keys over a tiny alphabet overlap, repeat themselves and share prefixes, which is where a
// streaming search goes wrong; the text mixes whole keys, starts of keys and filler.
const keyChar = fc.constantFrom('a', 'b', 's', 'k', '-')
const keyArb = fc.array(keyChar, { minLength: 8, maxLength: 16 }).map((cs) => cs.join(''))
const fillerChar = fc.constantFrom('a', 'b', 's', 'k', '-', '\n', '"', ' ', 'x')

const scenario = fc.array(keyArb, { minLength: 1, maxLength: 4 }).chain((keys) =>
  fc.record({
    keys: fc.constant(keys),
    text: fc
      .array(
        fc.oneof(
          fc.constantFrom(...keys),
          fc.tuple(fc.constantFrom(...keys), fc.nat()).map(([k, n]) => k.slice(0, 1 + (n % k.length))),
          fc.array(fillerChar, { maxLength: 12 }).map((cs) => cs.join('')),
        ),
        { maxLength: 12 },
      )
      .map((parts) => parts.join('')),
    cuts: fc.array(fc.nat(), { maxLength: 12 }),
  }),
)

/** The same masking done the slow, obvious way on the whole text. */
function reference(keys: readonly string[], text: string): string {
  const out = [...text]
  for (const k of keys) for (let i = text.indexOf(k); i !== -1; i = text.indexOf(k, i + 1)) out.fill('*', i, i + k.length)
  const held = heldReference(keys, text)
  if (held >= KeyScrubber.pieceLength) out.fill('*', text.length - held)
  return out.join('')
}

/** The longest end of `text` that is a proper start of some key. */
function heldReference(keys: readonly string[], text: string): number {
  for (let n = Math.min(text.length, Math.max(...keys.map((k) => k.length)) - 1); n > 0; n--) {
    const end = text.slice(text.length - n)
    if (keys.some((k) => k.length > n && k.startsWith(end))) return n
  }
  return 0
}

describe('KeyScrubber on random chunkings', () => {
  it('yields what the whole text yields, masks every key, and holds back only a possible key start', () => {
    fc.assert(
      fc.property(scenario, ({ keys, text, cuts }) => {
        const scrubber = new KeyScrubber(keys)
        const whole = scrubber.scrub(Buffer.from(text, 'latin1')).toString('latin1')
        const chunks = chunksOf(text, cuts)
        const { out, afterEachPush } = relay(scrubber.stream(), chunks)
        expect(out).toBe(whole)
        expect(whole).toBe(reference(keys, text))
        for (const k of keys) expect(out).not.toContain(k)
        let seen = 0
        chunks.forEach((c, i) => {
          seen += c.length
          expect(afterEachPush[i]).toBe(seen - heldReference(keys, text.slice(0, seen)))
        })
      }),
      { numRuns: 3000 },
    )
  })

  it('the same with real-length keys in ordinary text, where the scan takes long jumps', () => {
    const longKey = fc.tuple(fc.constantFrom('sk-proj-', 'sk-ant-api03-', 'nvapi-', ''), fc.stringMatching(/^[A-Za-z0-9_-]{24,72}$/)).map(([p, r]) => p + r)
    const long = fc.array(longKey, { minLength: 1, maxLength: 6 }).chain((keys) =>
      fc.record({
        keys: fc.constant(keys),
        text: fc
          .array(fc.oneof(fc.constantFrom(...keys), fc.tuple(fc.constantFrom(...keys), fc.nat()).map(([k, n]) => k.slice(0, 1 + (n % k.length))), fc.string({ maxLength: 120 })), { maxLength: 10 })
          .map((parts) => parts.join('')),
        cuts: fc.array(fc.nat(), { maxLength: 8 }),
      }),
    )
    fc.assert(
      fc.property(long, ({ keys, text, cuts }) => {
        const scrubber = new KeyScrubber(keys)
        const { out } = relay(scrubber.stream(), chunksOf(text, cuts))
        expect(out).toBe(reference(keys, text))
        for (const k of keys) expect(out).not.toContain(k)
      }),
      { numRuns: 1000 },
    )
  })
})
