import type { OutgoingHttpHeaders } from 'node:http'
import type { StreamEncoder } from '../endpoints/types.js'
import type { TokenSequence } from '../generate/text.js'
import type { Exchange } from './exchange.js'

/** Something that happens after `afterChunks` token chunks: a pause (the idle-timeout test) or a cut. */
export interface MidStreamFault {
  readonly afterChunks: number
  /** null = cut the connection. */
  readonly stallMs: number | null
}

export interface StreamPlan {
  readonly ttftMs: number
  /** 0 = every chunk at once. */
  readonly intervalMs: number
  /** Write every event in two writes, the first ending inside a multi-byte character. */
  readonly splitUtf8: boolean
  readonly midStream: MidStreamFault | null
}

type Send = (ex: Exchange, event: string) => Promise<void> | undefined

/** Streams SSE events: preamble, one event per token (paced), epilogue. Stops at once when the client leaves. */
export async function deliverStream(ex: Exchange, headers: OutgoingHttpHeaders, encoder: StreamEncoder, tokens: TokenSequence, plan: StreamPlan): Promise<void> {
  await ex.sleep(plan.ttftMs)
  if (ex.closed) return
  ex.writeHead(200, headers)
  if (plan.intervalMs === 0 && !plan.splitUtf8 && plan.midStream === null) return ex.end(Buffer.from(wholeStream(encoder, tokens)))
  const send: Send = plan.splitUtf8 ? sendSplit : sendWhole
  for (const event of encoder.preamble()) await send(ex, event)
  const mid = plan.midStream
  const midAt = mid === null ? -1 : Math.min(mid.afterChunks, tokens.count)
  // Chunks are paced against an origin, not the previous chunk, so timer lateness does not accumulate.
  let origin = performance.now()
  for (let i = 0; i <= tokens.count && !ex.closed; i++) {
    if (i === midAt && mid !== null) {
      if (mid.stallMs === null) return ex.cut()
      await ex.sleep(mid.stallMs)
      origin = performance.now() - i * plan.intervalMs
    }
    if (i === tokens.count) break
    if (plan.intervalMs > 0 && i > 0) await ex.sleep(origin + i * plan.intervalMs - performance.now())
    if (ex.closed) return
    const wait = send(ex, encoder.token(tokens.json(i)))
    if (wait !== undefined) await wait
  }
  if (ex.closed) return
  for (const event of encoder.epilogue()) await send(ex, event)
  ex.end()
}

/**
 * With nothing to pace or cut, the stream is built as one buffer: one hash update and one
 * socket write instead of one per token, which is what the zero-latency benchmarks measure.
 */
function wholeStream(encoder: StreamEncoder, tokens: TokenSequence): string {
  let out = encoder.preamble().join('')
  for (let i = 0; i < tokens.count; i++) out += encoder.token(tokens.json(i))
  return out + encoder.epilogue().join('')
}

/** A JSON body after a delay; a mid-stream fault applies halfway through its bytes. */
export async function deliverBody(ex: Exchange, status: number, headers: OutgoingHttpHeaders, body: Buffer, delayMs: number, mid: MidStreamFault | null): Promise<void> {
  await ex.sleep(delayMs)
  if (ex.closed) return
  if (mid === null) return ex.send(status, headers, body)
  headers['content-length'] = body.length
  ex.writeHead(status, headers)
  const half = Math.floor(body.length / 2)
  await ex.writeFlushed(body.subarray(0, half))
  if (mid.stallMs === null) return ex.cut()
  await ex.sleep(mid.stallMs)
  ex.end(body.subarray(half))
}

/** Hot path: a promise only when the socket asks us to wait. */
const sendWhole: Send = (ex, event) => (ex.write(Buffer.from(event)) ? undefined : ex.drained())

/**
 * The first half is flushed, then a 1 ms timer runs before the second: the reader (often the
 * gateway in the same process) gets an event-loop turn to read the first half on its own.
 * Without the gap both halves sit in the socket together and arrive as one chunk.
 */
async function sendSplit(ex: Exchange, event: string): Promise<void> {
  const bytes = Buffer.from(event)
  const at = splitPoint(bytes)
  await ex.writeFlushed(bytes.subarray(0, at))
  await ex.sleep(SPLIT_GAP_MS)
  if (!ex.write(bytes.subarray(at))) await ex.drained()
}

const SPLIT_GAP_MS = 1

/** Just after the lead byte of the first multi-byte character, else the middle. */
export function splitPoint(bytes: Buffer): number {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0
    if (b >= 0xc0) return i + 1
  }
  return Math.max(1, Math.floor(bytes.length / 2))
}
