import type { RequestContext, Stage } from './context.js'
import { admit, type AdmitPorts } from './stages/admit/index.js'
import { auth, type AuthPorts } from './stages/auth/index.js'
import { balance, type BalancePorts } from './stages/balance/index.js'
import { createSendAttempt, forward } from './stages/forward/index.js'
import { ingress, type IngressPorts } from './stages/ingress/index.js'
import { observe, type ObservePorts } from './stages/observe/index.js'
import { route } from './stages/route/index.js'
import { schedule, type Scheduler } from './stages/schedule/index.js'
import type { SharedState } from './state/index.js'

// The request path, in order. Read this first.
//
//   observe   wraps everything after it: turns failures into the client's error response,
//             then writes metrics and the access log, exactly once per request
//   ingress   refuses work while draining; bounds, reads and checks the body
//   auth      virtual key → consumer (cached), 401 invalid_api_key; or the anonymous consumer
//             when auth is off
//   route     model → route (exact names, aliases, then wildcards), or the passthrough
//             provider; a split route also gets its group (A/B header, sticky, or canary)
//   admit     the consumer's tier: allowed models (403), priority cap, RPM and TPM (429
//             rate_limit_exceeded), budget (429 budget_exceeded); x-ratelimit-* headers; settles
//             tokens and cost from usage when the request ends
//   schedule  priority queue until one of the model's keys can take the request: a key whose
//             breaker lets it through, with a free concurrency permit, whose pacer allows it
//             now; the route's strategy picks among those, and the key is charged in the same
//             step. Then the attempt loop: each try is an Attempt sent through forward's
//             sendAttempt, which returns how it ended (delivered, held 429, failed before or
//             after the first byte, client gone); the loop settles the key's breaker, permit and
//             pacer, and sends again (the queue after a 429, another key after a failure the
//             client has not seen, within the retry budget), then the model's fallbacks.
//             Managed requests end here; only passthrough goes on
//   balance   picks the key of a passthrough request: the one that created the file, batch or
//             response it names, else round-robin over keys in service
//   forward   one upstream exchange, relayed as it arrives (the terminal stage for
//             passthrough, and sendAttempt for the schedule stage's attempts)
//
// Stages never import each other; each is a factory given its ports.

export interface PipelinePorts extends IngressPorts, ObservePorts, BalancePorts {
  readonly scheduler: Scheduler
  readonly auth: AuthPorts
  readonly admit: AdmitPorts
  /** Shared state (`state:`): with Redis, pins of files, batches and responses are shared too. */
  readonly shared?: SharedState | null
}

export function createPipeline(ports: PipelinePorts): (ctx: RequestContext) => Promise<void> {
  return compose([observe(ports), ingress(ports), auth(ports.auth), route(Math.random, ports.pins), admit(ports.admit), schedule(ports.scheduler, createSendAttempt(ports.pins)), balance(ports), forward()])
}

/** Runs stages in order; each may call next() once to hand on to the one after it, and a second call rejects. */
export function compose(stages: readonly Stage[]): (ctx: RequestContext) => Promise<void> {
  return function run(ctx) {
    let reached = -1
    const step = (i: number): Promise<void> => {
      // hono's rule: a stage that calls next() twice would run everything after it twice.
      if (i <= reached) return Promise.reject(new Error(`stage ${i - 1} called next() more than once`))
      reached = i
      const stage = stages[i]
      if (!stage) return Promise.resolve()
      return stage(ctx, () => step(i + 1))
    }
    return step(0)
  }
}
