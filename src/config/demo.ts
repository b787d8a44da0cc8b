import type { SluiceConfigInput } from './schema.js'

/**
 * The configuration `sluice start` runs when there is no sluice.yaml: every dialect, served
 * by the built-in simulator, so a new user sees the whole gateway work before owning a key.
 */
export function demoConfig(simulatorUrl: string): SluiceConfigInput {
  return {
    server: { host: '127.0.0.1', port: 4000 },
    // The demo listens on loopback only: every caller is the one anonymous consumer.
    auth: 'off',
    providers: {
      'sim-openai': {
        type: 'openai',
        base_url: `${simulatorUrl}/v1`,
        keys: [
          { id: 'demo-1', key: 'sk-sim-demo-1' },
          { id: 'demo-2', key: 'sk-sim-demo-2' },
        ],
      },
      'sim-anthropic': {
        type: 'anthropic',
        base_url: `${simulatorUrl}/v1`,
        keys: [{ id: 'demo-claude', key: 'sk-sim-demo-claude' }],
      },
    },
    models: {
      'demo-chat': { targets: [{ provider: 'sim-openai', model: 'sim-large' }] },
      'demo-embed': { targets: [{ provider: 'sim-openai', model: 'sim-embed' }] },
      'demo-claude': { targets: [{ provider: 'sim-anthropic', model: 'claude-sim' }] },
    },
    // No passthrough: the simulator answers any model name, so with one the demo would appear
    // to serve gpt-5 too. A name the demo does not list gets 404 model_not_found, as it would
    // from a real configuration.
  }
}
