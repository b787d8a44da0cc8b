import type { PeakEwma } from '../core/balance/index.js'
import { BreakerRegistry } from '../core/breaker/index.js'
import { LimitRegistry } from '../core/limit/registry.js'
import { PacerRegistry } from '../core/pacer/registry.js'
import { compile, dispatchersOf } from './compile.js'
import { ConfigError, loadConfigFile, parseConfigText, parseConfigValue } from './load.js'
import type { UpstreamPools } from './pools.js'
import type { Runtime } from './runtime.js'
import type { SluiceConfigInput, SluiceConfigParsed } from './schema.js'

/** Where the configuration comes from: a file (reloadable) or a value given in process. */
export type ConfigSource = { readonly file: string } | { readonly value: SluiceConfigInput | string; readonly label: string }

export type ReloadResult = { readonly ok: true; readonly generation: number } | { readonly ok: false; readonly error: ConfigError }

export interface ConfigHolderOptions {
  readonly source: ConfigSource
  /** Upstream connection pools, shared by every generation. */
  readonly pools: UpstreamPools
  /** Where ${VAR} references are read (default process.env). */
  readonly env?: NodeJS.ProcessEnv
  /** Long-lived state that outlives generations (created when not given). */
  readonly pacers?: PacerRegistry
  readonly limits?: LimitRegistry
  readonly breakers?: BreakerRegistry
  readonly latencies?: Map<string, PeakEwma>
}

/**
 * Holds the live runtime. A reload loads and compiles beside it and swaps one reference;
 * anything that fails leaves the live runtime untouched. Each request reads `current` once.
 */
export class ConfigHolder {
  #current: Runtime
  #generation = 1
  /** Requests still running on each superseded generation; its pools close when it reaches 0. */
  readonly #draining = new Map<Runtime, number>()
  #currentInUse = 0

  private readonly source: ConfigSource
  private readonly pools: UpstreamPools
  private readonly env: NodeJS.ProcessEnv
  readonly pacers: PacerRegistry
  readonly limits: LimitRegistry
  readonly breakers: BreakerRegistry
  readonly latencies: Map<string, PeakEwma>

  constructor(opts: ConfigHolderOptions) {
    this.source = opts.source
    this.pools = opts.pools
    this.env = opts.env ?? process.env
    this.pacers = opts.pacers ?? new PacerRegistry()
    this.limits = opts.limits ?? new LimitRegistry()
    this.breakers = opts.breakers ?? new BreakerRegistry()
    this.latencies = opts.latencies ?? new Map()
    const { pools, pacers, limits, breakers, latencies } = this
    this.#current = compile(this.#load(), { generation: this.#generation, source: this.#label(), pools, pacers, limits, breakers, latencies })
  }

  get current(): Runtime {
    return this.#current
  }

  /** The runtime a new request runs on to its end; pair with release(). */
  acquire(): Runtime {
    this.#currentInUse++
    return this.#current
  }

  release(runtime: Runtime): void {
    if (runtime === this.#current) {
      this.#currentInUse--
      return
    }
    const left = (this.#draining.get(runtime) ?? 1) - 1
    if (left > 0) {
      this.#draining.set(runtime, left)
      return
    }
    this.#draining.delete(runtime)
    this.#closeUnusedPools()
  }

  reload(): ReloadResult {
    try {
      const next = compile(this.#load(), { generation: this.#generation + 1, source: this.#label(), pools: this.pools, pacers: this.pacers, limits: this.limits, breakers: this.breakers, latencies: this.latencies })
      this.#generation++
      // Requests already admitted keep their generation, pools included, until they end.
      if (this.#currentInUse > 0) this.#draining.set(this.#current, this.#currentInUse)
      this.#currentInUse = 0
      this.#current = next
      this.#closeUnusedPools()
      return { ok: true, generation: next.generation }
    } catch (err) {
      if (err instanceof ConfigError) return { ok: false, error: err }
      return { ok: false, error: new ConfigError(this.#label(), [{ path: '', line: null, message: (err as Error).message }]) }
    }
  }

  #closeUnusedPools(): void {
    const inUse = dispatchersOf(this.#current)
    for (const runtime of this.#draining.keys()) for (const d of dispatchersOf(runtime)) inUse.add(d)
    this.pools.retain(inUse)
  }

  #label(): string {
    return 'file' in this.source ? this.source.file : this.source.label
  }

  #load(): SluiceConfigParsed {
    if ('file' in this.source) return loadConfigFile(this.source.file, this.env)
    const value = this.source.value
    if (typeof value === 'string') return parseConfigText(value, this.source.label, this.env)
    return parseConfigValue(value, this.source.label)
  }
}
