import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { validateConfigPatch, validateScript } from './config/parse.js'
import { createRequestHandler } from './handler.js'
import { SimulatorState } from './state.js'
import type { Simulator, StartSimulatorOptions } from './types.js'

export const SIMULATOR_HOST = '127.0.0.1'
const systemClock = { now: () => Date.now() }

/** Starts the fake upstream on 127.0.0.1 (port 0 = a free port). */
export async function startSimulator(opts: StartSimulatorOptions = {}): Promise<Simulator> {
  // A fake upstream that accepts any key must never be reachable from another machine.
  if (opts.host !== undefined && opts.host !== SIMULATOR_HOST) {
    throw new Error(`the simulator listens on ${SIMULATOR_HOST} only, not ${opts.host}`)
  }
  const state = new SimulatorState(opts.clock ?? systemClock, validateConfigPatch(opts.config ?? {}))
  const server = createServer({ keepAliveTimeout: 30_000 }, createRequestHandler(state))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, SIMULATOR_HOST, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://${SIMULATOR_HOST}:${port}`,
    port,
    configure: (patch) => state.configure(validateConfigPatch(patch)),
    script: (steps) => state.script.push(validateScript(steps)),
    stats: () => state.stats.snapshot(),
    requests: () => state.log.list(),
    waitForRequests: (n) => state.log.waitFor(n),
    reset: () => state.reset(),
    close: () => new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()))
      // Open streams and idle keep-alive sockets would otherwise hold close() open; their
      // 'close' events clear every pending timer.
      server.closeAllConnections()
    }),
  }
}
