import { describe, expect, it } from 'vitest'
import { goDuration } from '../../../src/simulator/headers/go-duration.js'

describe('goDuration (OpenAI x-ratelimit-reset-* format)', () => {
  const cases: Array<[number, string]> = [
    [0, '0s'], [12, '12ms'], [999, '999ms'], [0.2, '1ms'], [1000, '1s'], [1500, '1.5s'], [1250, '1.25s'],
    [6_000, '6s'], [60_000, '1m0s'], [360_000, '6m0s'], [61_500, '1m1.5s'], [3_600_000, '1h0m0s'], [3_723_004, '1h2m3.004s'],
  ]
  for (const [ms, text] of cases) it(`${ms} ms → ${text}`, () => expect(goDuration(ms)).toBe(text))
})
