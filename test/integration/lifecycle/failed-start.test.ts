import { createServer, type Server } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway } from '../../../src/main.js'
import { startSimulator, type Simulator } from '../../../src/simulator/index.js'
import { createLogger } from '../../../src/telemetry/logger.js'
import { FakeTime } from '../../support/fake-time.js'
import { LogCapture } from '../../support/harness.js'

// A start that fails closes what it opened: every timer armed through the gateway's Timers (the
// scheduler, prober, scraper, writers, pruning) is cleared, and the listener that did open is
// closed, whichever listen failed.

async function takePort(): Promise<{ port: number; server: Server }> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as { port: number }).port, server }
}

const close = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()))

async function isFree(port: number): Promise<boolean> {
  const probe = createServer()
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false))
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)))
  })
}

describe('a failed start closes everything it opened', () => {
  let sim: Simulator
  beforeAll(async () => {
    sim = await startSimulator()
  })
  afterAll(() => sim.close())

  const config = (metricsPort: number | null) => ({
    server: { host: '127.0.0.1', port: 0, metrics_port: metricsPort },
    providers: {
      sim: {
        type: 'openai' as const,
        base_url: `${sim.url}/v1`,
        keys: [{ id: 'k1', key: 'sk-sim-1' }],
        failover: { enabled: true },
        health_check: { model: 'sim-model', interval: '30s' },
      },
    },
    models: { m: { targets: [{ provider: 'sim', model: 'sim-model' }] } },
  })

  it('metrics port taken: rejects with EADDRINUSE, the main listener is closed, no timer is left', async () => {
    const taken = await takePort()
    const main = await takePort()
    await close(main.server) // a port known to be free, to check it is free again afterwards
    const time = new FakeTime()
    const logs = new LogCapture()
    try {
      const start = startGateway({
        config: { value: config(taken.port), label: 'test' },
        logger: createLogger({ level: 'info', destination: logs }),
        port: main.port,
        processMetrics: false,
        database: 'sqlite::memory:',
        clock: time,
        timers: time,
        watch: false,
      })
      await expect(start).rejects.toMatchObject({ code: 'EADDRINUSE' })
      expect(time.pending).toBe(0)
      expect(await isFree(main.port)).toBe(true)
    } finally {
      await close(taken.server)
    }
  })

  it('main port taken: rejects with EADDRINUSE and no timer is left', async () => {
    const taken = await takePort()
    const time = new FakeTime()
    try {
      const start = startGateway({
        config: { value: config(null), label: 'test' },
        logger: createLogger({ level: 'info', destination: new LogCapture() }),
        port: taken.port,
        processMetrics: false,
        database: 'sqlite::memory:',
        clock: time,
        timers: time,
        watch: false,
      })
      await expect(start).rejects.toMatchObject({ code: 'EADDRINUSE' })
      expect(time.pending).toBe(0)
    } finally {
      await close(taken.server)
    }
  })
})
