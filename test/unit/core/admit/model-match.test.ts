import { describe, expect, test } from 'vitest'
import { compileModelPatterns, modelAllowed } from '../../../../src/core/admit/model-match.js'

describe('modelAllowed: * is any run of characters, the rest literal', () => {
  const cases: Array<[readonly string[], string, boolean]> = [
    [['*'], 'gpt-4o', true],
    [['*'], '', true],
    [['gpt-4o', '*'], 'anything/else', true],
    [[], 'gpt-4o', false],
    [['gpt-4o-mini'], 'gpt-4o-mini', true],
    [['gpt-4o-mini'], 'gpt-4o', false],
    [['gpt-4o-mini'], 'GPT-4o-mini', false],
    [['gpt-4o-mini'], 'gpt-4o-mini-2024', false],
    [['gpt-4o*'], 'gpt-4o', true],
    [['gpt-4o*'], 'gpt-4o-mini', true],
    [['gpt-4o*'], 'gpt-4', false],
    [['*-mini'], 'gpt-4o-mini', true],
    [['*-mini'], '-mini', true],
    [['*-mini'], 'mini', false],
    [['*-mini'], 'gpt-4o-mini-x', false],
    [['meta/*'], 'meta/llama-3.1-70b-instruct', true],
    [['meta/*'], 'nvidia/meta/llama', false],
    [['llama-*-instruct'], 'llama-3.1-70b-instruct', true],
    [['llama-*-instruct'], 'llama--instruct', true],
    [['llama-*-instruct'], 'llama-instruct', false],
    [['llama-*-instruct'], 'llama-3.1-70b', false],
    [['a*b*c'], 'abc', true],
    [['a*b*c'], 'aXbYc', true],
    [['a*b*c'], 'acbc', true],
    [['a*b*c'], 'acb', false],
    [['a*b*c'], 'ac', false],
    [['a*a'], 'a', false],
    [['a*a'], 'aa', true],
    [['a*a'], 'aba', true],
    [['**'], '', true],
    [['*x*'], 'abc', false],
    [['*x*'], 'x', true],
    [['x.y'], 'xzy', false],
    [['gpt-?'], 'gpt-4', false],
    [['gpt-?'], 'gpt-?', true],
    [['gpt-4o', 'claude-*'], 'claude-3-5-sonnet', true],
    [['gpt-4o', 'claude-*'], 'gemini', false],
  ]
  for (const [patterns, model, allowed] of cases) {
    test(`${JSON.stringify(patterns)} ${allowed ? 'allows' : 'refuses'} ${JSON.stringify(model)}`, () => {
      expect(modelAllowed(patterns, model)).toBe(allowed)
      expect(compileModelPatterns(patterns).allows(model)).toBe(allowed)
    })
  }

  test('a compiled matcher is accepted as is, and keeps a frozen copy of its patterns', () => {
    const source = ['gpt-*']
    const m = compileModelPatterns(source)
    source[0] = 'claude-*'
    expect(modelAllowed(m, 'gpt-4o')).toBe(true)
    expect(m.patterns).toEqual(['gpt-*'])
    expect(Object.isFrozen(m.patterns)).toBe(true)
  })

  // A backtracking matcher (a regular expression of 20 `.*a`) would not finish before the test timeout.
  test('a hostile name against many stars is answered at once', () => {
    expect(modelAllowed([`${'*a'.repeat(20)}*b`], 'a'.repeat(100_000))).toBe(false)
  })
})
