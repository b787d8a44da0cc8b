// A stream reports its token usage only when asked (`stream_options.include_usage`), in one last
// chunk with no choices. sluice asks for it so every stream is accounted for, and removes that
// chunk again for clients that did not ask, so they see the stream they expect.

const member = Buffer.from('"stream_options":{"include_usage":true},')
const OPEN_BRACE = 0x7b

/**
 * The body with include_usage asked for, or null when the client asked itself (then its chunk
 * is the client's to see). Splices the member in after the opening brace; a body whose
 * stream_options exists without it is re-serialised.
 */
export function askForStreamUsage(body: Buffer, json: Record<string, unknown>): Buffer | null {
  const options = json.stream_options
  if (options !== undefined && options !== null) {
    if ((options as Record<string, unknown>).include_usage === true) return null
    const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>
    parsed.stream_options = { ...(options as Record<string, unknown>), include_usage: true }
    return Buffer.from(JSON.stringify(parsed))
  }
  const open = body.indexOf(OPEN_BRACE)
  if (open < 0) return null
  return Buffer.concat([body.subarray(0, open + 1), member, body.subarray(open + 1)])
}

const noChoices = Buffer.from('"choices":[]')
const eventEnd = Buffer.from('\n\n')

/**
 * Cuts the usage-only chunk out of a stream, event by event: whole events go out, a trailing
 * partial event waits for the rest. Holds at most one event back.
 */
export class UsageChunkFilter {
  #pending: Buffer | null = null

  /** What to send the client of this upstream chunk (null: nothing yet). */
  push(chunk: Buffer): Buffer | null {
    const data = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk])
    const end = data.lastIndexOf(eventEnd)
    if (end < 0) {
      this.#pending = data
      return null
    }
    this.#pending = end + 2 < data.length ? Buffer.from(data.subarray(end + 2)) : null
    const whole = data.subarray(0, end + 2)
    const hit = whole.indexOf(noChoices)
    if (hit < 0) return whole
    const start = whole.lastIndexOf(eventEnd, hit)
    const from = start < 0 ? 0 : start + 2
    const to = whole.indexOf(eventEnd, hit) + 2
    const out = Buffer.concat([whole.subarray(0, from), whole.subarray(to)])
    return out.length > 0 ? out : null
  }

  /** What is left when the upstream ends (an unterminated last event). */
  flush(): Buffer | null {
    const rest = this.#pending
    this.#pending = null
    return rest
  }
}
