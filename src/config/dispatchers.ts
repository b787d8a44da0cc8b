import { createRequire } from 'node:module'
import type { Agent as UndiciAgent, Pool as UndiciPool } from 'undici'

// Only undici's dispatchers, from their own modules: its index also loads fetch, WebSocket,
// the caches and their WebAssembly, which sluice never uses on its request path, at ~9 MB of
// resident memory in every process. undici 7 publishes no `exports` map, so these paths are
// part of what it ships; should a later release close them, the index is loaded instead.
// test/unit/config/dispatchers.test.ts checks they are the same classes as the index's.
const require = createRequire(import.meta.url)

function dispatcher<T>(path: string, name: 'Pool' | 'Agent'): T {
  try {
    return require(path) as T
  } catch {
    return (require('undici') as Record<string, T>)[name] as T
  }
}

// The index also gives every dispatcher its request/stream/pipeline methods; the probes and the
// vLLM scraper call dispatcher.request(), which without this is undefined in a process that
// never loads the index (every probe then failed as a reset).
try {
  const base = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object }
  Object.assign(base.prototype, require('undici/lib/api/index.js') as object)
} catch {
  require('undici')
}

export const Pool = dispatcher<typeof UndiciPool>('undici/lib/dispatcher/pool.js', 'Pool')
export type Pool = UndiciPool
export const Agent = dispatcher<typeof UndiciAgent>('undici/lib/dispatcher/agent.js', 'Agent')
export type Agent = UndiciAgent
