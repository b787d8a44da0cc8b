// `npm run bench -- scrub`: CPU per MB relayed of the key scrubber (src/core/secrets/key-scrubber.ts),
// the search every 2xx body goes through on its way to a client. In-process, one core, bounded:
// each case relays SCRUB_MB megabytes (default 64) through fresh per-body scrubbers, chunked as
// undici hands bodies to the relay, and reports process CPU (user + system) per MB and per chunk.
//
//   npm run bench -- scrub                 all cases (~10 s)
//   SCRUB_MB=16 node bench/scrub.js        a quicker run (after npm run build)
//
// Cases: an SSE chat stream with one event per chunk (the most chunks per MB, so the fixed cost
// per chunk dominates), the same stream in 16 KB network chunks, and a large JSON answer in
// 64 KB chunks and in random 1–32 KB chunks (English text, so chunk ends often look like the
// start of an `sk-` key and a few bytes are held back). Key sets: three OpenAI project keys
// (one shared prefix), a mixed fleet (OpenAI, Anthropic, NVIDIA, Azure, DeepSeek), 60
// unrelated keys, and the OpenAI keys with one short (12-byte) key. For scale, two floors: the
// same bodies through no scrubber (the loop alone), and a JavaScript loop that reads every
// byte through a 256-entry table, the least an automaton that visits every byte
// (Aho–Corasick in JavaScript) could cost.
import { createHash } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { KeyScrubber } from '../dist/core/secrets/key-scrubber.js'

const MB = 1024 * 1024
const totalMb = Number(process.env.SCRUB_MB ?? 64)

const hex = (seed, n) => createHash('sha256').update(seed).digest('hex').repeat(4).slice(0, n)
const b64ish = (seed, n) => createHash('sha512').update(seed).digest('base64').replace(/[+/=]/g, 'x').repeat(3).slice(0, n)

const keySets = {
  'openai x3': [1, 2, 3].map((i) => `sk-proj-${b64ish(`oa${i}`, 48)}`),
  'mixed x7': [
    `sk-proj-${b64ish('oa1', 48)}`,
    `sk-proj-${b64ish('oa2', 48)}`,
    `sk-ant-api03-${b64ish('an1', 40)}`,
    `nvapi-${b64ish('nv1', 40)}`,
    hex('az1', 32),
    hex('az2', 32),
    `sk-${hex('ds1', 32)}`,
  ],
  'unrelated x60': Array.from({ length: 60 }, (_, i) => `${hex(`p${i}`, 4)}-${b64ish(`k${i}`, 40)}`),
  // The scan jumps by up to the shortest key's length: one short key slows every body down.
  'openai x3 + a 12 B key': [...[1, 2, 3].map((i) => `sk-proj-${b64ish(`oa${i}`, 48)}`), `tok-${hex('short', 8)}`],
}

const words = 'the river runs south past several small towns and its water is used for farms so it is shallow in summer while spring floods reach the streets'.split(' ')
function prose(bytes, seed) {
  let s = ''
  let i = seed
  while (s.length < bytes) {
    i = (i * 1103515245 + 12345) >>> 0
    s += words[i % words.length] + ' '
  }
  return s.slice(0, bytes)
}

function sseEvents(count) {
  const events = []
  for (let i = 0; i < count; i++) {
    const token = JSON.stringify(` ${words[i % words.length]}`)
    events.push(Buffer.from(`data: {"id":"chatcmpl-AbCdEf0123456789","object":"chat.completion.chunk","created":1733580000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0aa8d3e20b","choices":[{"index":0,"delta":{"content":${token}},"logprobs":null,"finish_reason":null}]}\n\n`))
  }
  return events
}

function jsonAnswer(bytes) {
  const content = prose(bytes - 400, 7)
  return Buffer.from(JSON.stringify({ id: 'chatcmpl-AbCdEf0123456789', object: 'chat.completion', created: 1733580000, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: 12, completion_tokens: 4000, total_tokens: 4012 } }))
}

function fixedChunks(body, size) {
  const out = []
  for (let i = 0; i < body.length; i += size) out.push(body.subarray(i, i + size))
  return out
}

function randomChunks(body, min, max) {
  const out = []
  let seed = 42
  for (let i = 0; i < body.length;) {
    seed = (seed * 1103515245 + 12345) >>> 0
    const n = min + (seed % (max - min + 1))
    out.push(body.subarray(i, i + n))
    i += n
  }
  return out
}

// One "body" is a list of chunks; a case relays it repeatedly until totalMb have gone through.
const sseOne = sseEvents(400)
const bodies = {
  'SSE, one event per chunk': sseOne,
  'SSE, 16 KB chunks': fixedChunks(Buffer.concat(sseOne), 16 * 1024),
  'JSON 1 MB, 64 KB chunks': fixedChunks(jsonAnswer(MB), 64 * 1024),
  'JSON 1 MB, random 1-32 KB chunks': randomChunks(jsonAnswer(MB), 1024, 32 * 1024),
}

const table = new Uint8Array(256)
for (const c of 'sk-proj') table[c.charCodeAt(0)] = 1

const scrubbers = {
  none: null,
  'table loop (JS floor)': 'table',
  ...Object.fromEntries(Object.entries(keySets).map(([name, keys]) => [name, new KeyScrubber(keys)])),
}

function relayOnce(scrubber, chunks) {
  let sent = 0
  if (scrubber === null) {
    for (const c of chunks) sent += c.length
    return sent
  }
  if (scrubber === 'table') {
    let hits = 0
    for (const c of chunks) {
      for (let i = 0; i < c.length; i++) hits += table[c[i]]
      sent += c.length
    }
    return sent + (hits & 0)
  }
  const s = scrubber.stream()
  for (const c of chunks) sent += s.push(c).length
  sent += s.end()?.length ?? 0
  return sent
}

function measure(scrubber, chunks) {
  const bodyBytes = chunks.reduce((n, c) => n + c.length, 0)
  const reps = Math.max(1, Math.round((totalMb * MB) / bodyBytes))
  for (let i = 0; i < Math.max(1, reps / 10); i++) relayOnce(scrubber, chunks) // warm-up
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  let sent = 0
  for (let i = 0; i < reps; i++) sent += relayOnce(scrubber, chunks)
  const wallNs = Number(process.hrtime.bigint() - t0)
  const cpu = process.cpuUsage(cpu0)
  const cpuUs = cpu.user + cpu.system
  if (sent !== reps * bodyBytes) throw new Error(`relayed ${sent} bytes, expected ${reps * bodyBytes}`)
  const mb = sent / MB
  return { usPerMb: cpuUs / mb, wallUsPerMb: wallNs / 1000 / mb, nsPerChunk: (cpuUs * 1000) / (reps * chunks.length), mb }
}

export async function runScrub() {
  const rows = []
  for (const [bodyName, chunks] of Object.entries(bodies)) {
    for (const [scrubName, scrubber] of Object.entries(scrubbers)) {
      const r = measure(scrubber, chunks)
      rows.push({ body: bodyName, chunkBytes: Math.round(chunks.reduce((n, c) => n + c.length, 0) / chunks.length), scrubber: scrubName, ...r })
    }
  }
  const head = ['body', 'avg chunk B', 'scrubber', 'CPU µs/MB', 'wall µs/MB', 'ns/chunk']
  const lines = rows.map((r) => [r.body, String(r.chunkBytes), r.scrubber, r.usPerMb.toFixed(0), r.wallUsPerMb.toFixed(0), r.nsPerChunk.toFixed(0)])
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)))
  const fmt = (cells) => cells.map((c, i) => (i < 1 || i === 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  process.stdout.write(`key scrubber, ${totalMb} MB per case, Node ${process.version}\n${fmt(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`)
  for (const l of lines) process.stdout.write(`${fmt(l)}\n`)
  return rows
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runScrub()
