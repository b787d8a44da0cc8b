import { createRequire } from 'node:module'
import type { Agent as UndiciAgent, Pool as UndiciPool } from 'undici'

// Only undici's dispatchers, from their own modules: its index also loads fetch, WebSocket,
// the caches and their WebAssembly, which sluice never uses on its request path, at ~9 MB of
// resident memory in every process. undici 7 publishes no `exports` map, so these paths are
// part of what it ships; test/unit/config/dispatchers.test.ts checks they are the same classes
// as the index's.
const require = createRequire(import.meta.url)

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool
export type Pool = UndiciPool
export const Agent = require('undici/lib/dispatcher/agent.js') as typeof UndiciAgent
export type Agent = UndiciAgent
