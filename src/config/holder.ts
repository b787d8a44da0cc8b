import { compile, dispatchersOf } from './compile.js'
import { ConfigError, loadConfigFile, parseConfigText } from './load.js'
import type { UpstreamPools } from './pools.js'
import type { Runtime } from './runtime.js'
import { SluiceConfig, type SluiceConfigInput, type SluiceConfigParsed } from './schema.js'

/** Where the configuration comes from: a file (reloadable) or a value given in process. */
export type ConfigSource = { readonly file: string } | { readonly value: SluiceConfigInput | string; readonly label: string }

export type ReloadResult = { readonly ok: true; readonly generation: number } | { readonly ok: false; readonly error: ConfigError }

/**
 * Holds the live runtime. A reload loads and compiles beside it and swaps one reference;
 * anything that fails leaves the live runtime untouched. Each request reads `current` once.
 */
export class ConfigHolder {
  #current: Runtime
  #generation = 1

  constructor(
    private readonly source: ConfigSource,
    private readonly pools: UpstreamPools,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.#current = compile(this.#load(), { generation: this.#generation, source: this.#label(), pools })
  }

  get current(): Runtime {
    return this.#current
  }

  reload(): ReloadResult {
    try {
      const next = compile(this.#load(), { generation: this.#generation + 1, source: this.#label(), pools: this.pools })
      this.#generation++
      this.#current = next
      this.pools.retain(dispatchersOf(next))
      return { ok: true, generation: next.generation }
    } catch (err) {
      if (err instanceof ConfigError) return { ok: false, error: err }
      return { ok: false, error: new ConfigError(this.#label(), [{ path: '', line: null, message: (err as Error).message }]) }
    }
  }

  #label(): string {
    return 'file' in this.source ? this.source.file : this.source.label
  }

  #load(): SluiceConfigParsed {
    if ('file' in this.source) return loadConfigFile(this.source.file, this.env)
    const value = this.source.value
    if (typeof value === 'string') return parseConfigText(value, this.source.label, this.env)
    const parsed = SluiceConfig.safeParse(value)
    if (parsed.success) return parsed.data
    throw new ConfigError(
      this.source.label,
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), line: null, message: i.message })),
    )
  }
}
