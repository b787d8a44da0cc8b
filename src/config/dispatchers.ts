import { createRequire } from 'node:module'
import type { Agent as UndiciAgent, Pool as UndiciPool } from 'undici'

// Only undici's dispatchers, from their own modules: its index also loads fetch, WebSocket,
// the caches and their WebAssembly, which sluice never uses on its request path, at ~9 MB of
// resident memory in every process. undici 7 publishes no `exports` map, so these paths are
// part of what it ships; test/unit/config/dispatchers.test.ts checks they are the same classes
// as the index's.
const require = createRequire(import.meta.url)

// The index also gives every dispatcher its request/stream/pipeline methods; the probes and the
// vLLM scraper call dispatcher.request(), which without this is undefined in a process that
// never loads the index (every probe then failed as a reset).
const dispatcherBase = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object }
Object.assign(dispatcherBase.prototype, require('undici/lib/api/index.js') as object)

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool
export type Pool = UndiciPool
export const Agent = require('undici/lib/dispatcher/agent.js') as typeof UndiciAgent
export type Agent = UndiciAgent
