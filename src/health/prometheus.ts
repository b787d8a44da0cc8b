// A reader for just enough of the Prometheus text exposition format (version 0.0.4, which
// vLLM serves) to pull a few gauges out of a /metrics page. Lines of other metrics are skipped
// by a prefix test before any parsing, so a page full of histograms costs little.

/**
 * The values of the wanted metrics, one per label set, in page order. Comments (`# HELP`,
 * `# TYPE`, anything after `#`) and blank lines are skipped; so is a line that does not
 * parse. NaN and ±Inf are returned as such: what they mean is the caller's business.
 */
export function parseSamples(text: string, names: readonly string[]): Map<string, number[]> {
  const out = new Map<string, number[]>()
  for (const name of names) out.set(name, [])
  let start = 0
  while (start < text.length) {
    let end = text.indexOf('\n', start)
    if (end < 0) end = text.length
    let i = start
    while (i < end && (text[i] === ' ' || text[i] === '\t')) i++
    if (i < end && text[i] !== '#') {
      for (const name of names) {
        if (!text.startsWith(name, i)) continue
        const value = sampleValue(text, i + name.length, end)
        // Undefined: another metric sharing the prefix, or a malformed line.
        if (value === undefined) continue
        out.get(name)?.push(value)
        break
      }
    }
    start = end + 1
  }
  return out
}

/**
 * The value of a sample line whose metric name ended at `i`: an optional label set, then
 * the value, then an optional timestamp. Undefined when the name continues (another metric
 * sharing the prefix) or the line is malformed.
 */
function sampleValue(text: string, i: number, end: number): number | undefined {
  if (text[i] === '{') {
    i = skipLabels(text, i + 1, end)
    if (i < 0) return undefined
  } else if (text[i] !== ' ' && text[i] !== '\t') {
    return undefined
  }
  while (i < end && (text[i] === ' ' || text[i] === '\t')) i++
  let j = i
  while (j < end && text[j] !== ' ' && text[j] !== '\t' && text[j] !== '\r') j++
  return parseValue(text.slice(i, j))
}

/** The index after the label set's closing brace, or -1. Quoted values may hold `}`, `,` and escaped quotes. */
function skipLabels(text: string, i: number, end: number): number {
  for (;;) {
    while (i < end && (text[i] === ' ' || text[i] === '\t' || text[i] === ',')) i++
    if (i >= end) return -1
    if (text[i] === '}') return i + 1
    const eq = text.indexOf('=', i)
    if (eq < 0 || eq >= end) return -1
    i = eq + 1
    while (i < end && (text[i] === ' ' || text[i] === '\t')) i++
    if (text[i] !== '"') return -1
    i++
    while (i < end && text[i] !== '"') i += text[i] === '\\' ? 2 : 1
    if (i >= end) return -1
    i++ // the closing quote
  }
}

function parseValue(token: string): number | undefined {
  switch (token) {
    case '': return undefined
    case 'NaN': return NaN
    case '+Inf': case 'Inf': return Infinity
    case '-Inf': return -Infinity
    default: {
      const v = Number(token)
      return Number.isNaN(v) ? undefined : v
    }
  }
}

/** What a vLLM server says about its load; null where the page has no usable sample. */
export interface VllmGauges {
  /** Requests queued inside the server, waiting for a batch slot or KV-cache blocks (all models). */
  readonly waiting: number | null
  /** Requests the server is running now (all models, all clients). */
  readonly running: number | null
  /** Share of KV-cache blocks in use, 0..1 (the highest of any engine). */
  readonly kvCache: number | null
}

const waitingName = 'vllm:num_requests_waiting'
const runningName = 'vllm:num_requests_running'
// vLLM renamed the gauge; servers in the deprecation window serve both with the same value.
const kvName = 'vllm:kv_cache_usage_perc'
const kvLegacyName = 'vllm:gpu_cache_usage_perc'
const vllmNames = [waitingName, runningName, kvName, kvLegacyName]

/**
 * The vLLM load gauges of a /metrics page. Request counts are summed over label sets (one per
 * model_name or engine); the KV-cache share is the highest, not the sum: it is a fraction per
 * engine, and the fullest engine is the one that will start queueing or preempting first.
 * NaN and infinite samples are ignored, and a KV share is clamped to 0..1 (despite its name,
 * vLLM's `_perc` gauge is a fraction, 1 = full).
 */
export function parseVllmMetrics(text: string): VllmGauges {
  const s = parseSamples(text, vllmNames)
  const kv = max(s.get(kvName) as number[]) ?? max(s.get(kvLegacyName) as number[])
  return {
    waiting: sum(s.get(waitingName) as number[]),
    running: sum(s.get(runningName) as number[]),
    kvCache: kv === null ? null : Math.min(1, Math.max(0, kv)),
  }
}

function sum(values: readonly number[]): number | null {
  let total: number | null = null
  for (const v of values) if (Number.isFinite(v)) total = (total ?? 0) + v
  return total
}

function max(values: readonly number[]): number | null {
  let best: number | null = null
  for (const v of values) if (Number.isFinite(v) && (best === null || v > best)) best = v
  return best
}
