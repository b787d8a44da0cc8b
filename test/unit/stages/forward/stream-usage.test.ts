import { describe, expect, it } from 'vitest'
import { askForStreamUsage, UsageChunkFilter } from '../../../../src/stages/forward/stream-usage.js'

const ev = (json: string) => `data: ${json}\n\n`
const content = ev('{"choices":[{"delta":{"content":"hi"}}],"usage":null}')
const usage = ev('{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}')
const done = ev('[DONE]')

function run(chunks: string[]): string {
  const f = new UsageChunkFilter()
  let out = ''
  for (const c of chunks) out += f.push(Buffer.from(c))?.toString() ?? ''
  return out + (f.flush()?.toString() ?? '')
}

describe('asking a stream for its usage', () => {
  it('splices the member in after the opening brace, keeping the rest byte for byte', () => {
    const body = Buffer.from(' {"model":"m","stream":true}')
    expect(askForStreamUsage(body, { model: 'm', stream: true })?.toString()).toBe(' {"stream_options":{"include_usage":true},"model":"m","stream":true}')
  })
  it('leaves a client that asked itself alone, and completes stream_options that lack it', () => {
    expect(askForStreamUsage(Buffer.from('{}'), { stream_options: { include_usage: true } })).toBeNull()
    const json = { model: 'm', stream_options: { include_obfuscation: false } }
    expect(JSON.parse(askForStreamUsage(Buffer.from(JSON.stringify(json)), json)!.toString())).toEqual({ model: 'm', stream_options: { include_obfuscation: false, include_usage: true } })
  })
})

describe('UsageChunkFilter', () => {
  it('removes only the chunk without choices', () => {
    expect(run([content, content, usage, done])).toBe(content + content + done)
  })
  it('finds it when events arrive together or split at any byte', () => {
    const all = content + usage + done
    expect(run([all])).toBe(content + done)
    for (let cut = 1; cut < all.length; cut++) expect(run([all.slice(0, cut), all.slice(cut)])).toBe(content + done)
  })
  it('passes an unterminated last event on at the end', () => {
    expect(run([content, 'data: [DONE]'])).toBe(content + 'data: [DONE]')
  })
})
