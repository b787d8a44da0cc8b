// How a shared-state call fails, in one place. The request path never waits on Redis for long:
// a call that cannot be answered within the state timeout fails with StateUnavailableError, and
// the caller falls back to its per-instance share of the limit (issue 15, "Redis fails").

/** Redis could not answer in time: not connected, connection lost, or too slow. */
export class StateUnavailableError extends Error {
  override readonly name = 'StateUnavailableError'

  constructor(
    readonly reason: 'disconnected' | 'timeout' | 'closed',
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options)
  }
}

/** Redis answered with an error: a bug in a script or its arguments, never a reason to fall back silently. */
export class StateScriptError extends Error {
  override readonly name = 'StateScriptError'

  constructor(
    readonly script: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(`state script ${script}: ${message}`, options)
  }
}
