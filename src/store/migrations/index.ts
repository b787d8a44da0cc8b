import { upstreamKeys } from './0001-upstream-keys.js'
import { consumersKeysUsage } from './0002-consumers-keys-usage.js'
import type { Migration } from './types.js'

export type { Migration } from './types.js'
export { pendingMigrations, type AppliedMigration } from './plan.js'
export { ledger } from './ledger.js'

/** Every migration this sluice knows, oldest first. Append only. */
export const migrations: readonly Migration[] = [upstreamKeys, consumersKeysUsage]
