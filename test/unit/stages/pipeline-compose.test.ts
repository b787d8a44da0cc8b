import { describe, expect, it } from 'vitest'
import type { RequestContext, Stage } from '../../../src/context.js'
import { compose } from '../../../src/pipeline.js'

describe('compose', () => {
  it('runs stages in order, each handing on with next()', async () => {
    const seen: string[] = []
    const stage = (name: string): Stage => async (_ctx, next) => {
      seen.push(name)
      await next()
      seen.push(`/${name}`)
    }
    await compose([stage('a'), stage('b')])({} as RequestContext)
    expect(seen).toEqual(['a', 'b', '/b', '/a'])
  })

  it('a second next() from one stage rejects instead of running the rest twice', async () => {
    let tail = 0
    const twice: Stage = async (_ctx, next) => {
      await next()
      await next()
    }
    const last: Stage = async () => {
      tail++
    }
    await expect(compose([twice, last])({} as RequestContext)).rejects.toThrow(/more than once/)
    expect(tail).toBe(1)
  })
})
