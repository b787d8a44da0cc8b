import { describe, expect, it } from 'vitest'
import { fromRow, toRow } from '../../../src/store/key-learning-row.js'
import type { KeyLearning } from '../../../src/store/types.js'

const base: KeyLearning = {
  id: 'p~k',
  provider: 'p',
  key: 'k',
  override: null,
  learnedLimit: null,
  acceptedLevel: null,
  concurrent429Count: 0,
  rpm429Count: 0,
  tpm429Count: 0,
  last429At: null,
  last429Type: null,
  lastProbeAt: null,
  history: [],
}

describe('KeyLearning ⇄ upstream_keys row', () => {
  it.each([
    { override: null, mode: 'none', max: null, config: null, setAt: null },
    { override: { maxConcurrent: null, configValue: 4, setAt: 10 }, mode: 'adaptive', max: null, config: 4, setAt: 10 },
    { override: { maxConcurrent: 3, configValue: null, setAt: 20 }, mode: 'fixed', max: 3, config: null, setAt: 20 },
  ] as const)('override $mode', ({ override, mode, max, config, setAt }) => {
    const record = { ...base, override }
    const row = toRow(record, 1000)
    expect(row).toMatchObject({ override_mode: mode, override_max_concurrent: max, override_config_value: config, override_set_at: setAt })
    expect(fromRow(row)).toStrictEqual(record)
  })

  it('stores instants as whole milliseconds', () => {
    const row = toRow({ ...base, last429At: 1000.7, lastProbeAt: 5.2, override: { maxConcurrent: 1, configValue: null, setAt: 9.9 } }, 42.5)
    expect([row.last_429_at, row.last_probe_at, row.override_set_at, row.updated_at]).toEqual([1000, 5, 9, 42])
  })

  it('refuses a history that is not a JSON array', () => {
    expect(() => fromRow({ ...toRow(base, 0), history_json: '{' })).toThrow('upstream_keys row "p~k": history_json is not valid JSON')
    expect(() => fromRow({ ...toRow(base, 0), history_json: '{}' })).toThrow('history_json is not a JSON array')
  })
})
