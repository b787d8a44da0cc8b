// Durations and sizes are written the way operators write them ("30s", "10mb") and
// compiled once to milliseconds and bytes, so the request path never parses units.

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const sizeUnits: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }

export const durationPattern = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i
export const sizePattern = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i

/** Milliseconds from a number or a string such as "500ms", "30s", "2m"; a bare number (or number string, as ${VAR} gives) is milliseconds. */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') return value
  const m = durationPattern.exec(value)
  if (!m) throw new Error(`not a duration: "${value}" (use e.g. 500ms, 30s, 2m, 7d)`)
  return Math.round(Number(m[1]) * (durationUnits[(m[2] ?? 'ms').toLowerCase()] ?? 1))
}

/** Bytes from a number or a string such as "10mb", "512kb". */
export function parseSize(value: number | string): number {
  if (typeof value === 'number') return value
  const m = sizePattern.exec(value)
  if (!m) throw new Error(`not a size: "${value}" (use e.g. 512kb, 10mb)`)
  return Math.round(Number(m[1]) * (sizeUnits[(m[2] ?? 'b').toLowerCase()] ?? 1))
}
