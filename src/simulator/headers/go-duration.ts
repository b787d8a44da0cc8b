/**
 * Formats milliseconds as Go's time.Duration.String() does, which is what OpenAI's
 * x-ratelimit-reset-* headers carry: "0s", "12ms", "1.5s", "6m0s", "1h0m0s".
 * Sub-millisecond precision is dropped (rounded up), so "500µs" never appears.
 */
export function goDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms))
  if (total === 0) return '0s'
  if (total < 1000) return `${total}ms`
  const hours = Math.floor(total / 3_600_000)
  const minutes = Math.floor((total % 3_600_000) / 60_000)
  const seconds = formatSeconds(total % 60_000)
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`
  if (minutes > 0) return `${minutes}m${seconds}s`
  return `${seconds}s`
}

function formatSeconds(ms: number): string {
  const whole = Math.floor(ms / 1000)
  const fraction = ms % 1000
  if (fraction === 0) return String(whole)
  return `${whole}.${String(fraction).padStart(3, '0').replace(/0+$/, '')}`
}
