import { execFileSync } from 'node:child_process'
import * as undici from 'undici'
import { describe, expect, it } from 'vitest'
import { Agent, Pool } from '../../../src/config/dispatchers.js'

describe('the dispatchers sluice loads without undici\'s index', () => {
  it('are the very classes undici exports, so an upgrade that moves them fails here, not in production', () => {
    expect(Pool).toBe(undici.Pool)
    expect(Agent).toBe(undici.Agent)
  })

  it('have the request API without the index loaded (probes call dispatcher.request)', () => {
    // A fresh process: in this one the import above has loaded the index already.
    // The built module (npm run build), as `sluice start` runs it.
    const built = new URL('../../../dist/config/dispatchers.js', import.meta.url).pathname
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `import { Pool, Agent } from '${built}'; console.log(typeof Pool.prototype.request, typeof Agent.prototype.request)`], { encoding: 'utf8', timeout: 10_000 })
    expect(out.trim()).toBe('function function')
  })
})
