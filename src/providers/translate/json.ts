// Narrowing helpers for bodies that arrived as JSON: the translators read untrusted input and
// must answer a wrong shape with a 400 naming the field, never with a TypeError.

export type JsonObject = Record<string, unknown>

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function parseObject(text: string): JsonObject | null {
  try {
    const value: unknown = JSON.parse(text)
    return isObject(value) ? value : null
  } catch {
    return null
  }
}

export function stringOr<T>(value: unknown, fallback: T): string | T {
  return typeof value === 'string' ? value : fallback
}

export function numberOr<T>(value: unknown, fallback: T): number | T {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback
}

/** Present and not null: OpenAI clients send explicit nulls for fields they leave unset. */
export function isSet(value: unknown): boolean {
  return value !== undefined && value !== null
}
