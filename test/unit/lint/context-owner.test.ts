import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

// The rule in eslint.config.js that keeps each request-context field written by its owner only.

const eslint = new ESLint({ cwd: process.cwd() })
const source = (body: string): string => `import type { RequestContext } from '../../context.js'\nexport function f(ctx: RequestContext, w: { ctx: RequestContext }): void {\n${body}\n}\n`

async function ownerErrors(file: string, body: string): Promise<string[]> {
  const [result] = await eslint.lintText(source(body), { filePath: file })
  return (result?.messages ?? []).filter((m) => m.ruleId === 'sluice/context-owner').map((m) => m.message)
}

describe('lint: sluice/context-owner', () => {
  it('refuses writes to a field from a module that does not own it', async () => {
    expect(await ownerErrors('src/stages/admit/probe.ts', 'ctx.route = null\nw.ctx.queuedMs++\nctx.current = null')).toEqual([
      'ctx.route is written only by src/stages/route/',
      'ctx.queuedMs is written only by src/stages/schedule/',
      'ctx.current is written only by src/stages/schedule/, src/stages/forward/',
    ])
  })

  it('lets the owner write, and anyone read', async () => {
    expect(await ownerErrors('src/stages/route/probe.ts', 'ctx.route = null\nctx.group = null')).toEqual([])
    expect(await ownerErrors('src/stages/schedule/probe.ts', 'w.ctx.queuedMs += 1\nctx.fallback = null')).toEqual([])
    expect(await ownerErrors('src/stages/admit/probe.ts', 'const r = ctx.route\nvoid r')).toEqual([])
  })
})
