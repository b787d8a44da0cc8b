import type { IncomingMessage, ServerResponse } from 'node:http'
import { compileConfig, mergeConfig, type SimulatorRuntime } from './config/compile.js'
import { mulberry32 } from './faults/prng.js'
import { ResponseStore } from './endpoints/response-store.js'
import { ScriptQueue } from './faults/script-queue.js'
import { Exchange } from './http/exchange.js'
import { KeyRegistry } from './keys/key-registry.js'
import { RequestLog } from './record/request-log.js'
import { StatsBook, type Outcome } from './record/stats.js'
import type { Clock, RequestRecord, SimulatorConfigInput } from './types.js'

export const NO_KEY_ID = '(none)'

/** Everything the simulator knows and remembers; the request handler and the control endpoint share it. */
export class SimulatorState {
  readonly keys: KeyRegistry
  readonly stats = new StatsBook()
  readonly log = new RequestLog()
  readonly script = new ScriptQueue()
  /** Responses created through /v1/responses, for retrieval by id. */
  readonly responses = new ResponseStore()
  /** Read once per request: a configure() mid-request never mixes two configs. */
  runtime: SimulatorRuntime
  #input: SimulatorConfigInput = {}
  #random: () => number
  #nextId = 1
  /** Admitted requests in flight per model, for GET /metrics. Survives reset(), as in-flight counts do. */
  readonly #inflightByModel = new Map<string, number>()

  constructor(readonly clock: Clock, config: SimulatorConfigInput) {
    this.keys = new KeyRegistry(clock)
    this.runtime = compileConfig({})
    this.#random = mulberry32(this.runtime.seed)
    this.configure(config)
  }

  /** `patch` must already be validated. Compiles the merged config and swaps it in whole. */
  configure(patch: SimulatorConfigInput): void {
    const input = mergeConfig(this.#input, patch)
    const runtime = compileConfig(input)
    this.#input = input
    this.runtime = runtime
    this.keys.apply(runtime)
    if (patch.seed !== undefined) this.#random = mulberry32(runtime.seed)
    // Configured keys show in stats from the start, so a test can read zeros before any request.
    for (const policy of runtime.keys.values()) this.stats.ledger(policy.id)
  }

  /** The next draw of the seeded fault PRNG. */
  random(): number {
    return this.#random()
  }

  reset(): void {
    this.stats.clear()
    this.log.clear()
    this.script.clear()
    this.responses.clear()
    this.keys.resetLimiters()
    this.#random = mulberry32(this.runtime.seed)
  }

  open(req: IncomingMessage, res: ServerResponse, path: string): Exchange {
    return new Exchange({ req, res, id: this.#nextId++, path, startedAt: this.clock.now(), onLastByte: (ex) => this.#release(ex), onEnd: (ex, aborted) => this.#finish(ex, aborted) })
  }

  /** The request passed the limits: it counts as in flight until its last byte is written (or it ends otherwise). */
  admit(ex: Exchange): void {
    ex.admitted = true
    ex.ledger?.begin()
    this.stats.totals.begin()
    const model = ex.model ?? ''
    this.#inflightByModel.set(model, (this.#inflightByModel.get(model) ?? 0) + 1)
  }

  /** Requests in flight per model (only models with some). */
  inflightByModel(): ReadonlyMap<string, number> {
    return this.#inflightByModel
  }

  /**
   * An admitted request stops counting against its key's concurrency as its last byte is
   * written, as a real server frees the slot when it has generated the answer — not when the
   * socket reports it flushed, which a busy process hears after the client already has it all
   * (and has sent its next request, refused at a level the upstream does not really hold).
   */
  #release(ex: Exchange): void {
    if (!ex.admitted || ex.releasedAt !== null) return
    ex.releasedAt = this.clock.now()
    ;(ex.ledger ?? this.stats.ledger(NO_KEY_ID)).release()
    this.stats.totals.release()
    const model = ex.model ?? ''
    const left = (this.#inflightByModel.get(model) ?? 1) - 1
    if (left > 0) this.#inflightByModel.set(model, left)
    else this.#inflightByModel.delete(model)
  }

  #finish(ex: Exchange, aborted: boolean): void {
    const { req, res } = ex
    const status = res.headersSent ? res.statusCode : 0
    const outcome: Outcome = aborted ? 'aborted' : ex.outcome ?? (status >= 200 && status < 300 ? 'ok' : 'error')
    const ledger = ex.ledger ?? this.stats.ledger(NO_KEY_ID)
    this.#release(ex)
    ledger.end(outcome)
    this.stats.totals.end(outcome)
    const record: RequestRecord = {
      id: ex.id,
      key_id: ex.keyId,
      path: ex.path,
      method: req.method ?? '',
      model: ex.model,
      stream: ex.stream,
      status,
      started_at: ex.startedAt,
      ended_at: ex.releasedAt ?? this.clock.now(),
      aborted,
      bytes_sent: ex.bytesSent,
      sha256: ex.digest(),
      headers: flatHeaders(req),
      body_json: ex.bodyJson,
    }
    this.log.add(record)
  }
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return out
}
