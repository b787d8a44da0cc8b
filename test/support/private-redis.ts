import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// A redis-server of the test's own on a free 127.0.0.1 port, so a test may stop, hang and
// restart it without touching the shared one on 6379. No persistence: a restart comes back
// empty. Every wait is bounded; destroy() runs by itself if the test process exits first.

export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export class PrivateRedis {
  #child: ChildProcess | null = null
  readonly #onExit = (): void => void this.#child?.kill('SIGKILL')

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {
    process.once('exit', this.#onExit)
  }

  static async create(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), mkdtempSync(join(tmpdir(), 'sluice-redis-')))
    await redis.start()
    return redis
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`
  }

  /** Starts (again) on the same port; resolves once it accepts connections (within 5 s). */
  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.#child = child
    await new Promise<void>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within 5 s: ${out}`)), 5_000)
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`redis-server exited with ${code}: ${out}`))
      })
    })
  }

  /** Stops it at once, frozen or not (everything it held is lost, as in a crash without persistence); resolves once it has exited. */
  async stop(): Promise<void> {
    const child = this.#child
    this.#child = null
    if (child === null || child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }

  /** Freezes it: connections stay open, nothing answers (SIGCONT with `thaw`). */
  freeze(): void {
    this.#child?.kill('SIGSTOP')
  }

  thaw(): void {
    this.#child?.kill('SIGCONT')
  }

  async destroy(): Promise<void> {
    await this.stop()
    process.removeListener('exit', this.#onExit)
    rmSync(this.dir, { recursive: true, force: true })
  }
}
