// Server-sent events arrive in network chunks that cut anywhere: inside a line, inside a
// field name, inside a multi-byte UTF-8 character. The parser splits on bytes (LF never
// occurs inside a UTF-8 sequence) and decodes an event only once all of it has arrived.

/** One parsed event: its name (`event:` field, '' when absent) and its data lines joined by LF. */
export interface SseEvent {
  readonly event: string
  readonly data: string
}

const LF = 0x0a
const CR = 0x0d

/** An incremental parser over the raw bytes of a text/event-stream body. */
export class SseParser {
  #pending: Buffer | null = null
  #event = ''
  #data: string[] = []

  /** The events completed by this chunk (possibly none). */
  push(chunk: Buffer): SseEvent[] {
    const bytes = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk])
    const out: SseEvent[] = []
    let start = 0
    for (let lf = bytes.indexOf(LF, start); lf !== -1; lf = bytes.indexOf(LF, start)) {
      const end = lf > start && bytes[lf - 1] === CR ? lf - 1 : lf
      this.#line(bytes.toString('utf8', start, end), out)
      start = lf + 1
    }
    this.#pending = start < bytes.length ? Buffer.from(bytes.subarray(start)) : null
    return out
  }

  /** The last event when the body ends without its blank line (a lenient upstream). */
  end(): SseEvent[] {
    const out: SseEvent[] = []
    if (this.#pending !== null) this.#line(this.#pending.toString('utf8'), out)
    this.#pending = null
    this.#line('', out)
    return out
  }

  #line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.#data.length > 0) out.push({ event: this.#event, data: this.#data.join('\n') })
      this.#event = ''
      this.#data = []
      return
    }
    if (line.charCodeAt(0) === 0x3a /* : comment */) return
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.charCodeAt(0) === 0x20) value = value.slice(1)
    if (field === 'data') this.#data.push(value)
    else if (field === 'event') this.#event = value
  }
}

/** An OpenAI-style event: data only. */
export function dataEvent(json: string): string {
  return `data: ${json}\n\n`
}

/** An Anthropic-style event: a name and its data. */
export function namedEvent(name: string, json: string): string {
  return `event: ${name}\ndata: ${json}\n\n`
}
