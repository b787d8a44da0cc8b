// The SQLite ledger's writer thread: multi-row INSERTs in a transaction on a connection of its
// own, so that a batch (and the WAL checkpoint a commit may run) never blocks the event loop.
// Plain JavaScript, so that the same file runs from src/ under the tests and from dist/.
//
// workerData: { path }. Messages in: { id, table, columns, rowsPerInsert, rows }; out: { id }
// or { id, error: { message, code } }.
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'

const db = new Database(workerData.path)
// Off the event loop, waiting for another connection's lock costs nothing but this thread's time.
db.pragma('busy_timeout = 5000')
db.pragma('synchronous = NORMAL')

const statements = new Map()

function statementsFor(table, columns, rowsPerInsert) {
  let found = statements.get(table)
  if (found === undefined) {
    const head = `INSERT INTO ${table} (${columns.join(', ')}) VALUES `
    const row = `(${columns.map(() => '?').join(', ')})`
    found = { many: db.prepare(head + Array.from({ length: rowsPerInsert }, () => row).join(', ')), one: db.prepare(head + row), rowsPerInsert }
    statements.set(table, found)
  }
  return found
}

const insertAll = db.transaction((st, rows) => {
  let i = 0
  for (; i + st.rowsPerInsert <= rows.length; i += st.rowsPerInsert) st.many.run(...rows.slice(i, i + st.rowsPerInsert).flat())
  for (; i < rows.length; i++) st.one.run(...rows[i])
})

parentPort.on('message', (msg) => {
  if (msg === 'close') {
    db.close()
    parentPort.close()
    return
  }
  try {
    insertAll.immediate(statementsFor(msg.table, msg.columns, msg.rowsPerInsert), msg.rows)
    parentPort.postMessage({ id: msg.id })
  } catch (err) {
    parentPort.postMessage({ id: msg.id, error: { message: String(err?.message ?? err), code: err?.code ?? null } })
  }
})
