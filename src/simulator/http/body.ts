import type { IncomingMessage } from 'node:http'

/** Bodies above this are refused with 413: large enough for any test prompt, small enough to stay a test tool. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024

/** Reads the whole request body; resolves null when it exceeds the cap. */
export function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let tooLarge = false
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) tooLarge = true
      else chunks.push(chunk)
    })
    req.on('end', () => resolve(tooLarge ? null : chunks.length === 1 ? (chunks[0] ?? Buffer.alloc(0)) : Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

/** Splits a request target into path and query without building a URL object (hot path). */
export function splitTarget(target: string): { path: string, query: string } {
  const q = target.indexOf('?')
  return q === -1 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q + 1) }
}
