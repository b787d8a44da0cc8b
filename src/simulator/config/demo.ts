import type { SimulatorConfigInput } from '../types.js'

/**
 * The demo's upstream: modest limits of every kind so a first `sluice start` shows pacing,
 * concurrency learning and a header-less provider without anyone owning an API key.
 */
export const demoSimulatorConfig: SimulatorConfigInput = deepFreeze({
  latency: { ttft_ms: 120, tokens_per_second: 80 },
  completion_tokens: 24,
  accept_unknown_keys: true,
  keys: {
    'sk-sim-demo-1': { id: 'demo-1', rpm: 60, tpm: 40_000, max_concurrent: 4, headers: 'openai' },
    'sk-sim-demo-2': { id: 'demo-2', rpm: 30, tpm: 20_000, max_concurrent: 2, algorithm: 'sliding-log', headers: 'openai' },
    'sk-sim-demo-3': { id: 'demo-3', rpm: 20, algorithm: 'fixed-window', headers: 'none', retry_after: false },
    'sk-ant-sim-demo': { id: 'demo-anthropic', rpm: 50, tpm: 30_000, max_concurrent: 3, headers: 'anthropic' },
  },
  faults: { error_rate: 0.01, error_status: 503 },
})

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner)
    Object.freeze(value)
  }
  return value
}
