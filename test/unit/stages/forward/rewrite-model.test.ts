import { describe, expect, it } from 'vitest'
import { findModelValue, rewriteModel } from '../../../../src/stages/forward/rewrite-model.js'

function rewrite(text: string, to = 'upstream/model-1'): { out: unknown; spliced: boolean } {
  const body = Buffer.from(text)
  const json = JSON.parse(text) as Record<string, unknown>
  const from = json.model as string
  const out = rewriteModel(body, json, JSON.stringify(from), JSON.stringify(to), to)
  const spliced = findModelValue(body) !== null && out.toString().replace(JSON.stringify(to), JSON.stringify(from)) === text
  return { out: JSON.parse(out.toString()), spliced }
}

describe('rewriteModel', () => {
  const cases = [
    { name: 'model first', text: '{"model":"m","messages":[{"role":"user","content":"hi"}]}', spliced: true },
    { name: 'model last, after nested objects that have a "model" key', text: '{"messages":[{"role":"user","content":"x","model":"nested"}],"metadata":{"model":"deep"},"model":"m"}', spliced: true },
    { name: 'whitespace around the colon', text: '{ "stream" : true ,\n  "model" :\t"m" }', spliced: true },
    { name: 'a string value that looks like a key', text: '{"content":"\\"model\\":\\"fake\\"","model":"m"}', spliced: true },
    { name: 'a "model" value of another key', text: '{"name":"model","model":"m"}', spliced: true },
    { name: 'an escaped model name', text: '{"model":"\\u006d"}', spliced: false },
    { name: 'unicode model name', text: '{"model":"模型-é"}', spliced: true },
    { name: 'a duplicated model key (JSON.parse keeps the last)', text: '{"model":"m","messages":[],"model":"m"}', spliced: false },
    { name: 'a duplicated model key with different values', text: '{"model":"other","model":"m"}', spliced: false },
    { name: 'a duplicate spelled with an escape', text: '{"model":"m","messages":[],"mod\\u0065l":"m"}', spliced: false },
    { name: 'a first key spelled with an escape', text: '{"\\u006dodel":"x","model":"m"}', spliced: false },
    { name: 'escapes inside values are fine', text: '{"model":"m","note":"a\\"b\\\\"}', spliced: true },
  ]
  for (const c of cases) {
    it(`${c.name}: only the top-level model changes`, () => {
      const { out, spliced } = rewrite(c.text)
      const expected = JSON.parse(c.text) as Record<string, unknown>
      expected.model = 'upstream/model-1'
      expect(out).toEqual(expected)
      expect(spliced).toBe(c.spliced)
    })
  }

  it('finds nothing in a body without a top-level model', () => {
    expect(findModelValue(Buffer.from('{"messages":[{"model":"x"}]}'))).toBeNull()
  })
})
