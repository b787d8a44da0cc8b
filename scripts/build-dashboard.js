// Builds the dashboard's page into dist/dashboard-ui: one script, one stylesheet, the page.
// Everything it needs is bundled here, so the gateway serves it offline (no CDN, no fonts).
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

/** The budget from the issue: the page's JavaScript, gzipped. */
const jsBudgetBytes = 150 * 1024

export async function buildDashboard({ quiet = false } = {}) {
  const src = fileURLToPath(new URL('../src/dashboard/ui/', import.meta.url))
  const out = fileURLToPath(new URL('../dist/dashboard-ui/', import.meta.url))
  mkdirSync(out, { recursive: true })
  await build({
    entryPoints: { app: `${src}app.ts` },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome110', 'firefox115', 'safari16'],
    outdir: out,
    legalComments: 'none',
    logLevel: quiet ? 'error' : 'warning',
  })
  copyFileSync(`${src}index.html`, `${out}index.html`)
  const js = gzipSync(readFileSync(`${out}app.js`)).length
  const css = gzipSync(readFileSync(`${out}app.css`)).length
  if (js > jsBudgetBytes) throw new Error(`dashboard JavaScript is ${js} bytes gzipped, over the ${jsBudgetBytes} budget`)
  if (!quiet) console.log(`dashboard: app.js ${(js / 1024).toFixed(1)} KB gzipped, app.css ${(css / 1024).toFixed(1)} KB gzipped`)
  return { jsGzipped: js, cssGzipped: css }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildDashboard()
}
