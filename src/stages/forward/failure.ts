import { SluiceError } from '../../errors.js'

/** Why an upstream exchange failed without a usable HTTP answer. Used as a metric label. */
export type FailureKind = 'connect' | 'reset' | 'first_byte_timeout' | 'idle_timeout' | 'total_timeout' | 'connect_timeout' | 'invalid' | 'client_abort'

/** Thrown into undici to end an exchange for a reason of sluice's own. */
export class ExchangeAborted extends Error {
  constructor(readonly kind: 'first_byte_timeout' | 'idle_timeout' | 'total_timeout' | 'client_abort') {
    super(kind)
    this.name = 'ExchangeAborted'
  }
}

const byCode: Record<string, FailureKind> = {
  UND_ERR_CONNECT_TIMEOUT: 'connect_timeout',
  UND_ERR_HEADERS_TIMEOUT: 'first_byte_timeout',
  UND_ERR_BODY_TIMEOUT: 'idle_timeout',
  ECONNREFUSED: 'connect',
  ENOTFOUND: 'connect',
  EAI_AGAIN: 'connect',
  EHOSTUNREACH: 'connect',
  ENETUNREACH: 'connect',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  UND_ERR_SOCKET: 'reset',
  UND_ERR_CLOSED: 'reset',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'invalid',
  UND_ERR_INFO: 'invalid',
}

export function failureKind(err: Error): FailureKind {
  if (err instanceof ExchangeAborted) return err.kind
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string') {
    const kind = byCode[code]
    if (kind) return kind
    if (code.startsWith('HPE_')) return 'invalid'
  }
  return 'reset'
}

const phrases: Record<FailureKind, string> = {
  connect: 'could not connect',
  reset: 'connection was reset',
  invalid: 'sent a malformed HTTP response',
  connect_timeout: 'connect',
  first_byte_timeout: 'first byte',
  idle_timeout: 'idle between chunks',
  total_timeout: 'total',
  client_abort: 'client went away',
}

/** The client-facing error for a failure; built from fixed phrases, never from upstream text. */
export function failureError(kind: FailureKind, providerId: string, timeouts: { connectMs: number; firstByteMs: number; idleMs: number; totalMs: number }): SluiceError {
  switch (kind) {
    case 'connect_timeout':
      return new SluiceError('upstream_timeout', [providerId, timeouts.connectMs, phrases[kind]])
    case 'first_byte_timeout':
      return new SluiceError('upstream_timeout', [providerId, timeouts.firstByteMs, phrases[kind]])
    case 'idle_timeout':
      return new SluiceError('upstream_timeout', [providerId, timeouts.idleMs, phrases[kind]])
    case 'total_timeout':
      return new SluiceError('upstream_timeout', [providerId, timeouts.totalMs, phrases[kind]])
    case 'invalid':
      return new SluiceError('upstream_invalid_response', [providerId])
    default:
      return new SluiceError('upstream_error', [providerId, phrases[kind]])
  }
}

/** Failures that may be retried on another key as long as the client has received nothing. */
export const retryableFailures: ReadonlySet<string> = new Set(['connect', 'connect_timeout', 'reset', 'invalid'])
