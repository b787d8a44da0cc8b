// Numbers with units, times relative with the absolute instant on hover.

export function num(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—'
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(digits)}M`
  if (Math.abs(v) >= 1e4) return `${(v / 1e3).toFixed(digits)}k`
  return Number.isInteger(v) ? String(v) : v.toFixed(digits)
}

export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—'
  if (v >= 60_000) return `${(v / 60_000).toFixed(1)} min`
  if (v >= 1_000) return `${(v / 1_000).toFixed(v >= 10_000 ? 0 : 1)} s`
  return `${Math.round(v)} ms`
}

export function usd(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—'
  return v < 0.01 && v > 0 ? `$${v.toFixed(4)}` : `$${v.toFixed(2)}`
}

export function relative(at: string | number | null | undefined, now = Date.now()): string {
  if (at === null || at === undefined) return '—'
  const t = typeof at === 'number' ? at : Date.parse(at)
  if (!Number.isFinite(t)) return '—'
  const d = Math.round((t - now) / 1000)
  const a = Math.abs(d)
  const text = a < 60 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min` : a < 86400 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} d`
  if (a < 2) return 'now'
  return d < 0 ? `${text} ago` : `in ${text}`
}

export function absolute(at: string | number | null | undefined): string {
  if (at === null || at === undefined) return ''
  const t = typeof at === 'number' ? at : Date.parse(at)
  return Number.isFinite(t) ? new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : ''
}
