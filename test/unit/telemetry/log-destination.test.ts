import { describe, expect, it } from 'vitest'
import { BatchedDestination, type FdWriter } from '../../../src/telemetry/log-destination.js'
import { createLogger, droppedLogLines, flushLogger } from '../../../src/telemetry/logger.js'
import { FakeTime } from '../../support/fake-time.js'

/** A stdout that takes writes when told to: each write waits in `calls` until complete() answers it. */
class FakeStdout implements FdWriter {
  readonly out: Buffer[] = []
  readonly calls: Array<{ bytes: Buffer; done: (err: NodeJS.ErrnoException | null, written: number) => void }> = []
  syncWrites = 0

  write(_fd: number, buffer: Buffer, offset: number, length: number, done: (err: NodeJS.ErrnoException | null, written: number) => void): void {
    this.calls.push({ bytes: Buffer.from(buffer.subarray(offset, offset + length)), done })
  }

  writeSync(_fd: number, buffer: Buffer, offset: number, length: number): number {
    this.syncWrites++
    this.out.push(Buffer.from(buffer.subarray(offset, offset + length)))
    return length
  }

  /** Answers the oldest write: all of it, `partial` bytes of it, or an error. */
  complete(opts: { partial?: number; code?: string } = {}): void {
    const call = this.calls.shift()
    if (call === undefined) throw new Error('no write is waiting')
    if (opts.code !== undefined) return call.done(Object.assign(new Error(opts.code), { code: opts.code }), 0)
    const n = opts.partial ?? call.bytes.length
    this.out.push(call.bytes.subarray(0, n))
    call.done(null, n)
  }

  drain(): void {
    while (this.calls.length > 0) this.complete()
  }

  text(): string {
    return Buffer.concat(this.out).toString('utf8')
  }
}

const line = (i: number): string => `{"n":${i},"msg":"request é ✓"}\n`

function setup(opts: { chunkBytes?: number; maxPendingBytes?: number } = {}) {
  const stdout = new FakeStdout()
  const time = new FakeTime()
  const dest = new BatchedDestination(1, { io: stdout, timers: time, maxDelayMs: 50, retryMs: 10, ...opts })
  return { stdout, time, dest }
}

describe('BatchedDestination', () => {
  it('writes nothing until the oldest line is maxDelayMs old, then the lines in one write', () => {
    const { stdout, time, dest } = setup()
    dest.write(line(1))
    dest.write(line(2))
    expect(stdout.calls).toHaveLength(0)
    time.advance(49)
    expect(stdout.calls).toHaveLength(0)
    time.advance(1)
    expect(stdout.calls).toHaveLength(1)
    stdout.drain()
    expect(stdout.text()).toBe(line(1) + line(2))
    expect(time.pending).toBe(0) // idle: nothing armed
  })

  it('keeps every line, in order, when lines arrive faster than writes complete', () => {
    const { stdout, time, dest } = setup({ chunkBytes: 256 })
    let expected = ''
    for (let i = 0; i < 500; i++) {
      dest.write(line(i))
      expected += line(i)
      if (i % 7 === 0 && stdout.calls.length > 0) stdout.complete()
    }
    time.advance(50)
    stdout.drain()
    expect(stdout.calls).toHaveLength(0)
    expect(stdout.text()).toBe(expected)
    expect(dest.dropped).toBe(0)
  })

  it('has one write in flight at a time and continues a partial write where it stopped', () => {
    const { stdout, dest } = setup({ chunkBytes: 256 })
    for (let i = 0; i < 10; i++) dest.write(line(i))
    expect(stdout.calls).toHaveLength(1)
    stdout.complete({ partial: 5 })
    expect(stdout.calls).toHaveLength(1)
    dest.flush()
    stdout.drain()
    expect(stdout.text()).toBe(Array.from({ length: 10 }, (_, i) => line(i)).join(''))
  })

  it('writes a line longer than a buffer whole, in its place', () => {
    const { stdout, dest } = setup({ chunkBytes: 64 })
    const long = `{"msg":"${'x'.repeat(300)}"}\n`
    dest.write(line(1))
    dest.write(long)
    dest.write(line(2))
    dest.flush()
    stdout.drain()
    expect(stdout.text()).toBe(line(1) + long + line(2))
  })

  it('tries a full pipe (EAGAIN) again after retryMs without losing the chunk', () => {
    const { stdout, time, dest } = setup()
    dest.write(line(1))
    dest.flush()
    stdout.complete({ code: 'EAGAIN' })
    dest.write(line(2))
    dest.flush()
    expect(stdout.calls).toHaveLength(0) // waiting out the full pipe
    time.advance(10)
    stdout.drain()
    expect(stdout.text()).toBe(line(1) + line(2))
  })

  it('drops and counts lines once stdout is gone (those written half and those not yet sealed too), and flush callbacks still run', () => {
    const { stdout, dest } = setup({ chunkBytes: 256 })
    for (let i = 0; i < 8; i++) dest.write(line(i)) // more than a chunk: one write goes out
    expect(stdout.calls).toHaveLength(1)
    stdout.complete({ partial: line(0).length + 3 }) // line 0 whole, line 1 begun
    let flushed = 0
    dest.flush(() => flushed++)
    stdout.complete({ code: 'EPIPE' })
    expect(flushed).toBe(1)
    expect(dest.dropped).toBe(7)
    expect(dest.write(line(9))).toBe(false)
    expect(dest.dropped).toBe(8)
  })

  it('drops lines beyond maxPendingBytes while the reader is stalled, and says how many', () => {
    const { stdout, dest } = setup({ chunkBytes: 256, maxPendingBytes: 400 })
    let accepted = 0
    for (let i = 0; i < 100; i++) if (dest.write(line(i))) accepted++
    expect(dest.dropped).toBe(100 - accepted)
    expect(accepted).toBeLessThan(20)
    dest.flush()
    stdout.drain()
    expect(stdout.text().split('\n').length - 1).toBe(accepted)
  })

  it('flushSync writes what is held synchronously, leaving a write in flight to land by itself', () => {
    const { stdout, dest } = setup({ chunkBytes: 256 })
    for (let i = 0; i < 12; i++) dest.write(line(i))
    expect(stdout.calls).toHaveLength(1) // the first chunk is in flight
    dest.flushSync()
    expect(stdout.syncWrites).toBeGreaterThan(0)
    stdout.drain()
    const got = stdout.text().split('\n').filter(Boolean).sort()
    expect(got).toEqual(Array.from({ length: 12 }, (_, i) => line(i).trim()).sort())
  })

  it('runs flush callbacks once everything written before them has left', () => {
    const { stdout, dest } = setup()
    let flushed = 0
    dest.flush(() => flushed++)
    expect(flushed).toBe(1) // nothing held
    dest.write(line(1))
    dest.flush(() => flushed++)
    expect(flushed).toBe(1)
    stdout.drain()
    expect(flushed).toBe(2)
  })
})

describe('the logger on a BatchedDestination', () => {
  it('reports the lines its destination dropped, for sluice_log_lines_dropped_total', async () => {
    const stdout = new FakeStdout()
    const logger = createLogger({ destination: new BatchedDestination(1, { io: stdout, timers: new FakeTime() }) })
    logger.info('one')
    logger.info('two')
    const flushed = flushLogger(logger)
    stdout.complete({ code: 'EPIPE' })
    await flushed
    expect(droppedLogLines(logger)).toBe(2)
    expect(droppedLogLines(createLogger({ destination: { write: () => undefined } }))).toBe(0)
  })
})
