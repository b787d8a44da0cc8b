import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { compile } from '../../../src/config/compile.js'
import { loadConfigFile } from '../../../src/config/load.js'
import { UpstreamPools } from '../../../src/config/pools.js'
import { parseSimulatorConfig } from '../../../src/simulator/index.js'
import { simulatorConfigSchema } from '../../../src/simulator/config/schema.js'
import { SluiceProcess } from '../../support/child.js'

// The README shows the example configs as they are, and they work as shipped: a block
// marked `<!-- file: NAME … -->` must equal that file, and each file must pass check-config
// and compile with placeholder secrets. The simulator's config is documented in the README
// field by field, and its example parses.

const run = promisify(execFile)
const root = resolve(import.meta.dirname, '../../..')
const cli = join(root, 'dist/cli.js')
const readme = readFileSync(join(root, 'README.md'), 'utf8')

/** Variables the shipped examples name, set to placeholders; everything else is unset. */
const placeholders: Record<string, Record<string, string>> = {
  'sluice.minimal.yaml': { OPENAI_API_KEY: 'sk-placeholder' },
  'sluice.example.yaml': { OPENAI_API_KEY: 'sk-placeholder', NVIDIA_KEY_1: 'nv-placeholder-1', NVIDIA_KEY_2: 'nv-placeholder-2', SLUICE_ADMIN_KEY: 'admin-placeholder-0123456789' },
}
const unset = { OPENAI_API_KEY: '', NVIDIA_KEY_1: '', NVIDIA_KEY_2: '', SLUICE_ADMIN_KEY: '', VLLM_API_KEY: '', SLUICE_CONFIG: '' }

function markedBlocks(): Map<string, string> {
  const blocks = new Map<string, string>()
  for (const m of readme.matchAll(/<!-- file: (\S+)[^>]*-->\n```yaml\n([\s\S]*?)```\n/g)) blocks.set(m[1]!, m[2]!)
  return blocks
}

describe('README configuration blocks', () => {
  const blocks = markedBlocks()

  it('show the minimal and the full example', () => {
    expect([...blocks.keys()].sort()).toEqual(['sluice.example.yaml', 'sluice.minimal.yaml'])
  })

  for (const name of Object.keys(placeholders)) {
    it(`the block marked ${name} is that file, byte for byte`, () => {
      expect(blocks.get(name)).toBe(readFileSync(join(root, name), 'utf8'))
    })

    it(`${name} passes check-config with only its own variables set, and compiles`, async () => {
      const env = { ...process.env, ...unset, ...placeholders[name] }
      const { stdout, stderr } = await run(process.execPath, [cli, 'check-config', join(root, name)], { env })
      expect(stderr).toBe('')
      expect(stdout).toMatch(/: ok \(/)
      const pools = new UpstreamPools()
      try {
        const runtime = compile(loadConfigFile(join(root, name), env), { generation: 1, source: name, pools })
        expect(runtime.models.size).toBeGreaterThan(0)
      } finally {
        await pools.close()
      }
    })
  }

  it('sluice.minimal.yaml needs one secret and names one provider with one key', () => {
    const cfg = loadConfigFile(join(root, 'sluice.minimal.yaml'), { OPENAI_API_KEY: 'sk-placeholder' })
    expect(Object.values(cfg.providers).map((p) => p.keys.length)).toEqual([1])
    expect(() => loadConfigFile(join(root, 'sluice.minimal.yaml'), {})).toThrow(/environment variable OPENAI_API_KEY is not set/)
  })

  it('sluice start runs sluice.minimal.yaml with one key set, and serves its model', async () => {
    const proc = SluiceProcess.start(['start', '--config', join(root, 'sluice.minimal.yaml'), '--port', '0', '--no-watch'], { env: { ...unset, ...placeholders['sluice.minimal.yaml'] } })
    try {
      const url = await proc.url()
      const models = (await (await request(`${url}/v1/models`)).body.json()) as { data: { id: string }[] }
      expect(models.data.map((m) => m.id)).toEqual(['gpt-4o-mini'])
    } finally {
      proc.kill('SIGTERM')
      expect((await proc.exited).code).toBe(0)
    }
  })
})

describe("README: the simulator's configuration", () => {
  const section = readme.slice(readme.indexOf('## The simulator'), readme.indexOf('\n## ', readme.indexOf('## The simulator') + 1))

  it('does not send the reader to the source', () => {
    expect(section).not.toMatch(/src\/simulator/)
  })

  it('its example parses', () => {
    const block = /<!-- simulator config[^>]*-->\n```yaml\n([\s\S]*?)```\n/.exec(section)?.[1]
    expect(block).toBeDefined()
    const config = parseSimulatorConfig(block!)
    expect(Object.keys(config.keys ?? {}).length).toBeGreaterThan(0)
  })

  it('describes every field the simulator accepts, and no other', () => {
    const documented = new Set<string>()
    for (const line of section.split('\n')) {
      const cell = /^\| (`[^|]+) \|/.exec(line)?.[1]
      if (cell === undefined || cell.startsWith('`field`')) continue
      const names = [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)
      const prefix = names[0]!.includes('.') ? names[0]!.slice(0, names[0]!.lastIndexOf('.') + 1) : ''
      names.forEach((n, i) => documented.add(i === 0 ? n : prefix + n))
    }
    expect([...documented].sort()).toEqual(schemaFields(z.toJSONSchema(simulatorConfigSchema) as JsonSchema).sort())
  })
})

interface JsonSchema {
  properties?: Record<string, JsonSchema>
  additionalProperties?: JsonSchema | boolean
  anyOf?: JsonSchema[]
}

/** Leaf and record fields as dotted paths; a record's entries appear as `<key>`. */
function schemaFields(node: JsonSchema, path = ''): string[] {
  const object = [node, ...(node.anyOf ?? [])].find((n) => n.properties !== undefined || typeof n.additionalProperties === 'object')
  if (object === undefined) return path ? [path] : []
  const fields: string[] = []
  for (const [name, child] of Object.entries(object.properties ?? {})) {
    const childPath = path ? `${path}.${name}` : name
    const nested = schemaFields(child, childPath)
    // A record (keys) is documented itself and through its entries.
    if (typeof [child, ...(child.anyOf ?? [])].find((n) => typeof n.additionalProperties === 'object')?.additionalProperties === 'object') fields.push(childPath)
    fields.push(...nested)
  }
  if (typeof object.additionalProperties === 'object') fields.push(...schemaFields(object.additionalProperties, `${path}.<key>`))
  return fields
}
