import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

// `npm start` must not build on every start, and must build whenever src/ changed, a `git
// pull` included. The real scripts/build-if-stale.js runs here in a small project whose
// `npm run build` is a stand-in that logs each build, so no real compile is paid for.

const run = promisify(execFile)
const root = resolve(import.meta.dirname, '../../..')

// Writes dist/cli.js as tsc does; fails while src/broken.ts exists; touches src/cli.ts in the
// middle of the build while touch-during-build exists (an editor saving while tsc runs).
const fakeBuild = `import { appendFileSync, existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs'
appendFileSync('builds.log', 'build\\n')
if (existsSync('src/broken.ts')) { process.stderr.write('src/broken.ts(1,1): error TS1005\\n'); process.exit(2) }
if (existsSync('touch-during-build')) { const now = new Date(Date.now() + 50); utimesSync('src/cli.ts', now, now) }
const later = Date.now() + 100
while (Date.now() < later) {}
mkdirSync('dist', { recursive: true })
writeFileSync('dist/cli.js', '')
`

let project: string

beforeEach(() => {
  project = mkdtempSync(join(tmpdir(), 'sluice-build-'))
  mkdirSync(join(project, 'scripts'))
  copyFileSync(join(root, 'scripts', 'build-if-stale.js'), join(project, 'scripts', 'build-if-stale.js'))
  writeFileSync(join(project, 'fake-build.mjs'), fakeBuild)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'fixture', type: 'module', scripts: { build: 'node fake-build.mjs' } }) + '\n')
  writeFileSync(join(project, 'tsconfig.json'), '{}\n')
  writeFileSync(join(project, 'tsconfig.build.json'), '{}\n')
  mkdirSync(join(project, 'src', 'config'), { recursive: true })
  writeFileSync(join(project, 'src', 'cli.ts'), 'export {}\n')
  writeFileSync(join(project, 'src', 'config', 'load.ts'), 'export {}\n')
})

afterEach(() => rmSync(project, { recursive: true, force: true }))

async function buildIfStale(dir = project): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run(process.execPath, [join(dir, 'scripts', 'build-if-stale.js')], { cwd: dir, env: { ...process.env, npm_execpath: '' } })
    return { code: 0, stderr }
  } catch (err) {
    const e = err as { code: number; stderr: string }
    return { code: e.code, stderr: e.stderr }
  }
}

function builds(dir = project): number {
  const log = join(dir, 'builds.log')
  return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0
}

/** Moves the inputs' mtimes an hour back, as if they were written long before the last build; no sleeping. */
function ageInputs(dir = project): void {
  const hourAgo = new Date(Date.now() - 3_600_000)
  for (const path of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts', 'scripts/build-if-stale.js', 'src', 'src/cli.ts', 'src/config', 'src/config/load.ts']) {
    if (existsSync(join(dir, path))) utimesSync(join(dir, path), hourAgo, hourAgo)
  }
}

describe('scripts/build-if-stale.js (npm start)', () => {
  it('builds when dist/ was never built, then starts from it while nothing changed', async () => {
    expect((await buildIfStale()).stderr).toContain('dist/ has not been built')
    expect(builds()).toBe(1)
    ageInputs()
    for (let i = 0; i < 3; i++) expect(await buildIfStale()).toEqual({ code: 0, stderr: '' })
    expect(builds()).toBe(1)
  })

  it('after npm install (whose prepare ran npm run build) or a build by hand, starts without building again', async () => {
    ageInputs()
    await run(process.execPath, ['fake-build.mjs'], { cwd: project })
    expect(await buildIfStale()).toEqual({ code: 0, stderr: '' })
    expect(builds()).toBe(1)
  })

  it('builds again after a source file changed, as an edit or a git pull writes it', async () => {
    await buildIfStale()
    ageInputs()
    writeFileSync(join(project, 'src', 'config', 'load.ts'), 'export const changed = 1\n')
    const rebuilt = await buildIfStale()
    expect(rebuilt.code).toBe(0)
    expect(rebuilt.stderr).toContain('src/config/load.ts changed')
    expect(builds()).toBe(2)
    ageInputs()
    await buildIfStale()
    expect(builds()).toBe(2)
  })

  it('a file saved while the build ran counts as changed at the next start', async () => {
    writeFileSync(join(project, 'touch-during-build'), '')
    await buildIfStale()
    rmSync(join(project, 'touch-during-build'))
    // dist/cli.js was written after src/cli.ts was saved, but the build may have read it before.
    expect((await buildIfStale()).stderr).toContain('src/cli.ts changed')
    expect(builds()).toBe(2)
  })

  it('builds again after a source file was deleted or added, and after package.json, a tsconfig or a build step changed', async () => {
    await buildIfStale()
    ageInputs()
    rmSync(join(project, 'src', 'config', 'load.ts'))
    expect((await buildIfStale()).stderr).toContain('src/config/ changed')
    expect(builds()).toBe(2)

    ageInputs()
    writeFileSync(join(project, 'src', 'config', 'new.ts'), 'export {}\n')
    utimesSync(join(project, 'src', 'config', 'new.ts'), new Date(0), new Date(0))
    await buildIfStale()
    expect(builds()).toBe(3)

    for (const file of ['package.json', 'tsconfig.build.json', 'scripts/build-if-stale.js']) {
      ageInputs()
      writeFileSync(join(project, file), readFileSync(join(project, file)))
      expect((await buildIfStale()).stderr).toContain(`${file} changed`)
    }
    expect(builds()).toBe(6)
  })

  it('builds again after a real git pull that changed a source file', async () => {
    const git = (cwd: string, ...args: string[]) => run('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], { cwd })
    // `project` plays the upstream repository; the user works in a clone of it.
    writeFileSync(join(project, '.gitignore'), 'dist/\nbuilds.log\n')
    await git(project, 'init', '-q')
    await git(project, 'add', '.')
    await git(project, 'commit', '-qm', 'first')
    const user = mkdtempSync(join(tmpdir(), 'sluice-build-clone-'))
    try {
      await git(user, 'clone', '-q', project, '.')
      expect((await buildIfStale(user)).code).toBe(0)
      writeFileSync(join(project, 'src', 'config', 'load.ts'), 'export const pulled = 1\n')
      await git(project, 'commit', '-qam', 'second')
      ageInputs(user)
      expect((await buildIfStale(user)).stderr).toBe('')
      await git(user, 'pull', '-q')
      expect(readFileSync(join(user, 'src', 'config', 'load.ts'), 'utf8')).toContain('pulled')
      // git replaces a file it updates, so its directory changes too; either names the change.
      expect((await buildIfStale(user)).stderr).toMatch(/src\/config\/(load\.ts)? changed/)
      expect(builds(user)).toBe(2)
    } finally {
      rmSync(user, { recursive: true, force: true })
    }
  })

  it('a failed build stops npm start and is tried again on the next start', async () => {
    await buildIfStale()
    ageInputs()
    writeFileSync(join(project, 'src', 'broken.ts'), 'export const = 1\n')
    const failed = await buildIfStale()
    expect(failed.code).not.toBe(0)
    expect(failed.stderr).toContain('error TS1005')
    rmSync(join(project, 'src', 'broken.ts'))
    expect((await buildIfStale()).code).toBe(0)
    expect(builds()).toBe(3)
  })

  it('is what npm start runs', () => {
    const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
    expect(scripts.start).toBe('node scripts/build-if-stale.js && node dist/cli.js start')
  })
})
