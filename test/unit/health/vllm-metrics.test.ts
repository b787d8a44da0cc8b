import { Pool } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { VllmMetricsScraper } from '../../../src/health/index.js'
import { FakeTime, TestUpstream } from './helpers.js'

const page = (waiting: number, running: number, kv: number): string => [
  '# TYPE vllm:num_requests_running gauge',
  `vllm:num_requests_running{model_name="a"} ${running}`,
  '# TYPE vllm:num_requests_waiting gauge',
  `vllm:num_requests_waiting{model_name="a"} ${waiting}`,
  `vllm:gpu_cache_usage_perc{model_name="a"} ${kv}`,
  '',
].join('\n')

let time: FakeTime
let upstream: TestUpstream
let scraper: VllmMetricsScraper
let scrapes: [string, boolean][]
let waiters: (() => void)[]

beforeEach(async () => {
  time = new FakeTime()
  upstream = await TestUpstream.start(time)
  upstream.reply = (_q, res) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(page(1, 2, 0.5))
  scrapes = []
  waiters = []
  scraper = make()
})

afterEach(async () => {
  scraper.close()
  await upstream.close()
})

function make(over: Partial<ConstructorParameters<typeof VllmMetricsScraper>[0]> = {}): VllmMetricsScraper {
  return new VllmMetricsScraper({
    clock: time,
    timers: time,
    intervalMs: 2_000,
    onScrape: (origin, ok) => {
      scrapes.push([origin, ok])
      const w = waiters
      waiters = []
      for (const f of w) f()
    },
    ...over,
  })
}

async function scraped(n: number): Promise<void> {
  while (scrapes.length < n) await new Promise<void>((resolve) => waiters.push(resolve))
}

describe('VllmMetricsScraper', () => {
  it('scrapes a new origin at once, then every interval, one after the other', async () => {
    expect(scraper.load(upstream.origin)).toBeNull()
    scraper.setOrigins([upstream.origin])
    await scraped(1)
    expect(upstream.seen[0]).toMatchObject({ method: 'GET', path: '/metrics' })
    expect(scraper.load(upstream.origin)).toEqual({ waiting: 1, running: 2, kvCache: 0.5, at: 1_000 })
    expect(time.dueTimes()).toEqual([3_000])
    upstream.reply = (_q, res) => res.writeHead(200).end(page(0, 7, 0.95))
    for (let i = 2; i <= 5; i++) {
      time.advance(2_000)
      await scraped(i)
    }
    expect(upstream.seen.map((r) => r.at)).toEqual([1_000, 3_000, 5_000, 7_000, 9_000])
    expect(scraper.load(upstream.origin)).toEqual({ waiting: 0, running: 7, kvCache: 0.95, at: 9_000 })
  })

  it('keeps the last good load through failed scrapes, until it is three intervals old', async () => {
    scraper.setOrigins([upstream.origin])
    await scraped(1)
    upstream.reply = (_q, res) => res.writeHead(500).end('down')
    for (let i = 2; i <= 4; i++) {
      time.advance(2_000)
      await scraped(i)
      expect(scraper.load(upstream.origin)).toMatchObject({ waiting: 1, at: 1_000 })
    }
    expect(scrapes.map(([, ok]) => ok)).toEqual([true, false, false, false])
    // 7 000 − 1 000 = 6 000 = three intervals: still usable; a millisecond later it is not.
    time.advance(1)
    expect(scraper.load(upstream.origin)).toBeNull()
  })

  it('a page without vLLM gauges, or a reset, gives no load', async () => {
    upstream.reply = (_q, res) => res.writeHead(200).end('# nothing here\nprocess_cpu_seconds_total 3\n')
    scraper.setOrigins([upstream.origin])
    await scraped(1)
    expect(scraper.load(upstream.origin)).toBeNull()
    upstream.reply = (q) => q.socket.destroy()
    time.advance(2_000)
    await scraped(2)
    expect(scrapes).toEqual([[upstream.origin, false], [upstream.origin, false]])
    expect(scraper.load(upstream.origin)).toBeNull()
    expect(time.dueTimes()).toEqual([5_000])
  })

  it('a scrape that outlives its timeout is aborted and the chain goes on', async () => {
    scraper.close()
    scraper = make({ timeoutMs: 500 })
    upstream.reply = (_q, res) => upstream.held.push(res)
    scraper.setOrigins([upstream.origin])
    await upstream.waitForRequests(1)
    expect(time.dueTimes()).toEqual([1_500])
    time.advance(500)
    await scraped(1)
    expect(scrapes).toEqual([[upstream.origin, false]])
    expect(time.dueTimes()).toEqual([3_000])
  })

  it('scrapes under a base URL\'s path prefix', async () => {
    scraper.setOrigins([`${upstream.origin}/vllm-1/`])
    await scraped(1)
    expect(upstream.seen[0]!.path).toBe('/vllm-1/metrics')
    expect(scraper.load(`${upstream.origin}/vllm-1/`)).toMatchObject({ running: 2 })
  })

  it('uses the dispatcher it is given for an origin', async () => {
    const pool = new Pool(upstream.origin)
    const asked: string[] = []
    try {
      scraper.close()
      scraper = make({
        dispatcher: (origin) => {
          asked.push(origin)
          return pool
        },
      })
      scraper.setOrigins([upstream.origin])
      await scraped(1)
      expect(asked).toEqual([upstream.origin])
      expect(scraper.load(upstream.origin)).not.toBeNull()
    } finally {
      scraper.close()
      await pool.destroy()
    }
  })

  it('setOrigins keeps the chain and load of origins that stay and drops the rest', async () => {
    const other = await TestUpstream.start(time)
    try {
      other.reply = upstream.reply
      scraper.setOrigins([upstream.origin, other.origin])
      await scraped(2)
      expect(time.pending).toBe(2)
      time.advance(500)
      scraper.setOrigins([upstream.origin])
      expect(time.dueTimes()).toEqual([3_000])
      expect(scraper.load(upstream.origin)).not.toBeNull()
      expect(scraper.load(other.origin)).toBeNull()
      time.advance(10_000)
      expect(other.seen).toHaveLength(1)
    } finally {
      await other.close()
    }
  })

  it('close clears every timer and aborts scrapes in flight', async () => {
    scraper.setOrigins([upstream.origin])
    await scraped(1)
    upstream.reply = (_q, res) => upstream.held.push(res)
    time.advance(2_000)
    await upstream.waitForRequests(2)
    expect(time.pending).toBe(1) // the scrape's timeout
    scraper.close()
    expect(time.pending).toBe(0)
    expect(scraper.load(upstream.origin)).toBeNull()
    scraper.setOrigins([upstream.origin])
    expect(time.pending).toBe(0)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(scrapes).toHaveLength(1)
    expect(upstream.seen).toHaveLength(2)
  })

  it('refuses a non-positive interval', () => {
    expect(() => make({ intervalMs: 0 })).toThrow(/interval must be positive/)
  })
})
