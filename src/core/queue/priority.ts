/** 0 is served first. Numeric so a priority can index the per-priority arrays directly. */
export type Priority = 0 | 1 | 2 | 3

export const priorityNames = ['urgent', 'high', 'normal', 'low'] as const satisfies readonly string[]

/** Every priority, most urgent first. */
export const priorities: readonly Priority[] = [0, 1, 2, 3]

const byName: ReadonlyMap<string, Priority> = new Map<string, Priority>([
  ['urgent', 0], ['high', 1], ['normal', 2], ['low', 3],
  ['0', 0], ['1', 1], ['2', 2], ['3', 3],
])

/**
 * X-Priority: urgent|high|normal|low in any case, or '0'..'3' (0 = urgent), surrounding
 * whitespace allowed. undefined → null (absent); anything else → 'invalid'.
 */
export function parsePriority(raw: string | undefined): Priority | null | 'invalid' {
  if (raw === undefined) return null
  // A value outside the table is a client mistake worth reporting, not a silent default:
  // '4' or 'critical' most likely means the client expected a scale we do not have.
  return byName.get(raw.trim().toLowerCase()) ?? 'invalid'
}
