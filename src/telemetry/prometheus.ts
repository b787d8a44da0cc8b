// A minimal Prometheus text-format registry for the per-request metrics. Each label set
// resolves once to a plain series object; recording is then an array write, with none of the
// per-call label hashing and validation a general-purpose client does.

export interface Family {
  render(): string
}

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

function labelText(names: readonly string[], values: readonly string[]): string {
  return names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`).join(',')
}

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}\n`
}

abstract class Labelled<S> implements Family {
  readonly #series: Array<{ labels: string; series: S }> = []
  /**
   * One Map level per label, the leaf holding the series: a lookup is a Map.get per label value,
   * with no key string built per call (a joined key cost ~0.5 µs per call, several per request).
   */
  readonly #root = new Map<string, unknown>()
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /**
   * The series for these label values (in `labelNames` order), created on first use. The tree
   * is always as deep as there are label names: a missing value counts as '' (as it renders).
   */
  series(...values: string[]): S {
    let level = this.#root
    const last = this.labelNames.length - 1
    for (let i = 0; i < last; i++) {
      const value = values[i] ?? ''
      let next = level.get(value) as Map<string, unknown> | undefined
      if (next === undefined) level.set(value, (next = new Map()))
      level = next
    }
    const leafKey = last < 0 ? '' : (values[last] ?? '')
    let series = level.get(leafKey) as S | undefined
    if (series === undefined) {
      series = this.create()
      level.set(leafKey, series)
      this.#series.push({ labels: labelText(this.labelNames, values), series })
    }
    return series
  }

  protected abstract create(): S
  protected abstract lines(labels: string, series: S): string

  render(): string {
    let out = header(this.name, this.help, this.type)
    for (const { labels, series } of this.#series) out += this.lines(labels, series)
    return out
  }

  protected abstract readonly type: string
}

export class CounterSeries {
  value = 0
  inc(by = 1): void {
    this.value += by
  }
}

export class Counter extends Labelled<CounterSeries> {
  protected readonly type = 'counter'
  protected create(): CounterSeries {
    return new CounterSeries()
  }
  protected lines(labels: string, s: CounterSeries): string {
    return `${this.name}{${labels}} ${s.value}\n`
  }
}

export class HistogramSeries {
  readonly counts: Float64Array
  sum = 0
  count = 0
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length)
  }
  observe(value: number): void {
    const bounds = this.bounds
    let i = 0
    while (i < bounds.length && value > (bounds[i] as number)) i++
    if (i < bounds.length) this.counts[i]!++
    this.sum += value
    this.count++
  }
}

export class Histogram extends Labelled<HistogramSeries> {
  protected readonly type = 'histogram'
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames)
  }
  protected create(): HistogramSeries {
    return new HistogramSeries(this.buckets)
  }
  protected lines(labels: string, s: HistogramSeries): string {
    let out = ''
    let cumulative = 0
    const sep = labels ? ',' : ''
    this.buckets.forEach((le, i) => {
      cumulative += s.counts[i] ?? 0
      out += `${this.name}_bucket{${labels}${sep}le="${le}"} ${cumulative}\n`
    })
    out += `${this.name}_bucket{${labels}${sep}le="+Inf"} ${s.count}\n`
    out += `${this.name}_sum{${labels}} ${s.sum}\n${this.name}_count{${labels}} ${s.count}\n`
    return out
  }
}

/** A value read when scraped. */
export class Gauge implements Family {
  protected readonly type: string = 'gauge'
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}
  render(): string {
    return `${header(this.name, this.help, this.type)}${this.name} ${this.read()}\n`
  }
}

/** A count kept elsewhere (it only grows), read when scraped. */
export class CounterReading extends Gauge {
  protected override readonly type: string = 'counter'
}

/** Labelled values read when scraped, from state that lives elsewhere (queues, pacers). */
export class GaugeSet implements Family {
  /** Set by whoever owns the state; yields [label values, value] pairs. */
  read: () => Iterable<readonly [readonly string[], number]> = () => []
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}
  render(): string {
    let out = header(this.name, this.help, 'gauge')
    for (const [values, value] of this.read()) out += `${this.name}{${labelText(this.labelNames, values)}} ${formatValue(value)}\n`
    return out
  }
}

function formatValue(v: number): string {
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return Number.isInteger(v) ? String(v) : v.toFixed(3)
}
