import { describe, expect, it } from 'vitest'
import { parseSamples, parseVllmMetrics } from '../../../src/health/index.js'

const page = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="meta/llama-3.1-8b-instruct"} 3.0
vllm:num_requests_running{model_name="other"} 2.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="meta/llama-3.1-8b-instruct"} 1.0
vllm:num_requests_waiting{model_name="other"} 4.0
# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{model_name="meta/llama-3.1-8b-instruct"} 0.25
vllm:gpu_cache_usage_perc{model_name="other"} 0.5
# HELP vllm:num_requests_waiting_by_reason A metric sharing the prefix.
vllm:num_requests_waiting_by_reason{reason="capacity"} 99.0
vllm:time_to_first_token_seconds_bucket{le="0.001",model_name="x"} 0.0
`

describe('parseSamples', () => {
  const cases: { name: string; text: string; want: number[] }[] = [
    { name: 'no labels', text: 'm 1\n', want: [1] },
    { name: 'labels', text: 'm{a="b",c="d"} 2\n', want: [2] },
    { name: 'empty label set and trailing comma', text: 'm{} 3\nm{a="b",} 4\n', want: [3, 4] },
    { name: 'escaped quote, backslash, brace and comma in a label value', text: 'm{a="say \\"hi\\", {x}\\\\"} 5\n', want: [5] },
    { name: 'a timestamp after the value', text: 'm{a="b"} 6 1712345678000\n', want: [6] },
    { name: 'leading spaces, tabs and CRLF', text: '  m{a="b"}\t7\r\n', want: [7] },
    { name: 'exponent', text: 'm 1.5e3\n', want: [1500] },
    { name: 'NaN and infinities', text: 'm NaN\nm +Inf\nm -Inf\n', want: [NaN, Infinity, -Infinity] },
    { name: 'comments and blank lines', text: '# m 9\n\n   # TYPE m gauge\nm 8\n', want: [8] },
    { name: 'another metric sharing the prefix', text: 'm_total 1\nmx{a="b"} 2\nm 3\n', want: [3] },
    { name: 'malformed lines are skipped', text: 'm{a="b" 1\nm{a=b} 2\nm\nm abc\nm{a="unterminated} 3\nm 4', want: [4] },
    { name: 'missing series', text: 'other 1\n', want: [] },
  ]
  for (const c of cases) {
    it(c.name, () => {
      expect(parseSamples(c.text, ['m']).get('m')).toEqual(c.want)
    })
  }

  it('tries every name that shares a prefix', () => {
    const s = parseSamples('ab 1\na 2\nabc 3\n', ['a', 'ab'])
    expect(s.get('a')).toEqual([2])
    expect(s.get('ab')).toEqual([1])
  })
})

describe('parseVllmMetrics', () => {
  it('sums requests over label sets and takes the fullest KV cache', () => {
    expect(parseVllmMetrics(page)).toEqual({ waiting: 5, running: 5, kvCache: 0.5 })
  })

  it('prefers the new kv_cache_usage_perc name over the deprecated one', () => {
    const text = 'vllm:gpu_cache_usage_perc 0.9\nvllm:kv_cache_usage_perc 0.2\nvllm:num_requests_running 0\n'
    expect(parseVllmMetrics(text).kvCache).toBe(0.2)
  })

  it('is null where the page has nothing usable', () => {
    expect(parseVllmMetrics('')).toEqual({ waiting: null, running: null, kvCache: null })
    expect(parseVllmMetrics('vllm:num_requests_waiting NaN\nvllm:num_requests_running{x="1"} 2\nvllm:gpu_cache_usage_perc NaN\n'))
      .toEqual({ waiting: null, running: 2, kvCache: null })
  })

  it('ignores NaN samples beside good ones and clamps the KV share to 0..1', () => {
    const text = 'vllm:num_requests_waiting{e="0"} NaN\nvllm:num_requests_waiting{e="1"} 2\nvllm:kv_cache_usage_perc 1.2\n'
    expect(parseVllmMetrics(text)).toEqual({ waiting: 2, running: null, kvCache: 1 })
    expect(parseVllmMetrics('vllm:kv_cache_usage_perc -0.1\n').kvCache).toBe(0)
  })
})
