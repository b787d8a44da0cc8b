import { describe, expect, it } from 'vitest'
import { migrations, pendingMigrations, type Migration } from '../../../../src/store/migrations/index.js'

const m = (version: number, name: string): Migration => ({ version, name, sqlite: '', postgres: '' })
const known = [m(1, 'one'), m(2, 'two'), m(3, 'three')]

describe('pendingMigrations', () => {
  it.each([
    { applied: [], pending: [1, 2, 3] },
    { applied: [1], pending: [2, 3] },
    { applied: [1, 2, 3], pending: [] },
    { applied: [2], pending: [1, 3] },
  ])('applied $applied → pending $pending', ({ applied, pending }) => {
    const got = pendingMigrations(applied.map((v) => ({ version: v, name: `m${v}` })), known)
    expect(got.map((x) => x.version)).toEqual(pending)
  })

  it('refuses a database that a newer sluice migrated', () => {
    expect(() => pendingMigrations([{ version: 1, name: 'one' }, { version: 4, name: 'four' }], known)).toThrow(
      'the database has migration 4 (four), which this sluice does not know (it knows up to 3): it was used by a newer sluice. Run that version, or point the database setting at another database.',
    )
  })

  it('refuses an unknown version below the latest too, without calling it newer', () => {
    expect(() => pendingMigrations([{ version: 2, name: 'x' }], [m(1, 'one'), m(3, 'three')])).toThrow(/migration 2 \(x\), which this sluice does not know \(it knows up to 3\)\. Run/)
  })
})

describe('the migration list', () => {
  it('is numbered 1, 2, 3 … in order, with unique snake_case names', () => {
    expect(migrations.map((x) => x.version)).toEqual(migrations.map((_, i) => i + 1))
    expect(new Set(migrations.map((x) => x.name)).size).toBe(migrations.length)
    for (const x of migrations) expect(x.name).toMatch(/^[a-z][a-z0-9_]*$/)
  })

  it('has SQL for both dialects in every step', () => {
    for (const x of migrations) {
      expect(x.sqlite.trim()).not.toBe('')
      expect(x.postgres.trim()).not.toBe('')
    }
  })
})
