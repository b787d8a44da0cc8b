import { z } from 'zod'
import type { KeyConfigInput, ScriptedFault, SimulatorConfigInput } from '../types.js'

// Strict objects everywhere: a typo such as `tmp:` must fail loudly, not silently leave a key unlimited.

const probability = z.number().min(0).max(1)
const nonNegativeInt = z.number().int().min(0)
const positiveInt = z.number().int().positive()
const errorStatus = z.number().int().min(400).max(599)

const keySchema: z.ZodType<KeyConfigInput> = z.strictObject({
  id: z.string().min(1).optional(),
  rpm: positiveInt.nullable().optional(),
  tpm: positiveInt.nullable().optional(),
  algorithm: z.enum(['token-bucket', 'fixed-window', 'sliding-log']).optional(),
  max_concurrent: nonNegativeInt.nullable().optional(),
  headers: z.enum(['openai', 'azure', 'anthropic', 'none']).optional(),
  retry_after: z.boolean().optional(),
  revoked: z.boolean().optional(),
  quota_exhausted: z.boolean().optional(),
  error_rate: probability.optional(),
})

export const simulatorConfigSchema: z.ZodType<SimulatorConfigInput> = z.strictObject({
  latency: z.strictObject({
    ttft_ms: z.number().min(0).optional(),
    tokens_per_second: z.number().min(0).optional(),
  }).optional(),
  completion_tokens: positiveInt.optional(),
  chunk_split_utf8: z.boolean().optional(),
  keys: z.record(z.string().min(1), keySchema.nullable()).optional(),
  accept_unknown_keys: z.boolean().optional(),
  models: z.array(z.string().min(1)).optional(),
  faults: z.strictObject({
    error_rate: probability.optional(),
    error_status: errorStatus.optional(),
    reset_before_headers_rate: probability.optional(),
    reset_mid_stream_rate: probability.optional(),
    stall_rate: probability.optional(),
    stall_ms: z.number().min(0).optional(),
    garbage_rate: probability.optional(),
  }).optional(),
  seed: z.number().int().optional(),
  server: z.strictObject({
    healthy: z.boolean().optional(),
    capacity: positiveInt.optional(),
    kv_cache_usage: probability.nullable().optional(),
    num_requests_waiting: nonNegativeInt.nullable().optional(),
  }).optional(),
})

const match = z.strictObject({
  model: z.string().optional(),
  key: z.string().optional(),
  path: z.string().optional(),
}).optional()

export const scriptSchema: z.ZodType<ScriptedFault[]> = z.array(z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('error'),
    status: errorStatus,
    body: z.unknown().optional(),
    headers: z.record(z.string(), z.string()).optional(),
    match,
  }),
  z.strictObject({ kind: z.literal('reset_before_headers'), match }),
  z.strictObject({ kind: z.literal('reset_mid_stream'), after_chunks: nonNegativeInt, match }),
  z.strictObject({ kind: z.literal('stall_before_headers'), ms: z.number().min(0), match }),
  z.strictObject({ kind: z.literal('stall_mid_stream'), after_chunks: nonNegativeInt, ms: z.number().min(0), match }),
  z.strictObject({ kind: z.literal('garbage'), match }),
  z.strictObject({ kind: z.literal('slow_chunks'), interval_ms: z.number().min(0), chunks: nonNegativeInt, match }),
  z.strictObject({ kind: z.literal('echo_key_in_error'), status: errorStatus, match }),
  z.strictObject({ kind: z.literal('echo_key_in_answer'), split: z.boolean().optional(), match }),
]))
