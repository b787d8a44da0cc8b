// Every Redis key and channel sluice uses, and only here. Each piece of state carries a hash tag
// ({k:<keyId>}, {c:<consumerId>} …), so one upstream key's leases and breaker, or one consumer's
// RPM, TPM and spend, sit in one cluster slot and a script touching several of them stays legal.

export interface UpstreamKeys {
  readonly leases: string
  /** The concurrency limit every instance enforces, and the learned state behind it (acquire-lease-2.lua). */
  readonly law: string
  /** The shared GCRA schedule (pace-1.lua). */
  readonly pace: string
  readonly breaker: string
}

export class RedisKeys {
  readonly instances: string
  readonly invalidation: string
  readonly #byUpstreamKey = new Map<string, UpstreamKeys>()

  constructor(readonly prefix: string) {
    this.instances = `${prefix}{instances}`
    this.invalidation = `${prefix}invalidate`
  }

  /** Memoised: upstream key ids are few (the config's), and these are read on every request. */
  upstream(keyId: string): UpstreamKeys {
    let keys = this.#byUpstreamKey.get(keyId)
    if (keys === undefined) {
      const tag = `${this.prefix}{k:${keyId}}`
      keys = Object.freeze({ leases: `${tag}:leases`, law: `${tag}:law`, pace: `${tag}:pace`, breaker: `${tag}:breaker` })
      this.#byUpstreamKey.set(keyId, keys)
    }
    return keys
  }

  leader(name: string): string {
    return `${this.prefix}{leader:${name}}`
  }

  consumerRequests(consumerId: string): string {
    return `${this.prefix}{c:${consumerId}}:rpm`
  }

  consumerTokens(consumerId: string): string {
    return `${this.prefix}{c:${consumerId}}:tpm`
  }

  spend(consumerId: string, period: string): string {
    return `${this.prefix}{c:${consumerId}}:spend:${period}`
  }

  pin(objectId: string): string {
    return `${this.prefix}{pin:${objectId}}`
  }
}
