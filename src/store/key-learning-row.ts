import type { KeyLearning, LimitAdjustment, ModeOverride } from './types.js'

// KeyLearning ⇄ an `upstream_keys` row, shared by both adapters so they cannot drift apart.

export type OverrideMode = 'none' | 'adaptive' | 'fixed'

export interface KeyLearningRow {
  readonly id: string
  readonly provider: string
  readonly key_id: string
  readonly override_mode: OverrideMode
  readonly override_max_concurrent: number | null
  readonly override_config_value: number | null
  readonly override_set_at: number | null
  readonly learned_limit: number | null
  readonly accepted_level: number | null
  readonly concurrent_429_count: number
  readonly rpm_429_count: number
  readonly tpm_429_count: number
  readonly last_429_at: number | null
  readonly last_429_type: string | null
  readonly last_probe_at: number | null
  readonly history_json: string
  readonly updated_at: number
}

/** In the order the adapters bind them. */
export const keyLearningColumns = [
  'id',
  'provider',
  'key_id',
  'override_mode',
  'override_max_concurrent',
  'override_config_value',
  'override_set_at',
  'learned_limit',
  'accepted_level',
  'concurrent_429_count',
  'rpm_429_count',
  'tpm_429_count',
  'last_429_at',
  'last_429_type',
  'last_probe_at',
  'history_json',
  'updated_at',
] as const satisfies readonly (keyof KeyLearningRow)[]

export function toRow(r: KeyLearning, updatedAt: number): KeyLearningRow {
  const o = r.override
  return {
    id: r.id,
    provider: r.provider,
    key_id: r.key,
    override_mode: o === null ? 'none' : o.maxConcurrent === null ? 'adaptive' : 'fixed',
    override_max_concurrent: o?.maxConcurrent ?? null,
    override_config_value: o?.configValue ?? null,
    override_set_at: epochMs(o?.setAt ?? null),
    learned_limit: r.learnedLimit,
    accepted_level: r.acceptedLevel,
    concurrent_429_count: r.concurrent429Count,
    rpm_429_count: r.rpm429Count,
    tpm_429_count: r.tpm429Count,
    last_429_at: epochMs(r.last429At),
    last_429_type: r.last429Type,
    last_probe_at: epochMs(r.lastProbeAt),
    history_json: JSON.stringify(r.history),
    updated_at: Math.floor(updatedAt),
  }
}

export function fromRow(row: KeyLearningRow): KeyLearning {
  return {
    id: row.id,
    provider: row.provider,
    key: row.key_id,
    override: override(row),
    learnedLimit: row.learned_limit,
    acceptedLevel: row.accepted_level,
    concurrent429Count: row.concurrent_429_count,
    rpm429Count: row.rpm_429_count,
    tpm429Count: row.tpm_429_count,
    last429At: row.last_429_at,
    last429Type: row.last_429_type,
    lastProbeAt: row.last_probe_at,
    history: history(row),
  }
}

// The columns are whole milliseconds (BIGINT refuses fractions, STRICT INTEGER too); an injected
// clock may hand out fractions, which mean nothing for a wall-clock instant.
function epochMs(value: number | null): number | null {
  return value === null ? null : Math.floor(value)
}

function override(row: KeyLearningRow): ModeOverride | null {
  if (row.override_mode === 'none' || row.override_set_at === null) return null
  return {
    maxConcurrent: row.override_mode === 'fixed' ? row.override_max_concurrent : null,
    configValue: row.override_config_value,
    setAt: row.override_set_at,
  }
}

function history(row: KeyLearningRow): LimitAdjustment[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(row.history_json)
  } catch {
    throw new Error(`upstream_keys row "${row.id}": history_json is not valid JSON`)
  }
  if (!Array.isArray(parsed)) throw new Error(`upstream_keys row "${row.id}": history_json is not a JSON array`)
  return parsed as LimitAdjustment[]
}
