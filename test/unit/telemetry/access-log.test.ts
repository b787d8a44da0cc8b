import { describe, expect, it } from 'vitest'
import { formatAccessLine, type AccessRecord } from '../../../src/telemetry/access-log.js'

const record: AccessRecord = {
  requestId: 'req-1',
  method: 'POST',
  endpoint: 'chat',
  model: 'a "quoted"\nmodel\u2028name',
  route: 'route',
  provider: 'sim',
  key: 'k1',
  deployment: 'sim/k1/m',
  stream: true,
  status: 200,
  outcome: 'success',
  error: null,
  upstreamStatus: 200,
  totalMs: 1.25,
  upstreamMs: 0.5,
  ttftMs: null,
  promptTokens: 3,
  completionTokens: null,
  priority: 'high',
  queuedMs: 12.5,
  attempts: 2,
}

describe('formatAccessLine', () => {
  it('is one line of JSON with the logger base fields and every record field', () => {
    const line = formatAccessLine(record, 1700000000000)
    expect(line.endsWith('\n')).toBe(true)
    expect(line.indexOf('\n')).toBe(line.length - 1)
    expect(JSON.parse(line)).toEqual({ level: 'info', time: 1700000000000, service: 'sluice', msg: 'request', ...record })
  })

  it('writes absent values as null', () => {
    const parsed = JSON.parse(formatAccessLine({ ...record, method: undefined, model: null }, 1)) as Record<string, unknown>
    expect(parsed.method).toBeNull()
    expect(parsed.model).toBeNull()
  })
})

describe('formatAccessLine with numbers no JSON can hold', () => {
  it('writes null for a non-finite count', () => {
    const parsed = JSON.parse(formatAccessLine({ ...record, promptTokens: Infinity, completionTokens: Number.NaN }, 1)) as Record<string, unknown>
    expect(parsed.promptTokens).toBeNull()
    expect(parsed.completionTokens).toBeNull()
  })
})
