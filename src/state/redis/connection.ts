import { readdirSync, readFileSync } from 'node:fs'
import { Redis, ReplyError, type ChainableCommander, type RedisOptions } from 'ioredis'
import { systemClock, systemTimers, type Clock, type Timers } from '../../core/clock.js'
import { StateScriptError, StateUnavailableError } from '../errors.js'
import type { StateHealth } from '../health.js'
import type { RedisStateSettings } from '../settings.js'
import { HealthSignal } from './health-signal.js'

// One Redis connection for one instance's shared state: the Lua scripts, loaded once with
// defineCommand (EVALSHA, re-sent by ioredis on NOSCRIPT after a restart), the fail-fast
// options, health (./health-signal.ts), and a count of round trips. Every call goes through `run`, `pipeline` or
// `command`, which map errors in one place.

const luaDir = new URL('./lua/', import.meta.url)
/** `<name>-<nkeys>.lua` (BullMQ's convention): the number of KEYS is in the file name. */
const scriptFile = /^([a-z][a-z-]*)-(\d+)\.lua$/

export type Arg = string | number
type ScriptFn = (...args: Arg[]) => Promise<unknown>

export interface ScriptCall {
  readonly script: string
  readonly keys: readonly string[]
  readonly args: readonly Arg[]
}

/**
 * Tests only: the time every script uses instead of Redis TIME, so a test steps past a TTL
 * without waiting and expiry is exact to the ms. 0 (always, in service): Redis TIME.
 */
export interface TestClock {
  nowMs: number
}

export interface RedisConnectionOptions {
  readonly testClock?: TestClock
  /** Shown in CLIENT LIST, so an operator can tell instances apart. */
  readonly name?: string
  /** Called once per change of health, with the cause when it went down. */
  readonly onHealth?: (up: boolean, cause: Error | null) => void
  /** Tests: the time and timers the health signal counts failures and checks by. */
  readonly clock?: Clock
  readonly timers?: Timers
}

export class RedisConnection implements StateHealth {
  readonly redis: Redis
  readonly testClock: TestClock
  readonly settings: RedisStateSettings
  /** Round trips made: one per script call, plain command or pipeline (ioredis's own NOSCRIPT reloads and the health checks while down are not counted). */
  roundTrips = 0
  /** Calls that timed out, since start. */
  timeouts = 0
  readonly health: HealthSignal
  #closed = false
  #lastError: Error | null = null
  readonly #scripts = new Map<string, { readonly nkeys: number }>()

  constructor(settings: RedisStateSettings, opts: RedisConnectionOptions = {}) {
    this.settings = settings
    this.testClock = opts.testClock ?? { nowMs: 0 }
    this.redis = new Redis(redisOptions(settings, opts.name ?? 'sluice'))
    this.health = new HealthSignal({
      clock: opts.clock ?? systemClock,
      timers: opts.timers ?? systemTimers,
      timeoutMs: settings.commandTimeoutMs,
      check: () => this.redis.ping(),
      ...(opts.onHealth ? { onChange: opts.onHealth } : {}),
    })
    this.redis.on('ready', () => this.health.connected())
    this.redis.on('close', () => this.health.lost(this.#lastError ?? new Error('connection closed')))
    // Without a listener ioredis prints every connection error; health carries it instead.
    this.redis.on('error', (err: Error) => {
      this.#lastError = err
    })
    for (const file of readdirSync(luaDir)) {
      const m = scriptFile.exec(file)
      if (!m) continue
      const name = m[1] as string
      const nkeys = Number(m[2])
      this.redis.defineCommand(name, { numberOfKeys: nkeys, lua: readFileSync(new URL(file, luaDir), 'utf8') })
      this.#scripts.set(name, { nkeys })
    }
  }

  get up(): boolean {
    return this.health.up
  }

  onChange(fn: (up: boolean) => void): () => void {
    return this.health.onChange(fn)
  }

  /** Resolves once connected (scripts are loaded on first use); rejects after the connect timeout. */
  async connect(): Promise<void> {
    if (this.redis.status === 'ready') return
    if (this.redis.status === 'wait') {
      await this.redis.connect().catch((err: Error) => {
        throw new StateUnavailableError('disconnected', `cannot reach Redis at ${this.settings.where}: ${err.message}`, { cause: err })
      })
      return
    }
    await new Promise<void>((resolve) => this.redis.once('ready', resolve))
  }

  /** Runs one script: ARGV[1] is always the test clock (0: Redis TIME), then `args`. One round trip. */
  async run<T>(script: string, keys: readonly string[], args: readonly Arg[]): Promise<T> {
    const fn = this.#script(this.redis, script, keys)
    this.roundTrips++
    try {
      const out = (await fn(...keys, this.testClock.nowMs, ...args)) as T
      this.health.answered()
      return out
    } catch (err) {
      throw this.#mapError(script, err)
    }
  }

  /** Several script calls in one round trip; each result in order (a failed call rejects the whole). */
  async pipeline(calls: readonly ScriptCall[]): Promise<unknown[]> {
    if (calls.length === 0) return []
    const pipe = this.redis.pipeline()
    for (const c of calls) this.#script(pipe, c.script, c.keys)(...c.keys, this.testClock.nowMs, ...c.args)
    this.roundTrips++
    let replies: [Error | null, unknown][] | null
    try {
      replies = await pipe.exec()
    } catch (err) {
      throw this.#mapError('pipeline', err)
    }
    if (replies === null) throw new StateUnavailableError('disconnected', 'Redis pipeline was not sent')
    const out: unknown[] = []
    for (let i = 0; i < replies.length; i++) {
      const [err, value] = replies[i] as [Error | null, unknown]
      if (err) throw this.#mapError((calls[i] as ScriptCall).script, err)
      out.push(value)
    }
    this.health.answered()
    return out
  }

  /** A plain command (ZREM, DEL, PUBLISH …) that needs no clock. One round trip. */
  async command<T>(name: string, ...args: Arg[]): Promise<T> {
    this.roundTrips++
    try {
      const out = (await this.redis.call(name, ...args)) as T
      this.health.answered()
      return out
    } catch (err) {
      throw this.#mapError(name, err)
    }
  }

  /** A second connection for SUBSCRIBE (a subscribed connection can do nothing else); resubscribes by itself after a reconnect. */
  subscriber(): Redis {
    const sub = new Redis({ ...redisOptions(this.settings, 'sluice-sub'), enableOfflineQueue: true, autoResubscribe: true })
    sub.on('error', () => {})
    return sub
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.redis.disconnect(false)
    this.health.close()
  }

  #script(target: Redis | ChainableCommander, script: string, keys: readonly string[]): ScriptFn {
    const spec = this.#scripts.get(script)
    if (spec === undefined) throw new StateScriptError(script, 'no such script in src/state/redis/lua')
    if (spec.nkeys !== keys.length) throw new StateScriptError(script, `takes ${spec.nkeys} keys, got ${keys.length}`)
    // defineCommand adds each script as a method at run time, so ioredis's types cannot name it.
    return ((target as unknown as Record<string, ScriptFn>)[script] as ScriptFn).bind(target)
  }

  #mapError(what: string, err: unknown): Error {
    if (err instanceof ReplyError) {
      const reply = err as Error
      // NOSCRIPT is handled by ioredis; a LOADING Redis (just restarted) is not ready yet.
      if (/^LOADING|^BUSY|^MASTERDOWN|^READONLY/.test(reply.message)) {
        this.health.failed(reply)
        return this.#unavailable('disconnected', reply)
      }
      return new StateScriptError(what, reply.message, { cause: reply })
    }
    const e = err instanceof Error ? err : new Error(String(err))
    if (this.#closed) return this.#unavailable('closed', e)
    if (/timed out/i.test(e.message)) {
      this.timeouts++
      this.health.failed(e)
      return this.#unavailable('timeout', e)
    }
    // Not sent, or cut off: no connection to ask on (its 'close' may not have been heard yet).
    if (this.redis.status !== 'ready') this.health.lost(e)
    else this.health.failed(e)
    return this.#unavailable('disconnected', e)
  }

  #unavailable(reason: 'disconnected' | 'timeout' | 'closed', err: Error): StateUnavailableError {
    this.#lastError = err
    return new StateUnavailableError(reason, `Redis at ${this.settings.where}: ${err.message}`, { cause: err })
  }
}

function redisOptions(s: RedisStateSettings, name: string): RedisOptions {
  return {
    host: s.host,
    port: s.port,
    db: s.db,
    ...(s.username === null ? {} : { username: s.username }),
    ...(s.password === null ? {} : { password: s.password }),
    ...(s.tls ? { tls: { servername: s.host } } : {}),
    connectionName: name,
    lazyConnect: true,
    // Fail fast: nothing waits for a connection that is not there, nothing is resent after a
    // reconnect (the caller already fell back), and no call waits longer than the state timeout.
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: s.commandTimeoutMs,
    connectTimeout: Math.max(1000, s.commandTimeoutMs),
    // Reconnect for ever, at most a second apart, so an instance is back within seconds of Redis.
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
    enableReadyCheck: true,
  }
}
