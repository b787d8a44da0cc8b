import js from '@eslint/js'
import tseslint from 'typescript-eslint'

// Each field of the request context is written by the stage that owns it; every other module
// only reads it. A write elsewhere is how flags used to leak from one attempt into the next.
const contextOwners = {
  refusal: ['src/server/', 'src/stages/ingress/'],
  body: ['src/stages/ingress/'],
  json: ['src/stages/ingress/'],
  model: ['src/stages/ingress/'],
  stream: ['src/stages/ingress/'],
  consumer: ['src/stages/auth/'],
  route: ['src/stages/route/'],
  passthrough: ['src/stages/route/'],
  group: ['src/stages/route/'],
  priority: ['src/stages/admit/', 'src/stages/schedule/'],
  fallback: ['src/stages/schedule/'],
  queuedMs: ['src/stages/schedule/'],
  current: ['src/stages/schedule/', 'src/stages/forward/'],
  passthroughKey: ['src/stages/balance/'],
  onCreated: ['src/stages/balance/', 'src/stages/forward/'],
  status: ['src/stages/forward/', 'src/stages/observe/', 'src/stages/schedule/'],
  outcome: ['src/stages/forward/', 'src/stages/observe/', 'src/stages/schedule/'],
  errorCode: ['src/stages/forward/', 'src/stages/observe/', 'src/stages/schedule/'],
}

/** `ctx.x = …` (or `this.ctx.x`, `w.ctx.x`) outside the owner of `x` is an error. */
const contextOwnerRule = {
  meta: { type: 'problem', schema: [] },
  create(context) {
    const file = context.filename.replaceAll('\\', '/')
    const isContext = (node) => (node.type === 'Identifier' && node.name === 'ctx') || (node.type === 'MemberExpression' && !node.computed && node.property.name === 'ctx')
    const check = (target) => {
      if (target.type !== 'MemberExpression' || target.computed || !isContext(target.object)) return
      const owners = contextOwners[target.property.name]
      if (owners === undefined || owners.some((o) => file.includes(o))) return
      context.report({ node: target, message: `ctx.${target.property.name} is written only by ${owners.join(', ')}` })
    }
    return {
      AssignmentExpression: (node) => check(node.left),
      UpdateExpression: (node) => check(node.argument),
    }
  },
}

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
    files: ['src/**/*.ts'],
    plugins: { sluice: { rules: { 'context-owner': contextOwnerRule } } },
    rules: { 'sluice/context-owner': 'error' },
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
