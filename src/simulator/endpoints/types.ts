import type { SimulatorRuntime } from '../config/compile.js'
import type { Problem } from '../dialects/problem.js'
import type { TokenSequence } from '../generate/text.js'
import type { Route } from '../http/routes.js'

/** What every response of one request shares. */
export interface ResponseMeta {
  /** The request number, so ids are unique and repeatable across runs. */
  readonly id: number
  /** Unix seconds from the injected clock. */
  readonly created: number
  readonly model: string
}

/** Turns one answer into SSE events; each token event carries exactly one token. */
export interface StreamEncoder {
  preamble(): string[]
  /** `tokenJson` is the token as a JSON string literal, precomputed. */
  token(tokenJson: string): string
  epilogue(): string[]
}

/** A request body understood by its endpoint, ready to answer. */
export interface ParsedRequest {
  readonly model: string | null
  readonly stream: boolean
  /** What the request costs against a TPM limit: prompt estimate + max_tokens or the default completion. */
  readonly tokenCost: number
  /** Tokens the answer carries by default; 0 for answers without text. */
  readonly completionTokens: number
  /** Picks the generated text, from the prompt, so the same request gets the same bytes. */
  readonly seed: number
  render(meta: ResponseMeta, tokens: TokenSequence): string
  /** null when the endpoint cannot stream. */
  encoder(meta: ResponseMeta, tokens: TokenSequence): StreamEncoder | null
}

export type EndpointParser = (body: Record<string, unknown>, route: Route, runtime: SimulatorRuntime) => ParsedRequest | Problem
