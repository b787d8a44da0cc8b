import type { ScriptedFault } from '../types.js'

/**
 * What the simulator does to one request, from a scripted step or a random draw. The same
 * shape as a scripted step, except that a random mid-stream reset happens after half the chunks.
 */
export type Fault =
  | Exclude<ScriptedFault, { kind: 'reset_mid_stream' }>
  | { kind: 'reset_mid_stream', after_chunks: number | 'half' }
