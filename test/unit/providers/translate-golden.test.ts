import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { SecretIndex } from '../../../src/core/secrets/secret-index.js'
import { SluiceError } from '../../../src/errors.js'
import {
  AnthropicToChatStream,
  ChatToAnthropicStream,
  chatToMessages,
  completionToMessage,
  fromAnthropicError,
  fromOpenAiError,
  messagesToChat,
  messageToCompletion,
  TranslatingStream,
  type StreamTranslator,
} from '../../../src/providers/translate/index.js'
import { scrubText } from '../../../src/stages/forward/scrub.js'

// Golden fixtures, one file per case, under test/fixtures/translate/<direction>/. The input is
// what a client or an upstream sends; `expected` is what the translator must produce, reviewed
// by hand when the fixture was written. UPDATE_GOLDEN=1 rewrites `expected` from the current
// code (review the diff before committing it).
//
// Every stream fixture is fed three ways — whole, cut at its `splits` (byte offsets, chosen
// inside multi-byte characters), and one byte at a time — and must give the same events.

const root = new URL('../../fixtures/translate/', import.meta.url)
const update = process.env.UPDATE_GOLDEN === '1'
const secrets = new SecretIndex(['sk-proj-abcdefghijklmnop'])
const scrub = (text: string): string => scrubText(text, secrets)

interface Fixture {
  kind: 'request' | 'response' | 'stream' | 'error'
  options?: Record<string, unknown>
  input: unknown
  splits?: number[]
  status?: number
  expected?: unknown
  expected_error?: { status: number; code: string; param: string }
}

type Direction = 'chat-via-anthropic' | 'messages-via-openai'

function translate(direction: Direction, f: Fixture): unknown {
  const o = f.options ?? {}
  switch (f.kind) {
    case 'request':
      return direction === 'chat-via-anthropic'
        ? chatToMessages(f.input as Record<string, unknown>, o as { upstreamModel: string; defaultMaxTokens: number })
        : messagesToChat(f.input as Record<string, unknown>, o as { upstreamModel: string })
    case 'response':
      return direction === 'chat-via-anthropic'
        ? messageToCompletion(f.input as Record<string, unknown>, o as { created: number; jsonTool: string | null })
        : completionToMessage(f.input as Record<string, unknown>)
    case 'error':
      return direction === 'chat-via-anthropic' ? fromAnthropicError(f.input, f.status!, scrub) : fromOpenAiError(f.input, f.status!, scrub)
    case 'stream': {
      const bytes = Buffer.from(f.input as string)
      const whole = runStream(direction, o, [bytes])
      const cuts = [0, ...(f.splits ?? []), bytes.length]
      const split = runStream(direction, o, cuts.slice(1).map((end, i) => bytes.subarray(cuts[i], end)))
      const byByte = runStream(direction, o, [...bytes].map((b) => Buffer.from([b])))
      expect(split).toEqual(whole)
      expect(byByte).toEqual(whole)
      return whole
    }
  }
}

function makeTranslator(direction: Direction, o: Record<string, unknown>): StreamTranslator {
  return direction === 'chat-via-anthropic'
    ? new AnthropicToChatStream({ created: o.created as number, includeUsage: o.includeUsage as boolean, jsonTool: (o.jsonTool as string | null) ?? null, scrub })
    : new ChatToAnthropicStream({ inputTokensEstimate: o.inputTokensEstimate as number, scrub })
}

/** The client's events, parsed back (JSON data, or the [DONE] marker), plus the usage and whether the stream completed or failed. */
function runStream(direction: Direction, o: Record<string, unknown>, chunks: Buffer[]): unknown {
  const translator = makeTranslator(direction, o)
  const stream = new TranslatingStream(translator)
  let text = ''
  for (const c of chunks) text += stream.write(c)
  text += stream.end()
  expect(text.endsWith('\n\n') || text === '').toBe(true)
  const events = text
    .split('\n\n')
    .filter((e) => e !== '')
    .map((e) => {
      const lines = e.split('\n')
      const name = lines.find((l) => l.startsWith('event: '))?.slice(7)
      const data = lines.find((l) => l.startsWith('data: '))!.slice(6)
      const parsed: unknown = data === '[DONE]' ? '[DONE]' : JSON.parse(data)
      return name === undefined ? parsed : { event: name, data: parsed }
    })
  return { events, usage: translator.usage, completed: translator.completed, failed: translator.failed }
}

for (const direction of ['chat-via-anthropic', 'messages-via-openai'] as const) {
  const dir = new URL(`${direction}/`, root)
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()

  describe(`translate ${direction} (golden)`, () => {
    it('has at least 30 fixtures, with requests, responses, streams and errors', () => {
      expect(files.length).toBeGreaterThanOrEqual(30)
      const kinds = new Set(files.map((f) => (JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as Fixture).kind))
      expect([...kinds].sort()).toEqual(['error', 'request', 'response', 'stream'])
    })

    for (const file of files) {
      it(file, () => {
        const url = new URL(file, dir)
        const f = JSON.parse(readFileSync(url, 'utf8')) as Fixture
        if (f.expected_error) {
          let thrown: unknown
          try {
            translate(direction, f)
          } catch (err) {
            thrown = err
          }
          expect(thrown).toBeInstanceOf(SluiceError)
          const e = thrown as SluiceError
          expect({ status: e.status, code: e.code, param: e.param }).toEqual(f.expected_error)
          return
        }
        const actual = JSON.parse(JSON.stringify(translate(direction, f))) as unknown
        if (update) {
          writeFileSync(url, JSON.stringify({ ...f, expected: actual }, null, 1) + '\n')
          return
        }
        expect(f.expected, 'fixture has no expected value: run with UPDATE_GOLDEN=1 and review it').toBeDefined()
        expect(actual).toEqual(f.expected)
      })
    }
  })
}
