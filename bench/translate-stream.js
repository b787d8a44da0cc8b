// CPU per request of a translated stream, bounded: `npm run build && node bench/translate-stream.js`.
//
// 1. The translator alone: an Anthropic stream of TOKENS text deltas (as the simulator sends
//    it, one event per network chunk) turned into OpenAI chunks, and an OpenAI stream into
//    Anthropic events, ITER times each; process CPU per stream.
// 2. End to end: the gateway and the simulator in this process, REQUESTS streamed chat requests
//    with the openai client, CONCURRENCY at a time, once to an openai provider (no translation)
//    and once to an anthropic provider (translated); process CPU per request of each, and the
//    difference. Both runs include the simulator's own CPU, which is about the same for the
//    two dialects, so the difference is what translation costs.
import OpenAI from 'openai'
import { AnthropicToChatStream, ChatToAnthropicStream, TranslatingStream } from '../dist/providers/translate/index.js'
import { startGateway } from '../dist/main.js'
import { startSimulator } from '../dist/simulator/index.js'
import { createLogger } from '../dist/telemetry/logger.js'
import { Writable } from 'node:stream'

const TOKENS = Number(process.env.TOKENS ?? 200)
const ITER = Number(process.env.ITER ?? 2000)
const REQUESTS = Number(process.env.REQUESTS ?? 400)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 20)

function cpuMicros() {
  const u = process.cpuUsage()
  return u.user + u.system
}

const ev = (name, data) => Buffer.from(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`)
const anthropicEvents = [
  ev('message_start', { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 50, output_tokens: 1 } } }),
  ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
  ...Array.from({ length: TOKENS }, (_, i) => ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: i % 7 === 0 ? ' naïve' : ' word' } })),
  ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
  ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: TOKENS } }),
  ev('message_stop', { type: 'message_stop' }),
]
const data = (obj) => Buffer.from(`data: ${JSON.stringify(obj)}\n\n`)
const chunk = (delta, finish = null) => ({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })
const openaiEvents = [
  data(chunk({ role: 'assistant', content: '' })),
  ...Array.from({ length: TOKENS }, (_, i) => data(chunk({ content: i % 7 === 0 ? ' naïve' : ' word' }))),
  data(chunk({}, 'stop')),
  data({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt', choices: [], usage: { prompt_tokens: 50, completion_tokens: TOKENS, total_tokens: 50 + TOKENS } }),
  Buffer.from('data: [DONE]\n\n'),
]

function translatorBench(name, events, make) {
  for (let i = 0; i < 200; i++) run(events, make) // warm up
  const before = cpuMicros()
  let bytes = 0
  for (let i = 0; i < ITER; i++) bytes += run(events, make)
  const perStream = (cpuMicros() - before) / ITER
  console.log(`${name}: ${perStream.toFixed(1)} µs CPU per ${TOKENS}-token stream (${(perStream / TOKENS).toFixed(2)} µs per event), ${Math.round(bytes / ITER)} bytes out`)
}

function run(events, make) {
  const t = new TranslatingStream(make())
  let n = 0
  for (const e of events) n += t.write(e).length
  n += t.end().length
  if (!t.completed) throw new Error('stream did not complete')
  return n
}

translatorBench('translator anthropic→openai chunks', anthropicEvents, () => new AnthropicToChatStream({ created: 1, includeUsage: true, jsonTool: null, scrub: (s) => s }))
translatorBench('translator openai→anthropic events', openaiEvents, () => new ChatToAnthropicStream({ inputTokensEstimate: 50, scrub: (s) => s }))

// End to end.
const sim = await startSimulator({ config: { keys: { 'sk-bench-oa': { id: 'oa' }, 'sk-bench-ant': { id: 'ant' } }, completion_tokens: TOKENS, latency: { ttft_ms: 0, tokens_per_second: 0 } } })
const sink = new Writable({ write: (_c, _e, done) => done() })
const gw = await startGateway({
  config: {
    value: {
      log: { access_log: false },
      providers: {
        oa: { type: 'openai', base_url: `${sim.url}/v1`, keys: [{ id: 'oa', key: 'sk-bench-oa', max_concurrent: 1000 }] },
        ant: { type: 'anthropic', base_url: `${sim.url}/v1`, keys: [{ id: 'ant', key: 'sk-bench-ant', max_concurrent: 1000 }] },
      },
      models: { same: { targets: [{ provider: 'oa', model: 'gpt-up' }] }, translated: { targets: [{ provider: 'ant', model: 'claude-up' }] } },
    },
    label: 'bench',
  },
  logger: createLogger({ level: 'warn', destination: sink }),
  port: 0,
  processMetrics: false,
  database: 'sqlite::memory:',
})
const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'c', maxRetries: 0 })

async function e2e(model, requests) {
  let next = 0
  let chars = 0
  async function worker() {
    while (next < requests) {
      next++
      const stream = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hello there' }], max_tokens: TOKENS, stream: true })
      for await (const c of stream) chars += c.choices[0]?.delta.content?.length ?? 0
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return chars
}

try {
  for (const model of ['same', 'translated']) await e2e(model, 50) // warm up
  const results = {}
  for (const model of ['same', 'translated', 'same', 'translated']) {
    const before = cpuMicros()
    const t0 = performance.now()
    const chars = await e2e(model, REQUESTS)
    const cpu = (cpuMicros() - before) / REQUESTS
    ;(results[model] ??= []).push(cpu)
    console.log(`end to end, ${model === 'same' ? 'openai client → openai provider (no translation)' : 'openai client → anthropic provider (translated)'}: ${cpu.toFixed(0)} µs CPU per ${TOKENS}-token stream (gateway + simulator + client), ${((performance.now() - t0) / 1000).toFixed(1)} s, ${chars} chars`)
  }
  const best = (xs) => Math.min(...xs)
  console.log(`translation adds ≈ ${(best(results.translated) - best(results.same)).toFixed(0)} µs CPU per streamed request (best of two runs each)`)
} finally {
  await gw.shutdown()
  await sim.close()
}
