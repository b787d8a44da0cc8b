/**
 * Masks every configured key's full value in bytes relayed from an upstream, whatever the
 * status, dialect or framing, including a key that arrives split across network chunks.
 *
 * Built once per config generation. The search is Wu–Manber's multi-pattern scan on Buffers:
 * it looks at the byte pair ending a window as long as the shortest key and, unless that pair
 * occurs in the first window's length of some key, jumps ahead by up to that length. Real keys are
 * 32–100 bytes, so ordinary text is crossed in jumps of about that size, and the cost hardly
 * grows with the number of keys (bench/scrub.js measures it). Only where the pair ends some
 * key's window is anything compared, with the keys that end their window with that pair.
 *
 * The mask is as long as the key it replaces, so a relayed Content-Length stays true and the
 * surrounding JSON or SSE framing is untouched; its bytes (`*`) never need escaping.
 */
export class KeyScrubber {
  static readonly maskByte = 0x2a // '*'
  /** Shorter values are placeholders, not secrets (SecretIndex drops them too), and are ignored. */
  static readonly minKeyLength = 8
  /** A held tail that ends the body and is at least this long is masked (see ChunkScrubber.end). */
  static readonly pieceLength = 8

  /** The longest key, in bytes; a chunk holds back fewer than this. */
  readonly maxLength: number
  /** The scan window: the shortest key's length (at most 255, the largest jump a shift can hold). */
  readonly #window: number
  /** By byte pair (first << 8 | second): how far the window may jump when it ends with that pair. */
  readonly #shift: Uint8Array
  /** By byte pair: the keys whose first `#window` bytes end with it, compared when it ends the window. */
  readonly #endingWith: ReadonlyArray<readonly Buffer[] | undefined>
  /** Keys by first byte: the candidates for a held-back tail starting with that byte. */
  readonly #byFirstByte: ReadonlyArray<readonly Buffer[] | undefined>
  /** 1 for every byte that occurs in some key: a tail outside these cannot begin a key. */
  readonly #keyByte: Uint8Array

  /** `keys` are full secret values. */
  constructor(keys: readonly string[]) {
    const buffers = [...new Set(keys)].map((k) => Buffer.from(k, 'utf8')).filter((k) => k.length >= KeyScrubber.minKeyLength)
    this.maxLength = buffers.reduce((m, k) => Math.max(m, k.length), 0)
    const m = Math.min(255, buffers.reduce((w, k) => Math.min(w, k.length), Infinity))
    this.#window = m
    const shift = new Uint8Array(65536).fill(m - 1)
    const endingWith: Buffer[][] = []
    const byFirstByte: Buffer[][] = []
    const keyByte = new Uint8Array(256)
    for (const k of buffers) {
      // The pair ending at q, q + 1 ≤ m − 1, lets the window jump so that it ends there.
      for (let q = 1; q < m; q++) {
        const pair = ((k[q - 1] as number) << 8) | (k[q] as number)
        const jump = m - 1 - q
        if (jump < (shift[pair] as number)) shift[pair] = jump
        if (jump === 0) (endingWith[pair] ??= []).push(k)
      }
      ;(byFirstByte[k[0] as number] ??= []).push(k)
      for (const b of k) keyByte[b] = 1
    }
    this.#shift = shift
    this.#endingWith = endingWith
    this.#byFirstByte = byFirstByte
    this.#keyByte = keyByte
  }

  get empty(): boolean {
    return this.maxLength === 0
  }

  /** One scrubber per relayed body; it holds the few bytes that may begin a key split by the network. */
  stream(): ChunkScrubber {
    return this.empty ? passThrough : new KeyChunkScrubber(this)
  }

  /** A whole body at once: what a stream of any chunking of it yields, in one buffer. */
  scrub(body: Buffer): Buffer {
    return this.stream().end(body) ?? Buffer.alloc(0)
  }

  /** Ranges [start, end) of `b` that hold a whole key, as a flat list, or null when there are none (the common case). */
  matches(b: Buffer): number[] | null {
    let ranges: number[] | null = null
    const n = b.length
    const m = this.#window
    const shift = this.#shift
    // `end` is the last byte of the window b[end − m + 1 … end].
    let end = m - 1
    while (end < n) {
      const pair = ((b[end - 1] as number) << 8) | (b[end] as number)
      const jump = shift[pair] as number
      if (jump !== 0) {
        end += jump
        continue
      }
      const start = end - m + 1
      for (const k of this.#endingWith[pair] as readonly Buffer[]) {
        const stop = start + k.length
        if (stop <= n && b.compare(k, 0, k.length, start, stop) === 0) (ranges ??= []).push(start, stop)
      }
      end++
    }
    return ranges
  }

  /**
   * How many bytes at the end of `b` may be the start of a key the next chunk completes: the
   * longest suffix that is a proper prefix of some key, 0 when there is none. Only the final
   * run of bytes that occur in keys is looked at, so text ending in a newline, a quote or a
   * brace (every SSE event, every JSON body) costs one table lookup.
   */
  heldBack(b: Buffer): number {
    const n = b.length
    const floor = Math.max(0, n - (this.maxLength - 1))
    let start = n
    while (start > floor && this.#keyByte[b[start - 1] as number] === 1) start--
    for (let p = start; p < n; p++) {
      const candidates = this.#byFirstByte[b[p] as number]
      if (candidates === undefined) continue
      const length = n - p
      for (const k of candidates) if (k.length > length && b.compare(k, 0, length, p, n) === 0) return length
    }
    return 0
  }
}

/** The per-body half of the scrubber: what is safe to send now, and what is left at the end. */
export interface ChunkScrubber {
  /** The bytes of `chunk` (and of any tail held back before it) that may go to the client now, keys masked. */
  push(chunk: Buffer): Buffer
  /**
   * Everything still to send at the end of the body, `last` (a final chunk) included, keys
   * masked; undefined when there is nothing.
   */
  end(last?: Buffer | null): Buffer | undefined
}

const passThrough: ChunkScrubber = {
  push: (chunk) => chunk,
  end: (last) => last ?? undefined,
}

class KeyChunkScrubber implements ChunkScrubber {
  /** Bytes held back because they may begin a key; fewer than the longest key. */
  #carry: Buffer | null = null
  /** How many leading bytes of the carry belong to a key already found. */
  #maskedCarry = 0

  constructor(private readonly keys: KeyScrubber) {}

  push(chunk: Buffer): Buffer {
    // Only a chunk that follows a held-back tail is copied: the tail must be searched with it.
    const b = this.#carry === null ? chunk : Buffer.concat([this.#carry, chunk])
    const masked = this.#maskedCarry
    const held = this.keys.heldBack(b)
    const ready = b.length - held
    const ranges = this.keys.matches(b)
    this.#carry = held === 0 ? null : Buffer.from(b.subarray(ready))
    // A key that begins in what goes out now and ends in what is held stays masked there; one
    // wholly inside the held bytes is found again when they are searched with the next chunk.
    let maskedNext = Math.max(0, masked - ready)
    if (held > 0 && ranges !== null) {
      for (let i = 0; i < ranges.length; i += 2) if ((ranges[i] as number) < ready) maskedNext = Math.max(maskedNext, (ranges[i + 1] as number) - ready)
    }
    this.#maskedCarry = maskedNext
    if (ranges === null && masked === 0) return held === 0 ? b : b.subarray(0, ready)
    const out = Buffer.from(b.subarray(0, ready))
    mask(out, 0, masked)
    if (ranges !== null) for (let i = 0; i < ranges.length; i += 2) mask(out, ranges[i] as number, ranges[i + 1] as number)
    return out
  }

  end(last?: Buffer | null): Buffer | undefined {
    const head = last === undefined || last === null ? null : this.push(last)
    const tail = this.#carry
    if (tail === null) return head === null || head.length === 0 ? undefined : head
    this.#carry = null
    // The body ends inside what could have been a key: the start of a key cut short by the end
    // of the body is masked like a whole one once it is long enough to be a piece of a secret.
    if (tail.length >= KeyScrubber.pieceLength) mask(tail, 0, tail.length)
    else {
      mask(tail, 0, this.#maskedCarry)
      const ranges = this.keys.matches(tail)
      if (ranges !== null) for (let i = 0; i < ranges.length; i += 2) mask(tail, ranges[i] as number, ranges[i + 1] as number)
    }
    this.#maskedCarry = 0
    return head === null || head.length === 0 ? tail : Buffer.concat([head, tail])
  }
}

/** Overwrites [start, end) of `out`, clipped to its length. */
function mask(out: Buffer, start: number, end: number): void {
  if (start < out.length && end > start) out.fill(KeyScrubber.maskByte, start, Math.min(end, out.length))
}
