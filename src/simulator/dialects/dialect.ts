import type { IncomingHttpHeaders } from 'node:http'
import type { DialectName } from '../http/routes.js'
import { invalidRequest, type Problem } from './problem.js'

/** How one provider authenticates, what it requires of a request, and how its errors look. */
export interface Dialect {
  readonly name: DialectName
  /** The header that carries the key, for error messages. */
  readonly keyHeader: string
  readonly requestIdHeader: string
  keyFrom(headers: IncomingHttpHeaders): string | undefined
  /** A reason to refuse the request before looking at its body, such as a missing version. */
  checkRequest(headers: IncomingHttpHeaders, query: string): Problem | null
  errorBody(problem: Problem): string
}

const BEARER = /^Bearer\s+(.+)$/i

function openAiErrorBody(p: Problem): string {
  return JSON.stringify({ error: { message: p.message, type: p.openaiType, param: p.param, code: p.openaiCode } })
}

export const openAiDialect: Dialect = {
  name: 'openai',
  keyHeader: 'Authorization (Bearer)',
  requestIdHeader: 'x-request-id',
  keyFrom(headers) {
    const key = BEARER.exec(headers.authorization ?? '')?.[1]?.trim()
    return key === undefined || key === '' ? undefined : key
  },
  checkRequest: () => null,
  errorBody: openAiErrorBody,
}

export const azureDialect: Dialect = {
  name: 'azure',
  keyHeader: 'api-key',
  requestIdHeader: 'x-request-id',
  keyFrom(headers) {
    const key = headers['api-key']
    return typeof key === 'string' && key !== '' ? key : undefined
  },
  checkRequest(_headers, query) {
    const version = new URLSearchParams(query).get('api-version')
    return version ? null : invalidRequest('The api-version query parameter (?api-version=) is required for all requests.', 'api-version')
  },
  // Azure answers auth and rate-limit failures in its own service shape: {error:{code:"429",message}}.
  errorBody(p) {
    if (p.status === 401 || (p.status === 429 && p.openaiCode === 'rate_limit_exceeded')) {
      return JSON.stringify({ error: { code: String(p.status), message: p.message } })
    }
    return openAiErrorBody(p)
  },
}

export const anthropicDialect: Dialect = {
  name: 'anthropic',
  keyHeader: 'x-api-key',
  requestIdHeader: 'request-id',
  keyFrom(headers) {
    const key = headers['x-api-key']
    return typeof key === 'string' && key !== '' ? key : undefined
  },
  checkRequest(headers) {
    return headers['anthropic-version'] ? null : invalidRequest('anthropic-version: header is required')
  },
  errorBody(p) {
    return JSON.stringify({ type: 'error', error: { type: p.anthropicType, message: p.message } })
  },
}

export const dialects: Readonly<Record<DialectName, Dialect>> = {
  openai: openAiDialect,
  azure: azureDialect,
  anthropic: anthropicDialect,
}
