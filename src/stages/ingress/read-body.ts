import type { IncomingMessage } from 'node:http'
import { ClientGoneError } from '../../context.js'
import { SluiceError } from '../../errors.js'

/**
 * Reads the whole request body, refusing it as soon as it passes `limit` bytes (a declared
 * Content-Length over the limit is refused before a byte is read) or when it has not all
 * arrived within `timeoutMs`, so a client trickling bytes cannot hold a slot indefinitely.
 */
export function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  const declared = req.headers['content-length']
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(new SluiceError('request_too_large', [limit]))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > limit) {
        cleanup()
        reject(new SluiceError('request_too_large', [limit]))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      cleanup()
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size))
    }
    // A request stream only errors when the client's connection breaks mid-body.
    const onError = (): void => {
      cleanup()
      reject(new ClientGoneError())
    }
    const onClose = (): void => {
      cleanup()
      reject(new ClientGoneError())
    }
    const timer =
      timeoutMs > 0 && !req.complete
        ? setTimeout(() => {
            cleanup()
            reject(new SluiceError('request_timeout', [timeoutMs]))
          }, timeoutMs)
        : null
    const cleanup = (): void => {
      if (timer) clearTimeout(timer)
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}
