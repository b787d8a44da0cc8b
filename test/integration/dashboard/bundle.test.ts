import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { beforeAll, describe, expect, it } from 'vitest'

// The dashboard as `npm run build` makes it: within the budget of 150 KB of JavaScript
// gzipped, and whole: the page loads its two files from /dashboard/ and nothing from elsewhere.

const root = new URL('../../../', import.meta.url)
const built = new URL('dist/dashboard-ui/', root)
const jsBudgetBytes = 150 * 1024
/** XML namespace names in the bundled libraries (Preact's SVG and MathML): identifiers, never fetched. */
const namespaces = new Set(['http://www.w3.org/2000/svg', 'http://www.w3.org/1999/xhtml', 'http://www.w3.org/1998/Math/MathML', 'http://www.w3.org/1999/xlink', 'http://www.w3.org/XML/1998/namespace'])

describe('the dashboard build', () => {
  const file = (name: string): string => readFileSync(new URL(name, built), 'utf8')

  beforeAll(() => {
    execFileSync(process.execPath, ['scripts/build-dashboard.js'], { cwd: root, stdio: 'pipe' })
  }, 60_000)

  it(`ships at most ${jsBudgetBytes / 1024} KB of JavaScript, gzipped`, () => {
    const gzipped = gzipSync(readFileSync(new URL('app.js', built))).length
    expect(gzipped).toBeGreaterThan(1_000)
    expect(gzipped).toBeLessThanOrEqual(jsBudgetBytes)
  })

  it('names no other origin: no CDN, no font, no image from elsewhere', () => {
    for (const name of ['index.html', 'app.js', 'app.css']) {
      const urls = [...file(name).matchAll(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"'`)]*/gi)].map((m) => m[0]).filter((u) => !namespaces.has(u))
      expect(urls, name).toEqual([])
      expect(file(name), name).not.toMatch(/@import|@font-face/)
    }
  })

  it('the page loads its script and stylesheet from /dashboard/ and holds no inline script or style', () => {
    const html = file('index.html')
    expect([...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0])).toEqual(['<script type="module" src="/dashboard/app.js">'])
    expect([...html.matchAll(/<link\b[^>]*rel="stylesheet"[^>]*>/g)].map((m) => m[0])).toEqual(['<link rel="stylesheet" href="/dashboard/app.css">'])
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i)
  })
})
