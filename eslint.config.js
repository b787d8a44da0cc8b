import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', performance: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly', fetch: 'readonly', queueMicrotask: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/ban-ts-comment': ['error', { 'ts-ignore': true, 'ts-nocheck': true, 'ts-expect-error': 'allow-with-description' }],
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/simulator/*', '**/simulator/**'], message: 'only main.ts, cli.ts and tests may use the simulator' }] }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', 'undici', 'pino', '**/stages/**', '**/server/**', '**/config/**'], message: 'core/ is pure: no I/O, no stages' }] }],
    },
  },
  {
    files: ['src/stages/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/server/**', '**/main.js', '**/simulator/**', '../balance/*', '../forward/*', '../ingress/*', '../observe/*', '../route/*', '../auth/*', '../admit/*', '../schedule/*'], message: 'stages import core, ports, errors and context only, never each other or adapters' }] },
      ],
    },
  },
  {
    // The dashboard's page runs in the browser and is bundled by esbuild (scripts/build-dashboard.js).
    files: ['src/dashboard/ui/**/*.ts'],
    languageOptions: { globals: { document: 'readonly', window: 'readonly', location: 'readonly', history: 'readonly', fetch: 'readonly', EventSource: 'readonly', MessageEvent: 'readonly', ResizeObserver: 'readonly', getComputedStyle: 'readonly', devicePixelRatio: 'readonly', addEventListener: 'readonly', removeEventListener: 'readonly', HTMLElement: 'readonly', HTMLInputElement: 'readonly', HTMLSelectElement: 'readonly', HTMLDivElement: 'readonly', Event: 'readonly', Response: 'readonly' } },
  },
  {
    files: ['src/cli.ts', 'src/main.ts', 'src/simulator/**', 'test/**', 'bench/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
)
