/**
 * Milliseconds as Go's time.Duration.String() writes them, which is what OpenAI's
 * x-ratelimit-reset-* headers carry ("1s", "6m0s", "12ms", "59.4s", "2m59.56s") and what
 * `parseGoDuration` in core/headers reads back. Whole ms only, rounded up so a client that waits
 * this long is never early: Go would write "1.5ms" or "500µs", which no OpenAI limit needs.
 */
export function formatResetDuration(ms: number): string {
  const total = ms > 0 ? Math.ceil(ms) : 0
  if (total === 0) return '0s'
  if (total < 1000) return `${total}ms`
  const hours = Math.floor(total / 3_600_000)
  const minutes = Math.floor((total % 3_600_000) / 60_000)
  const seconds = secondsText(total % 60_000)
  // Go always writes the smaller units once a larger one appears: "1h0m0s", "6m0s".
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`
  if (minutes > 0) return `${minutes}m${seconds}s`
  return `${seconds}s`
}

/** 59400 → "59.4", 1050 → "1.05", 3000 → "3": Go trims trailing zeros of the fraction. */
function secondsText(ms: number): string {
  const whole = Math.floor(ms / 1000)
  const fraction = ms % 1000
  if (fraction === 0) return String(whole)
  let digits = String(fraction).padStart(3, '0')
  while (digits.endsWith('0')) digits = digits.slice(0, -1)
  return `${whole}.${digits}`
}
