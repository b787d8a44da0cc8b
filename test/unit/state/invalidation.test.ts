import { describe, expect, it } from 'vitest'
import { parseInvalidation } from '../../../src/state/invalidation.js'

describe('parseInvalidation', () => {
  it('reads a message, and ignores anything that is not one without throwing', () => {
    expect(parseInvalidation('{"kind":"consumer-disabled","id":"c1","from":"i1"}')).toEqual({ kind: 'consumer-disabled', id: 'c1', from: 'i1' })
    for (const text of ['', 'not json', 'null', '[]', '{"kind":"drop-tables","id":"x","from":"y"}', '{"kind":"tier-changed","id":3,"from":"y"}', '{"kind":"tier-changed","id":"t"}']) {
      expect(parseInvalidation(text)).toBeNull()
    }
  })
})
