import { Worker } from 'node:worker_threads'
import type { InsertTable } from '../sql/sql.js'

interface Pending {
  readonly resolve: () => void
  readonly reject: (err: Error) => void
}

interface Reply {
  readonly id: number
  readonly error?: { readonly message: string; readonly code: string | null }
}

/** A batch the writer thread could not store; `code` is SQLite's (SQLITE_BUSY …) when it has one. */
export class ThreadedInsertError extends Error {
  readonly code: string | null
  constructor(message: string, code: string | null) {
    super(message)
    this.name = 'ThreadedInsertError'
    this.code = code
  }
}

/**
 * Multi-row inserts into a SQLite file, run on a thread of their own (insert-worker.js) with its
 * own connection: measured on the main thread, a 500-row usage batch held the event loop 2–3 ms,
 * and 13–17 ms when its commit ran a WAL checkpoint. Batches are stored one after another, in
 * the order given; a thread that dies fails what it held and the next batch starts a new one.
 */
export class ThreadedInserts {
  readonly #path: string
  readonly #rowsPerInsert: number
  #worker: Worker | null = null
  readonly #pending = new Map<number, Pending>()
  /** close() waiting for the batches in flight. */
  #drained: Array<() => void> = []
  #nextId = 1
  #closed = false

  constructor(path: string, rowsPerInsert: number) {
    this.#path = path
    this.#rowsPerInsert = rowsPerInsert
  }

  insertMany(table: InsertTable, rows: readonly (readonly unknown[])[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the sqlite store is closed'))
    if (rows.length === 0) return Promise.resolve()
    const id = this.#nextId++
    return new Promise<void>((resolve, reject) => {
      const worker = this.#thread()
      // Held open while a batch is out, so that a shutting-down process waits for its records.
      if (this.#pending.size === 0) worker.ref()
      this.#pending.set(id, { resolve, reject })
      worker.postMessage({ id, table: table.name, columns: table.columns.map((c) => c.name), rowsPerInsert: this.#rowsPerInsert, rows })
    })
  }

  /** Waits for the batches already handed over, then stops the thread. */
  async close(): Promise<void> {
    this.#closed = true
    const worker = this.#worker
    if (worker === null) return
    // Listened for before waiting: a thread that dies meanwhile must not leave close() hanging.
    const exited = new Promise<void>((done) => worker.once('exit', () => done()))
    if (this.#pending.size > 0) await new Promise<void>((done) => this.#drained.push(done))
    if (this.#worker !== worker) return
    // Referenced until it has exited: otherwise a process with nothing else left to do ends
    // right here, before whatever shutdown still had to do after closing the database.
    worker.ref()
    worker.postMessage('close')
    await exited
    this.#worker = null
  }

  #thread(): Worker {
    if (this.#worker !== null) return this.#worker
    const worker = new Worker(new URL('./insert-worker.js', import.meta.url), { workerData: { path: this.#path } })
    // An idle writer never keeps a finished process alive.
    worker.unref()
    worker.on('message', (reply: Reply) => {
      const p = this.#pending.get(reply.id)
      if (p === undefined) return
      this.#pending.delete(reply.id)
      if (reply.error === undefined) p.resolve()
      else p.reject(new ThreadedInsertError(reply.error.message, reply.error.code))
      if (this.#pending.size === 0) this.#idle(worker)
    })
    const fail = (err: Error): void => {
      if (this.#worker === worker) this.#worker = null
      for (const [id, p] of this.#pending) {
        this.#pending.delete(id)
        p.reject(err)
      }
      this.#idle(worker)
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new Error(`the sqlite writer thread exited (${code})`)))
    this.#worker = worker
    return worker
  }

  #idle(worker: Worker): void {
    worker.unref()
    const waiting = this.#drained
    this.#drained = []
    for (const done of waiting) done()
  }
}
