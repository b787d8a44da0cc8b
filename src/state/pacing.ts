// A key's pace shared by every instance (issue 15, "pacer"): one GCRA schedule (the theoretical
// arrival time, TAT) per dimension — requests and tokens — so N instances together send at the
// key's rate instead of N times it, and a pause one instance learned from a 429 holds all.
//
// Each instance's pacer (src/core/pacer/) still learns the rate and still paces its own
// dispatches; the caller passes the interval that rate gives, so the shared schedule advances at
// the pace the instances have learned. What is not shared (yet): the controller itself — L̂, the
// retreat and recovery — which each instance runs on its own 429s and successes.

export interface PaceGrant {
  readonly granted: boolean
  /** ms until a request of this cost may go (0 when granted). */
  readonly waitMs: number
}

export interface SharedPacing {
  /**
   * Takes one request of `tokens` tokens on `keyId` if both schedules allow it now: requests one
   * every `requestIntervalMs`, tokens one every `tokenIntervalMs` (0: that dimension is not
   * limited). Refused: nothing is charged, and waitMs says when it would be allowed.
   */
  take(keyId: string, requestIntervalMs: number, tokenIntervalMs: number, tokens: number): Promise<PaceGrant>
  /** Gives back what a granted take charged (the request was not sent after all); never moves a schedule into the past. */
  refund(keyId: string, requestIntervalMs: number, tokenIntervalMs: number, tokens: number): Promise<void>
  /** Nothing goes on `keyId` for `ms` from now (an upstream 429's Retry-After), on any instance. */
  pause(keyId: string, ms: number): Promise<void>
}
