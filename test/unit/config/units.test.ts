import { describe, expect, it } from 'vitest'
import { durationPattern, parseDuration, parseSize, sizePattern } from '../../../src/config/units.js'

describe('parseDuration', () => {
  const cases: { value: number | string; ms: number }[] = [
    { value: 0, ms: 0 },
    { value: 1500, ms: 1500 }, // a number is already milliseconds
    { value: '500ms', ms: 500 },
    { value: '30s', ms: 30_000 },
    { value: '2m', ms: 120_000 },
    { value: '1h', ms: 3_600_000 },
    { value: '1.5s', ms: 1500 },
    { value: '0.25m', ms: 15_000 },
    { value: ' 10 S ', ms: 10_000 }, // whitespace and unit case are tolerated
    { value: '2MS', ms: 2 },
    { value: '30', ms: 30 }, // a bare number string is milliseconds, like a YAML number (so ${VAR} values agree)
    { value: '0.0004s', ms: 0 }, // rounded to whole milliseconds
  ]
  for (const c of cases) {
    it(`${JSON.stringify(c.value)} → ${c.ms} ms`, () => {
      expect(parseDuration(c.value)).toBe(c.ms)
    })
  }

  for (const bad of ['', 'soon', '-5s', '5 w', '1e3ms', '5sec', 's', '1..2s']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      expect(durationPattern.test(bad)).toBe(false)
      expect(() => parseDuration(bad)).toThrow(/not a duration/)
    })
  }
})

describe('parseSize', () => {
  const cases: { value: number | string; bytes: number }[] = [
    { value: 1000, bytes: 1000 },
    { value: '100', bytes: 100 }, // a bare number string is bytes
    { value: '100b', bytes: 100 },
    { value: '512kb', bytes: 512 * 1024 },
    { value: '10mb', bytes: 10 * 1024 * 1024 },
    { value: '10MB', bytes: 10 * 1024 * 1024 },
    { value: '1gb', bytes: 1024 ** 3 },
    { value: '1.5kb', bytes: 1536 },
    { value: ' 2 kb ', bytes: 2048 },
  ]
  for (const c of cases) {
    it(`${JSON.stringify(c.value)} → ${c.bytes} bytes`, () => {
      expect(parseSize(c.value)).toBe(c.bytes)
    })
  }

  for (const bad of ['', 'big', '-1kb', '10k', '10mib', '1tb', 'kb']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      expect(sizePattern.test(bad)).toBe(false)
      expect(() => parseSize(bad)).toThrow(/not a size/)
    })
  }
})
