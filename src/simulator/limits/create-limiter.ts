import type { Clock, LimitAlgorithm } from '../types.js'
import { FixedWindow } from './fixed-window.js'
import { SlidingLog } from './sliding-log.js'
import { TokenBucket } from './token-bucket.js'
import type { RateLimiter } from './types.js'

export function createLimiter(algorithm: LimitAlgorithm, limit: number, clock: Clock): RateLimiter {
  switch (algorithm) {
    case 'token-bucket': return new TokenBucket(limit, { clock })
    case 'fixed-window': return new FixedWindow(limit, { clock })
    case 'sliding-log': return new SlidingLog(limit, { clock })
  }
}
