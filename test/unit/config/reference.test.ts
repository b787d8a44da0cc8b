import { describe, expect, it } from 'vitest'
import { configReference } from '../../../src/config/reference.js'
import { configJsonSchema } from '../../../src/config/schema.js'

// docs/config.md is generated from these descriptions (test/integration/lifecycle/cli.test.ts
// checks the file is current); here, that what they say is what the code does.

function rows(): Map<string, string> {
  const table = new Map<string, string>()
  for (const line of configReference(configJsonSchema()).split('\n')) {
    const m = /^\| `([^`]+)` \| .*? \| (?:yes|no) \| (.*) \|$/.exec(line)
    if (m) table.set(m[1]!, m[2]!)
  }
  return table
}

describe('docs/config.md says what the code does', () => {
  const table = rows()

  it('providers.<name>.keys: the model strategy (p2c by default) picks the key; round-robin is for passthrough only', () => {
    const keys = table.get('providers.<name>.keys') ?? ''
    expect(keys).toContain('`strategy` picks (p2c by default)')
    expect(keys).toContain('passthrough requests rotate round-robin')
    expect(keys).not.toMatch(/requests rotate round-robin among them/)
  })

  it('database: lists everything sluice keeps there', () => {
    const database = table.get('database') ?? ''
    for (const kept of ['consumers', 'virtual keys', 'usage ledger', 'learned concurrency limits']) expect(database).toContain(kept)
  })

  it('usage.retention: 0 keeps the records for ever (UsageWriter.prune(0) deletes nothing: usage-writer.test.ts), and says nothing else about 0', () => {
    const retention = table.get('usage.retention') ?? ''
    expect(retention).toContain('0 keeps them for ever')
    expect(retention).not.toContain('0 disables')
  })

  it('no field says two different things about 0', () => {
    const contradictions = [...table].filter(([, text]) => (text.match(/\b0 (disables|keeps|sends|never)\b/g) ?? []).length > 1)
    expect(contradictions).toEqual([])
  })

  it('a duration claims "0 disables" only where the code treats 0 as off', () => {
    // timeouts: relay.ts checks `> 0`; request_timeout 0 still leaves headers a 60 s bound (server/listen.ts)
    // and undici's connect timeout is off at 0. A max_wait or a probe interval of 0 is not "off".
    const off = [...table].filter(([, text]) => text.includes('0 disables')).map(([field]) => field)
    expect(off.sort()).toEqual(['providers.<name>.timeouts.connect', 'providers.<name>.timeouts.first_byte', 'providers.<name>.timeouts.idle', 'providers.<name>.timeouts.total'])
  })
})
