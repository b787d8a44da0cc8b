import { describe, expect, test } from 'vitest'
import { formatResetDuration } from '../../../../src/core/admit/reset-duration.js'
import { parseGoDuration } from '../../../../src/core/headers/rate-limits.js'

describe('formatResetDuration (Go time.Duration, as OpenAI writes x-ratelimit-reset-*)', () => {
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [-5, '0s'],
    [0.2, '1ms'],
    [1, '1ms'],
    [12, '12ms'],
    [999, '999ms'],
    [999.5, '1s'],
    [1000, '1s'],
    [1050, '1.05s'],
    [1500, '1.5s'],
    [12_000, '12s'],
    [59_400, '59.4s'],
    [59_999, '59.999s'],
    [60_000, '1m0s'],
    [61_500, '1m1.5s'],
    [179_560, '2m59.56s'],
    [360_000, '6m0s'],
    [3_599_999, '59m59.999s'],
    [3_600_000, '1h0m0s'],
    [3_723_004, '1h2m3.004s'],
    [86_400_000, '24h0m0s'],
  ]
  for (const [ms, text] of cases) test(`${ms} ms → ${text}`, () => expect(formatResetDuration(ms)).toBe(text))

  test('what it writes, the header parser reads back to the same whole ms', () => {
    for (const [ms] of cases) {
      if (ms >= 0 && Number.isInteger(ms)) expect(parseGoDuration(formatResetDuration(ms))).toBe(ms)
    }
  })
})
