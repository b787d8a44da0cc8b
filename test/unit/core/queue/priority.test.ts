import { describe, expect, it } from 'vitest'
import { parsePriority, priorityNames } from '../../../../src/core/queue/index.js'

describe('parsePriority', () => {
  const cases: { raw: string | undefined, want: ReturnType<typeof parsePriority> }[] = [
    { raw: undefined, want: null },
    { raw: 'urgent', want: 0 },
    { raw: 'high', want: 1 },
    { raw: 'normal', want: 2 },
    { raw: 'low', want: 3 },
    { raw: 'URGENT', want: 0 },
    { raw: 'High', want: 1 },
    { raw: 'nOrMaL', want: 2 },
    { raw: '0', want: 0 },
    { raw: '1', want: 1 },
    { raw: '2', want: 2 },
    { raw: '3', want: 3 },
    { raw: '  low\t', want: 3 },
    { raw: ' 2 ', want: 2 },
    { raw: '4', want: 'invalid' },
    { raw: '-1', want: 'invalid' },
    { raw: '', want: 'invalid' },
    { raw: '   ', want: 'invalid' },
    { raw: 'urgent!', want: 'invalid' },
    { raw: '01', want: 'invalid' },
    { raw: '1.0', want: 'invalid' },
    { raw: 'critical', want: 'invalid' },
  ]
  for (const c of cases) {
    it(`${JSON.stringify(c.raw)} → ${String(c.want)}`, () => {
      expect(parsePriority(c.raw)).toBe(c.want)
    })
  }

  it('names the priorities in numeric order', () => {
    expect(priorityNames).toEqual(['urgent', 'high', 'normal', 'low'])
    priorityNames.forEach((name, p) => expect(parsePriority(name)).toBe(p))
  })
})
