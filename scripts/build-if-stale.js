// `npm start`'s first step: run `npm run build` only when an input changed since the last build.
//
// Inputs are every file and directory under src/ and scripts/ (the build's own steps), plus
// package.json and the tsconfig files.
// Editing, adding or deleting a file (a directory's mtime changes when an entry is added or
// removed), a `git pull` and a checkout (git writes each file it changes with the current time)
// all leave some input newer than the last build. An input whose old mtime was restored on
// purpose (cp -p, tar -x) is not seen: run `npm run build` after that.
//
// When was the last build? A build run from here records the time it started, so that a file
// saved while it ran still counts as changed; it also records the mtime dist/cli.js had after it.
// If dist/cli.js has changed since, something else built (`npm run build`, `npm install`'s
// prepare), and the time dist/cli.js was written counts instead.
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const output = join(root, 'dist', 'cli.js')
const stamp = join(root, 'dist', '.build-stamp.json')
const inputs = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.ui.json']
const inputDirs = ['src', 'scripts']

if (process.argv.length > 2) {
  process.stderr.write('usage: node scripts/build-if-stale.js (runs npm run build when src/ changed since the last build)\n')
  process.exit(2)
}

const builtAt = lastBuild()
const changed = builtAt === null ? 'dist/ has not been built' : newerInput(builtAt)
if (changed !== null) {
  process.stderr.write(`sluice: building dist/ (${changed})\n`)
  const startedAt = Date.now()
  // Under npm, npm_execpath is npm's own script: no dependence on what `npm` is on the PATH.
  const npm = process.env.npm_execpath
  const result = npm
    ? spawnSync(process.execPath, [npm, 'run', 'build', '--silent'], { cwd: root, stdio: 'inherit' })
    : spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' })
  if (result.status !== 0) process.exit(result.status ?? 1)
  writeFileSync(stamp, JSON.stringify({ startedAt, output: mtimeOf(output) }) + '\n')
}

/** Milliseconds since the epoch at which the current dist/ was built, or null when it was not. */
function lastBuild() {
  const written = mtimeOf(output)
  if (written === null) return null
  try {
    const recorded = JSON.parse(readFileSync(stamp, 'utf8'))
    if (recorded.output === written && typeof recorded.startedAt === 'number') return recorded.startedAt
  } catch {
    // No stamp, or not ours: dist/ was built some other way.
  }
  return written
}

/** The first input modified after `builtAt` (ms), described for the user; null when there is none. */
function newerInput(builtAt) {
  for (const name of inputs) {
    const mtime = mtimeOf(join(root, name))
    if (mtime !== null && mtime > builtAt) return `${name} changed`
  }
  const stack = inputDirs.map((dir) => join(root, dir))
  while (stack.length > 0) {
    const dir = stack.pop()
    const mtime = mtimeOf(dir)
    if (mtime === null) continue
    if (mtime > builtAt) return `${dir.slice(root.length + 1)}/ changed`
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) stack.push(path)
      else if ((mtimeOf(path) ?? Infinity) > builtAt) return `${path.slice(root.length + 1)} changed`
    }
  }
  return null
}

function mtimeOf(path) {
  try {
    return statSync(path).mtimeMs
  } catch {
    return null
  }
}
