import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

// Every command answers --help with its usage (exit 0) and a usage mistake with one line and
// the usage (exit 2); config errors and unset variables are told without a stack trace.

const run = promisify(execFile)
const root = resolve(import.meta.dirname, '../../..')
const cli = join(root, 'dist/cli.js')

interface Result {
  code: number
  stdout: string
  stderr: string
}

async function sluice(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Result> {
  // A command that ignored its arguments and started a server would run until the timeout.
  const options = { env: { ...process.env, SLUICE_CONFIG: '', ...opts.env }, cwd: opts.cwd ?? mkdtempSync(join(tmpdir(), 'sluice-usage-')), timeout: 10_000 }
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], options)
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

const stackFrame = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m

const commands: { args: string[]; usage: RegExp }[] = [
  { args: ['start'], usage: /^Usage: sluice start / },
  { args: ['simulate'], usage: /^Usage: sluice simulate / },
  { args: ['check-config'], usage: /^Usage: sluice check-config / },
  { args: ['keys'], usage: /sluice keys create --consumer NAME/ },
  { args: ['keys', 'create'], usage: /sluice keys create --consumer NAME/ },
  { args: ['keys', 'list'], usage: /sluice keys list/ },
  { args: ['keys', 'revoke'], usage: /sluice keys revoke PREFIX\|ID/ },
  { args: ['schema'], usage: /^Usage: sluice schema / },
  { args: ['version'], usage: /^Usage: sluice version/ },
  { args: ['bench'], usage: /^Usage: sluice bench / },
]

describe('--help', () => {
  for (const c of commands) {
    // -h for one command: every command shares the parsing of it.
    const flag = c.args[0] === 'start' ? '-h' : '--help'
    it(`sluice ${c.args.join(' ')} ${flag} prints its usage and exits 0`, async () => {
      const result = await sluice([...c.args, flag])
      expect(result.stderr).toBe('')
      expect(result.code).toBe(0)
      expect(result.stdout).toMatch(c.usage)
    })
  }

  it('--help wins over other arguments, even wrong ones', async () => {
    const result = await sluice(['start', '--config', 'nowhere.yaml', '--frobnicate', '--help'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^Usage: sluice start /)
  })

  it('sluice --help lists every command', async () => {
    const result = await sluice(['--help'])
    expect(result.code).toBe(0)
    for (const name of ['start', 'check-config', 'simulate', 'keys', 'schema', 'version', 'bench']) expect(result.stdout).toContain(`  ${name}`)
  })
})

describe('usage mistakes', () => {
  for (const c of commands) {
    it(`sluice ${c.args.join(' ')} --frobnicate: one line naming the option, the usage, exit 2`, async () => {
      const result = await sluice([...c.args, ...(c.args[1] === 'revoke' ? ['sk-sluice-AbCd'] : []), '--frobnicate'])
      expect(result.code).toBe(2)
      expect(result.stdout).toBe('')
      const [first, blank, ...usage] = result.stderr.split('\n')
      expect(first).toBe(`sluice ${c.args[0]}: ${c.args[0] === 'keys' && c.args.length === 1 ? 'unknown keys command "--frobnicate"' : 'unknown option --frobnicate'}`)
      expect(blank).toBe('')
      expect(usage.join('\n')).toMatch(c.usage)
      expect(result.stderr).not.toMatch(stackFrame)
    })
  }

  const mistakes: { args: string[]; line: string }[] = [
    { args: ['start', 'sluice.yaml'], line: 'sluice start: unexpected argument "sluice.yaml"' },
    { args: ['start', '--port'], line: 'sluice start: --port needs a value' },
    { args: ['start', '--port', 'http'], line: 'sluice start: --port must be a port number, not "http"' },
    { args: ['simulate', '--port', '70000'], line: 'sluice simulate: --port must be an integer from 0 to 65535, not "70000"' },
    { args: ['schema', '--markdown=yes'], line: 'sluice schema: --markdown takes no value' },
    { args: ['check-config', 'a.yaml', 'b.yaml'], line: 'sluice check-config: unexpected argument "b.yaml"' },
    { args: ['check-config'], line: 'sluice check-config: no config file: pass one, set SLUICE_CONFIG, or create ./sluice.yaml' },
    { args: ['keys', 'list', '--tier', 'basic'], line: 'sluice keys: unknown option --tier' },
    { args: ['keys', 'create', '--tier', 'basic'], line: 'sluice keys: --consumer is required' },
    { args: ['keys', 'revoke'], line: 'sluice keys: revoke needs a key prefix or id' },
    { args: ['keys', 'rotate'], line: 'sluice keys: unknown keys command "rotate"' },
  ]
  for (const m of mistakes) {
    it(`sluice ${m.args.join(' ')}`, async () => {
      const result = await sluice(m.args)
      expect(result.code).toBe(2)
      expect(result.stderr.split('\n')[0]).toBe(m.line)
      expect(result.stderr).toContain('Usage')
      expect(result.stderr).not.toMatch(stackFrame)
    })
  }

  it('an unknown command names itself and lists the commands', async () => {
    const result = await sluice(['strat'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/^sluice: unknown command "strat"\n\nUsage: sluice <command>/)
  })
})

describe('config errors and unset variables are told without a stack trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-usage-config-'))
  const needsSecret = join(dir, 'secret.yaml')
  writeFileSync(needsSecret, `providers:\n  openai:\n    type: openai\n    keys: [{ id: oa-1, key: "\${SLUICE_TEST_UNSET_KEY}" }]\ndatabase: sqlite:${join(dir, 'db.sqlite')}\n`)
  const badDatabase = join(dir, 'bad-db.yaml')
  writeFileSync(badDatabase, 'providers: {}\ndatabase: "${SLUICE_TEST_UNSET_DB}"\ntiers:\n  basic: { rpm: -1 }\n')
  const unreachableDatabase = join(dir, 'unreachable-db.yaml')
  writeFileSync(unreachableDatabase, 'server: { port: 0 }\nproviders: {}\ndatabase: postgres://nobody@127.0.0.1:1/none\n')
  const env = { SLUICE_TEST_UNSET_KEY: '', SLUICE_TEST_UNSET_DB: '' }

  const cases: { name: string; args: string[]; code: number; says: string[] }[] = [
    { name: 'start with an unset variable', args: ['start', '--config', needsSecret], code: 1, says: [`${needsSecret}:4 providers.openai.keys[0].key: environment variable SLUICE_TEST_UNSET_KEY is not set`] },
    { name: 'start with a file that is not there', args: ['start', '--config', join(dir, 'missing.yaml')], code: 1, says: ['cannot read file'] },
    { name: 'check-config with an unset variable', args: ['check-config', needsSecret], code: 1, says: ['environment variable SLUICE_TEST_UNSET_KEY is not set'] },
    {
      name: 'keys list with an unset variable in database and a bad tier',
      args: ['keys', 'list', '--config', badDatabase],
      code: 1,
      says: [`${badDatabase}:2 database: environment variable SLUICE_TEST_UNSET_DB is not set`, `${badDatabase}:4 tiers.basic.rpm: must be greater than 0 (got -1)`],
    },
    { name: 'keys list with a database that cannot be reached', args: ['keys', 'list', '--database', 'postgres://nobody@127.0.0.1:1/none'], code: 1, says: ['cannot open the database: could not connect to postgres at 127.0.0.1:1'] },
    { name: 'start with a database that cannot be reached', args: ['start', '--config', unreachableDatabase], code: 1, says: ['sluice: cannot open the database: could not connect to postgres at 127.0.0.1:1'] },
    { name: 'simulate with a file that is not there', args: ['simulate', '--config', join(dir, 'missing-sim.yaml')], code: 1, says: ['simulator config: cannot read'] },
  ]
  for (const c of cases) {
    it(c.name, async () => {
      const result = await sluice(c.args, { env })
      expect(result.code).toBe(c.code)
      for (const text of c.says) expect(result.stderr).toContain(text)
      expect(result.stderr).not.toMatch(stackFrame)
    })
  }
})

describe('npm run bench', () => {
  const bench = async (args: string[]): Promise<Result> => {
    try {
      const { stdout, stderr } = await run(process.execPath, [join(root, 'bench/run.js'), ...args], { cwd: root, timeout: 10_000 })
      return { code: 0, stdout, stderr }
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string }
      return { code: e.code, stdout: e.stdout, stderr: e.stderr }
    }
  }

  it('prints its usage on --help instead of starting a run', async () => {
    const result = await bench(['--help'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^Usage: npm run bench /)
  })

  it('refuses an option it does not know instead of starting a run', async () => {
    const result = await bench(['pacing', '--profiel'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/^bench: unknown option --profiel\n\nUsage: npm run bench /)
  })
})
