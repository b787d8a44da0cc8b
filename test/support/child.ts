import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'

const cli = resolve(import.meta.dirname, '../../dist/cli.js')

/** `sluice start` in a child process (built dist/), with its JSON log lines readable as they come. */
export class SluiceProcess {
  readonly lines: Record<string, unknown>[] = []
  readonly stderr: string[] = []
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  #waiters: { test: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = []

  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: Record<string, unknown>
      try {
        line = JSON.parse(text) as Record<string, unknown>
      } catch {
        line = { msg: text }
      }
      this.lines.push(line)
      this.#waiters = this.#waiters.filter((w) => (w.test(line) ? (w.resolve(line), false) : true))
    })
    createInterface({ input: child.stderr! }).on('line', (l) => this.stderr.push(l))
    // 'close', not 'exit': the last lines may still be in the pipe when the process has exited.
    this.exited = once(child, 'close').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }))
  }

  /**
   * Without a `cwd`, the process runs in a fresh temporary directory (removed when it exits), so
   * the default database (sqlite:./data/sluice.db) never carries learned state between tests.
   */
  static start(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): SluiceProcess {
    const cwd = opts.cwd ?? mkdtempSync(join(tmpdir(), 'sluice-run-'))
    const child = spawn(process.execPath, [cli, ...args], { cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    if (opts.cwd === undefined) child.once('exit', () => rmSync(cwd, { recursive: true, force: true }))
    return new SluiceProcess(child)
  }

  /** Resolves with the first log line (already seen or still to come) that passes `test`. */
  waitFor(test: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const seen = this.lines.find(test)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve) => this.#waiters.push({ test, resolve }))
  }

  /** The data-plane URL, once the process says it is listening. */
  async url(): Promise<string> {
    const line = await Promise.race([
      this.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('sluice listening')),
      this.exited.then((e) => {
        throw new Error(`sluice exited before listening (${JSON.stringify(e)}): ${this.stderr.join('\n')}`)
      }),
    ])
    return line.url as string
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.child.kill(signal)
  }
}
