import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'

/** A name for this process among the instances: host, pid and a random part (a restarted pid is a new instance). Never holds `/`, which separates it from a lease's sequence. */
export function newInstanceId(): string {
  return `${hostname().replace(/[^A-Za-z0-9.-]/g, '_')}-${process.pid}-${randomBytes(3).toString('hex')}`
}
