// `npm run build` and `npm start`'s first step: compile src/ into dist/ with tsc.
//
//   node scripts/build.js             compile, then record when this build started
//   node scripts/build.js --if-stale  compile only when an input changed since the last build
//
// A build records its start time as the mtime of dist/.build-stamp. The inputs are every file
// and directory under src/ plus package.json and the tsconfig files. Editing, adding or
// deleting a file (a directory's mtime changes when an entry is added or removed), and a
// `git pull` or checkout (git writes each changed file with the current time) all leave some
// input newer than the stamp. An input whose old mtime was restored on purpose (cp -p, tar -x)
// is not seen: run `npm run build` after that.
import { spawnSync } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readdirSync, statSync, utimesSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const stamp = join(root, 'dist', '.build-stamp')
const inputs = ['package.json', 'tsconfig.json', 'tsconfig.build.json']

const args = process.argv.slice(2)
if (args.some((a) => a !== '--if-stale')) {
  process.stderr.write('usage: node scripts/build.js [--if-stale]\n')
  process.exit(2)
}

if (args.includes('--if-stale')) {
  const builtAt = mtimeOf(stamp)
  const changed = builtAt === null ? 'dist/ has not been built' : newerInput(builtAt)
  if (changed === null) process.exit(0)
  process.stderr.write(`sluice: building dist/ (${changed})\n`)
}
process.exit(build())

function build() {
  const startedAt = new Date()
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' })
  if (result.status !== 0) return result.status ?? 1
  mkdirSync(dirname(stamp), { recursive: true })
  closeSync(openSync(stamp, 'w'))
  // The start, not the end: a file saved while tsc ran may not be in this build.
  utimesSync(stamp, startedAt, startedAt)
  return 0
}

/** The first input modified after `builtAt` (ms), described for the user; null when there is none. */
function newerInput(builtAt) {
  for (const name of inputs) {
    const mtime = mtimeOf(join(root, name))
    if (mtime !== null && mtime > builtAt) return `${name} changed`
  }
  const stack = [join(root, 'src')]
  while (stack.length > 0) {
    const dir = stack.pop()
    if ((mtimeOf(dir) ?? Infinity) > builtAt) return `${dir.slice(root.length + 1)}/ changed`
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
