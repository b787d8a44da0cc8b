import type { OutgoingHttpHeaders } from 'node:http'
import type { ParsedRequest, ResponseMeta } from '../endpoints/types.js'
import type { TokenSequence } from '../generate/text.js'
import type { Exchange } from './exchange.js'

/** The header that echoes the received key back (echo_key_in_error, echo_key_in_answer): the gateway must strip it. */
export const ECHO_KEY_HEADER = 'x-sim-received-key'

/**
 * A leaky upstream's success (the scripted step echo_key_in_answer): a 200 whose body and
 * headers quote the key the request came with, as a misbehaving proxy or self-hosted server
 * might. JSON: the answer with an extra top-level field quoting the key. SSE: a token that is
 * the key, then, as the last event, an error that quotes it (OpenAI's "Incorrect API key
 * provided: sk-…"), and no [DONE]. With `split`, each quoted key is cut in two network
 * chunks: the first half is flushed and a 1 ms timer runs before the rest, so the reader gets
 * an event-loop turn to read the halves apart.
 */
export async function deliverLeak(
  ex: Exchange, headers: OutgoingHttpHeaders, parsed: ParsedRequest, meta: ResponseMeta, tokens: TokenSequence, key: string, split: boolean,
): Promise<void> {
  const quote = `Incorrect API key provided: ${key}`
  const encoder = parsed.stream ? parsed.encoder(meta, tokens) : null
  let text: string
  if (encoder !== null) {
    text = encoder.preamble().join('') + encoder.token(JSON.stringify(key))
    for (let i = 0; i < tokens.count; i++) text += encoder.token(tokens.json(i))
    text += `data: ${JSON.stringify({ error: { message: quote, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } })}\n\n`
    headers['content-type'] = `text/event-stream; echo=${key}`
    headers['cache-control'] = 'no-cache'
  } else {
    const answer = parsed.render(meta, tokens)
    text = `{"echo":${JSON.stringify(quote)},${answer.slice(answer.indexOf('{') + 1)}`
    headers['content-type'] = `application/json; echo=${key}`
  }
  headers[ECHO_KEY_HEADER] = key
  const body = Buffer.from(text)
  ex.outcome = 'ok'
  if (!split) return ex.send(200, headers, body)
  headers['content-length'] = body.length
  ex.writeHead(200, headers)
  const keyBytes = Buffer.from(key)
  let from = 0
  for (let at = body.indexOf(keyBytes); at !== -1 && !ex.closed; at = body.indexOf(keyBytes, at + keyBytes.length)) {
    const cut = at + Math.floor(keyBytes.length / 2)
    await ex.writeFlushed(body.subarray(from, cut))
    await ex.sleep(1)
    from = cut
  }
  ex.end(body.subarray(from))
}
