// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function, inclusive time of
// sluice's own functions, and self time by category (sluice, undici, pino, node internals, GC).
// dist/ locations are mapped back to src/*.ts through the emitted source maps.
//
//   node bench/profile-summary.js FILE.cpuprofile [--top 25]
import { existsSync, readFileSync } from 'node:fs'
import { SourceMap } from 'node:module'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

const here = dirname(fileURLToPath(import.meta.url))

function category(url, name) {
  if (url === '') return name === '(garbage collector)' ? 'gc' : name === '(idle)' ? 'idle' : name === '(program)' ? 'program (native, unattributed)' : 'other native'
  if (url.startsWith('node:')) return 'node internals'
  if (url.includes('/node_modules/undici/')) return 'undici'
  if (url.includes('/node_modules/pino') || url.includes('/node_modules/sonic-boom/') || url.includes('/node_modules/fast-redact/')) return 'pino'
  if (url.includes('/node_modules/prom-client/')) return 'prom-client'
  if (url.includes('/node_modules/')) return 'other dependencies'
  if (url.includes('/dist/')) return 'sluice'
  return 'other'
}

/** @returns {(url: string, line: number, col: number) => string} a "path:line" for a call frame (lines 1-based). */
function locator(root) {
  const maps = new Map()
  const mapFor = (file) => {
    if (!maps.has(file)) {
      const mapFile = file + '.map'
      let map = null
      if (existsSync(mapFile)) {
        try {
          map = { map: new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8'))), dir: dirname(mapFile) }
        } catch { map = null }
      }
      maps.set(file, map)
    }
    return maps.get(file)
  }
  return (url, line, col) => {
    if (!url.startsWith('file://')) return url === '' ? '' : `${url}:${line + 1}`
    const file = fileURLToPath(url)
    const m = mapFor(file)
    if (m) {
      const e = m.map.findEntry(line, col)
      if (e && e.originalSource) {
        const src = e.originalSource.startsWith('file://') ? fileURLToPath(e.originalSource) : resolve(m.dir, e.originalSource)
        return `${relative(root, src)}:${e.originalLine + 1}`
      }
    }
    return `${relative(root, file)}:${line + 1}`
  }
}

export function summariseProfile(file, { root = join(here, '..'), top = 25 } = {}) {
  const prof = JSON.parse(readFileSync(file, 'utf8'))
  const locate = locator(root)
  const byId = new Map()
  const parent = new Map()
  for (const n of prof.nodes) {
    byId.set(n.id, n)
    for (const c of n.children ?? []) parent.set(c, n.id)
  }
  const keyOf = new Map()
  const fns = new Map()
  for (const n of prof.nodes) {
    const cf = n.callFrame
    const key = `${cf.functionName}|${cf.url}|${cf.lineNumber}|${cf.columnNumber}`
    keyOf.set(n.id, key)
    if (!fns.has(key)) {
      fns.set(key, {
        name: cf.functionName || '(anonymous)',
        where: locate(cf.url, cf.lineNumber, cf.columnNumber),
        category: category(cf.url, cf.functionName),
        selfMs: 0,
        totalMs: 0,
        callers: new Map(),
      })
    }
  }
  // Sample i lasts until sample i+1 (how DevTools attributes time).
  const { samples, timeDeltas } = prof
  let totalMs = 0
  let idleMs = 0
  for (let i = 0; i < samples.length; i++) {
    const ms = (timeDeltas[i + 1] ?? 0) / 1000
    const id = samples[i]
    const fn = fns.get(keyOf.get(id))
    fn.selfMs += ms
    // The nearest caller outside native code and node internals says who is behind a frame
    // such as writev: sluice, undici or pino.
    const internal = (nodeId) => {
      const url = byId.get(nodeId).callFrame.url
      return url === '' || url.startsWith('node:')
    }
    let up = parent.get(id)
    while (up !== undefined && internal(up) && parent.get(up) !== undefined) up = parent.get(up)
    if (up !== undefined) {
      const callerKey = keyOf.get(up)
      fn.callers.set(callerKey, (fn.callers.get(callerKey) ?? 0) + ms)
    }
    totalMs += ms
    if (fn.category === 'idle') idleMs += ms
    const seen = new Set()
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const key = keyOf.get(at)
      if (seen.has(key)) continue
      seen.add(key)
      fns.get(key).totalMs += ms
    }
  }
  const busyMs = totalMs - idleMs
  const pct = (ms) => Math.round((ms / busyMs) * 1000) / 10
  const round = (ms) => Math.round(ms * 10) / 10
  const all = [...fns.values()].filter((f) => f.category !== 'idle' && f.name !== '(root)')
  const categories = {}
  for (const f of all) categories[f.category] = (categories[f.category] ?? 0) + f.selfMs
  return {
    file,
    wallMs: round(totalMs),
    busyMs: round(busyMs),
    note: 'percentages are of busy (non-idle) time',
    categories: Object.entries(categories).sort((a, b) => b[1] - a[1]).map(([name, ms]) => ({ name, selfMs: round(ms), pct: pct(ms) })),
    selfTop: all.sort((a, b) => b.selfMs - a.selfMs).slice(0, top).map((f) => ({
      ...f,
      selfMs: round(f.selfMs),
      selfPct: pct(f.selfMs),
      totalMs: round(f.totalMs),
      totalPct: pct(f.totalMs),
      callers: [...f.callers].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([key, ms]) => {
        const c = fns.get(key)
        return { name: c.name, where: c.where, pctOfSelf: Math.round((ms / f.selfMs) * 100) }
      }),
    })),
    sluiceInclusiveTop: all.filter((f) => f.category === 'sluice').sort((a, b) => b.totalMs - a.totalMs).slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, totalMs: round(f.totalMs), totalPct: pct(f.totalMs), selfPct: pct(f.selfMs) })),
  }
}

export function formatProfile(s) {
  const lines = [`busy ${s.busyMs} ms of ${s.wallMs} ms sampled (${s.note})`, '', 'self time by category:']
  for (const c of s.categories) lines.push(`  ${String(c.pct).padStart(5)}%  ${c.name}`)
  lines.push('', 'top functions by self time:')
  s.selfTop.forEach((f, i) => {
    lines.push(`  ${String(i + 1).padStart(2)}. ${String(f.selfPct).padStart(5)}%  ${f.name}  ${f.where}  [${f.category}]`)
    const callers = f.callers.filter((c) => c.pctOfSelf >= 10).map((c) => `${c.name} ${c.where} (${c.pctOfSelf}%)`)
    if (callers.length > 0) lines.push(`             ← ${callers.join(', ')}`)
  })
  lines.push('', 'sluice functions by inclusive time:')
  s.sluiceInclusiveTop.forEach((f, i) => lines.push(`  ${String(i + 1).padStart(2)}. ${String(f.totalPct).padStart(5)}%  ${f.name}  ${f.where}`))
  return lines.join('\n')
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } })
  if (positionals.length !== 1) throw new Error('usage: node bench/profile-summary.js FILE.cpuprofile [--top N]')
  process.stdout.write(formatProfile(summariseProfile(resolve(positionals[0]), { top: Number(values.top) })) + '\n')
}
