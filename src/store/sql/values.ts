// Reading and writing values the same way on both databases.

/** Postgres returns NUMERIC (what SUM of BIGINT is) as a string: every number read goes through here. */
export function num(v: unknown): number {
  return typeof v === 'number' ? v : v === null || v === undefined ? 0 : Number(v)
}

export function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v)
}

/** A whole number for an INTEGER/BIGINT column; a non-finite value becomes `fallback`. */
export function int<F extends number | null>(v: number | null | undefined, fallback: F): number | F {
  return typeof v === 'number' && Number.isFinite(v) ? Math.round(v) : fallback
}

/** A finite number for a REAL column, else 0. */
export function real(v: number | null | undefined): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0
}

export function flag(v: unknown): 0 | 1 {
  return v === true ? 1 : 0
}

export function isFlagSet(v: unknown): boolean {
  return num(v) === 1
}

/**
 * Text as both databases store it: Postgres refuses U+0000 in TEXT (and would fail the whole
 * usage batch over one client-sent model name), so it becomes U+FFFD on both.
 */
export function text(v: string): string {
  return v.includes('\u0000') ? v.replaceAll('\u0000', '\uFFFD') : v
}

export function textOrNull(v: string | null | undefined): string | null {
  return typeof v === 'string' ? text(v) : null
}
