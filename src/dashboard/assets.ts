import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

// The dashboard's files, built by `npm run build` (scripts/build-dashboard.js) into
// dist/dashboard-ui and read once at start: nothing is fetched from anywhere else.

export interface Asset {
  readonly body: Buffer
  readonly gzipped: Buffer
  readonly type: string
  readonly etag: string
}

/** Where the build puts the files: the same folder whether this module runs from src/ or dist/. */
export const assetDir = new URL('../../dist/dashboard-ui/', import.meta.url)

const files = { '': ['index.html', 'text/html; charset=utf-8'], 'app.js': ['app.js', 'text/javascript; charset=utf-8'], 'app.css': ['app.css', 'text/css; charset=utf-8'] } as const

/**
 * No inline script or style, nothing from another origin; the page talks to this server only.
 * (Scripts may still set element.style through the CSSOM, which charts need.)
 */
export const contentSecurityPolicy =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'none'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/** The built files by path below /dashboard/ ('' is the page); null when the build has not run. */
export function loadAssets(dir: URL = assetDir): ReadonlyMap<string, Asset> | null {
  const out = new Map<string, Asset>()
  try {
    for (const [path, [file, type]] of Object.entries(files)) {
      const body = readFileSync(new URL(file, dir))
      out.set(path, { body, gzipped: gzipSync(body), type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` })
    }
  } catch {
    return null
  }
  return out
}
