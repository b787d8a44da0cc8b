import type { FaultRates } from '../config/compile.js'
import type { Fault } from './fault.js'

const RESET_BEFORE_HEADERS: Fault = Object.freeze({ kind: 'reset_before_headers' })
const RESET_MID_STREAM: Fault = Object.freeze({ kind: 'reset_mid_stream', after_chunks: 'half' })
const GARBAGE: Fault = Object.freeze({ kind: 'garbage' })

/**
 * Maps one uniform draw `u` in [0, 1) to at most one fault. The rates partition the unit interval
 * in a fixed order, so a request gets one fault at most and the same seed gives the same run.
 */
export function drawFault(rates: FaultRates, u: number): Fault | null {
  let edge = rates.errorRate
  if (u < edge) return { kind: 'error', status: rates.errorStatus }
  edge += rates.resetBeforeHeadersRate
  if (u < edge) return RESET_BEFORE_HEADERS
  edge += rates.resetMidStreamRate
  if (u < edge) return RESET_MID_STREAM
  edge += rates.stallRate
  if (u < edge) return { kind: 'stall_before_headers', ms: rates.stallMs }
  edge += rates.garbageRate
  if (u < edge) return GARBAGE
  return null
}
