import { describe, expect, it } from 'vitest'
import { Counter, CounterReading, Gauge, Histogram } from '../../../src/telemetry/prometheus.js'

describe('Prometheus text families', () => {
  it('renders a counter per label set, escaping label values', () => {
    const c = new Counter('x_total', 'Things.', ['a', 'b'])
    c.series('1', 'q"uo\\te\nnl').inc()
    c.series('1', 'q"uo\\te\nnl').inc(2)
    c.series('2', 'y').inc()
    expect(c.render()).toBe('# HELP x_total Things.\n# TYPE x_total counter\nx_total{a="1",b="q\\"uo\\\\te\\nnl"} 3\nx_total{a="2",b="y"} 1\n')
  })

  it('finds one series per label set, the same object each time, with label values shared across levels kept apart', () => {
    const c = new Counter('y_total', 'Things.', ['a', 'b', 'c'])
    const one = c.series('p', 'q', 'r')
    expect(c.series('p', 'q', 'r')).toBe(one)
    const swapped = c.series('q', 'p', 'r')
    expect(swapped).not.toBe(one)
    // A missing value is '' (as it renders), and never lands where a deeper level lives.
    const short = c.series('p', 'q')
    expect(short).not.toBe(one)
    expect(c.series('p', 'q', '')).toBe(short)
    short.inc()
    one.inc(2)
    expect(c.render()).toBe('# HELP y_total Things.\n# TYPE y_total counter\ny_total{a="p",b="q",c="r"} 2\ny_total{a="q",b="p",c="r"} 0\ny_total{a="p",b="q",c=""} 1\n')
  })

  it('renders a count kept elsewhere as a counter, read when scraped', () => {
    let dropped = 3
    const c = new CounterReading('z_total', 'Lost.', () => dropped)
    expect(c.render()).toBe('# HELP z_total Lost.\n# TYPE z_total counter\nz_total 3\n')
    dropped = 4
    expect(c.render()).toContain('z_total 4\n')
  })

  it('renders cumulative histogram buckets, +Inf, sum and count', () => {
    const h = new Histogram('lat_seconds', 'Latency.', ['k'], [0.1, 1])
    const s = h.series('a')
    for (const v of [0.05, 0.1, 0.5, 3]) s.observe(v)
    expect(h.render()).toBe(
      [
        '# HELP lat_seconds Latency.',
        '# TYPE lat_seconds histogram',
        'lat_seconds_bucket{k="a",le="0.1"} 2',
        'lat_seconds_bucket{k="a",le="1"} 3',
        'lat_seconds_bucket{k="a",le="+Inf"} 4',
        'lat_seconds_sum{k="a"} 3.65',
        'lat_seconds_count{k="a"} 4',
        '',
      ].join('\n'),
    )
  })

  it('reads a gauge when rendered', () => {
    let n = 1
    const g = new Gauge('g', 'Now.', () => n)
    n = 7
    expect(g.render()).toBe('# HELP g Now.\n# TYPE g gauge\ng 7\n')
  })
})
