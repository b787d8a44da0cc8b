import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// A Postgres server of the test's own: initdb into a temporary directory, started on a free
// 127.0.0.1 port, so a test may stop and restart it without touching the shared server on
// 5432. As root (Postgres refuses to run as root) everything runs as the `postgres` OS user.
// Every command is bounded in time; destroy() stops the server at once and removes the
// directory, and runs by itself if the process exits before the test could call it.

const binRoot = '/usr/lib/postgresql'
const commandTimeoutMs = 60_000

function findBinDir(): string {
  const versions = existsSync(binRoot) ? readdirSync(binRoot).filter((v) => existsSync(join(binRoot, v, 'bin', 'pg_ctl'))) : []
  versions.sort((a, b) => Number(b) - Number(a))
  if (versions[0] === undefined) throw new Error(`no Postgres server binaries under ${binRoot}/*/bin (install postgresql to run this test)`)
  return join(binRoot, versions[0], 'bin')
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export class PrivatePostgres {
  readonly #bin: string
  readonly #dir: string
  readonly #asPostgres: boolean
  readonly #onExit = (): void => this.#stopNow()
  #destroyed = false

  private constructor(bin: string, dir: string, asPostgres: boolean, readonly port: number) {
    this.#bin = bin
    this.#dir = dir
    this.#asPostgres = asPostgres
    process.once('exit', this.#onExit)
  }

  /** Creates a cluster in a fresh temporary directory and starts it. */
  static async start(): Promise<PrivatePostgres> {
    const bin = findBinDir()
    const dir = mkdtempSync(join(tmpdir(), 'sluice-pg-'))
    const asPostgres = process.getuid?.() === 0
    if (asPostgres) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
      chownSync(dir, uid, gid)
    }
    const pg = new PrivatePostgres(bin, dir, asPostgres, await freePort())
    try {
      await pg.#run('initdb', ['-D', pg.#data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'])
      await pg.resume()
    } catch (err) {
      await pg.destroy()
      throw err
    }
    return pg
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`
  }

  get #data(): string {
    return join(this.#dir, 'data')
  }

  /** Starts (again) on the same port and data; resolves once it accepts connections. */
  async resume(): Promise<void> {
    const options = `-p ${this.port} -k ${this.#dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`
    await this.#run('pg_ctl', ['-D', this.#data, '-o', options, '-l', join(this.#dir, 'server.log'), '-w', '-t', '30', 'start'])
  }

  /** Stops it as an operator would (fast shutdown: open connections are cut); resolves once it is down. */
  async stop(): Promise<void> {
    await this.#run('pg_ctl', ['-D', this.#data, '-m', 'fast', '-w', '-t', '30', 'stop'])
  }

  /** Stops it at once if it runs, and removes its directory. Safe to call twice. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    process.removeListener('exit', this.#onExit)
    this.#stopNow()
    rmSync(this.#dir, { recursive: true, force: true })
  }

  #stopNow(): void {
    if (!existsSync(join(this.#data, 'postmaster.pid'))) return
    const [cmd, args] = this.#command('pg_ctl', ['-D', this.#data, '-m', 'immediate', '-w', '-t', '20', 'stop'])
    spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 })
  }

  #command(tool: string, args: string[]): [string, string[]] {
    const path = join(this.#bin, tool)
    return this.#asPostgres ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args]
  }

  #run(tool: string, args: string[]): Promise<void> {
    const [cmd, argv] = this.#command(tool, args)
    return new Promise((resolve, reject) => {
      execFile(cmd, argv, { timeout: commandTimeoutMs, cwd: this.#dir }, (err, _stdout, stderr) => {
        if (err) reject(new Error(`${tool} ${args.at(-1) ?? ''} failed: ${err.message}\n${stderr}`))
        else resolve()
      })
    })
  }
}
