import { Writable } from 'node:stream'
import type { SluiceConfigInput } from '../../src/config/schema.js'
import { startGateway, type Gateway } from '../../src/main.js'
import { startSimulator, type Simulator, type SimulatorConfigInput } from '../../src/simulator/index.js'
import { createLogger } from '../../src/telemetry/logger.js'
import type { FakeTime } from './fake-time.js'

/**
 * Every log line the gateway wrote, as text, for assertions (e.g. that no secret leaked). It
 * says when lines arrive, so a test waits for an access-log line instead of sleeping.
 */
export class LogCapture extends Writable {
  readonly lines: string[] = []
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line) this.lines.push(line)
    done()
    this.emit('lines')
  }

  /** Resolves once `accept` holds for the access log (checked at once and after every write). */
  waitForAccessLog(accept: (records: Record<string, unknown>[]) => boolean): Promise<Record<string, unknown>[]> {
    return new Promise((resolve) => {
      const check = (): void => {
        const records = this.accessLog()
        if (!accept(records)) return
        this.off('lines', check)
        resolve(records)
      }
      this.on('lines', check)
      check()
    })
  }
  entries(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
  }
  /** Access-log records, one per finished request. */
  accessLog(): Record<string, unknown>[] {
    return this.entries().filter((e) => e.msg === 'request')
  }
}

export interface Stack {
  readonly sim: Simulator
  readonly gw: Gateway
  readonly logs: LogCapture
  /** http://127.0.0.1:PORT/v1, for the openai client's baseURL. */
  readonly baseURL: string
  close(): Promise<void>
}

export interface StackOptions {
  readonly sim?: SimulatorConfigInput
  /** The gateway config, given the simulator's URL. Default: one openai provider "sim" with key "sk-sim-test-1" and model "test-model" → "sim-model". */
  readonly gateway?: (simUrl: string) => SluiceConfigInput
  /** Drives the gateway's scheduler, pacers, breakers and probes by hand (the simulator keeps real time). */
  readonly time?: FakeTime
}

export const defaultGatewayConfig = (simUrl: string): SluiceConfigInput => ({
  providers: {
    sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] },
  },
  models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
})

/** A simulator and a gateway in this process, both on free 127.0.0.1 ports, logs captured. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const sim = await startSimulator({ config: opts.sim ?? {} })
  const logs = new LogCapture()
  const logger = createLogger({ level: 'info', destination: logs })
  const config = (opts.gateway ?? defaultGatewayConfig)(sim.url)
  // An in-memory database unless the test names one: learned limits must not leak between tests.
  const database = config.database === undefined ? 'sqlite::memory:' : undefined
  const gw = await startGateway({ config: { value: config, label: 'test' }, logger, port: 0, processMetrics: false, database, clock: opts.time, timers: opts.time })
  return {
    sim,
    gw,
    logs,
    baseURL: `${gw.url}/v1`,
    async close() {
      await gw.shutdown()
      await sim.close()
    },
  }
}
