import { describe, expect, it } from 'vitest'
import { fromPostgresError, fromSqliteError, StoreConflictError } from '../../../src/store/errors.js'

describe('store errors', () => {
  it('maps a pg unique violation to exists, naming the column and never the value', () => {
    const pgErr = Object.assign(new Error('duplicate key value violates unique constraint "virtual_keys_hash_key"'), {
      code: '23505',
      table: 'virtual_keys',
      detail: 'Key (hash)=(0123abcd) already exists.',
    })
    const e = fromPostgresError(pgErr)
    expect(e).toBeInstanceOf(StoreConflictError)
    expect(e).toMatchObject({ reason: 'exists', target: 'virtual_keys.hash', message: 'virtual_keys.hash is taken' })
    expect(e?.message).not.toContain('0123abcd')
    expect(e?.cause).toBe(pgErr)
  })

  it('maps a pg foreign-key violation to missing, and anything else to null', () => {
    expect(fromPostgresError(Object.assign(new Error('fk'), { code: '23503' }))).toMatchObject({ reason: 'missing' })
    expect(fromPostgresError(Object.assign(new Error('syntax'), { code: '42601' }))).toBeNull()
    expect(fromPostgresError('not an error')).toBeNull()
  })

  it('maps SQLite constraint codes and passes anything else through', () => {
    const unique = Object.assign(new Error('UNIQUE constraint failed: consumers.name'), { code: 'SQLITE_CONSTRAINT_UNIQUE' })
    expect(fromSqliteError(unique)).toMatchObject({ reason: 'exists', target: 'consumers.name' })
    const pk = Object.assign(new Error('UNIQUE constraint failed: consumers.id'), { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' })
    expect(fromSqliteError(pk)).toMatchObject({ reason: 'exists', target: 'consumers.id' })
    expect(fromSqliteError(Object.assign(new Error('FOREIGN KEY constraint failed'), { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' }))).toMatchObject({ reason: 'missing' })
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })
    expect(fromSqliteError(busy)).toBe(busy)
  })
})
