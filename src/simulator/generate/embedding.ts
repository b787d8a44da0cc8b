import { mulberry32 } from '../faults/prng.js'
import { fnv1a } from './text.js'

export const DEFAULT_EMBEDDING_DIMENSIONS = 8

/** A unit-length vector that depends only on the input text and the dimension count. */
export function embeddingVector(input: string, dimensions: number): number[] {
  const next = mulberry32(fnv1a(input))
  const vector = new Array<number>(dimensions)
  let norm = 0
  for (let i = 0; i < dimensions; i++) {
    const v = next() * 2 - 1
    vector[i] = v
    norm += v * v
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0
  for (let i = 0; i < dimensions; i++) vector[i] = Math.fround((vector[i] ?? 0) * scale)
  return vector
}

/** OpenAI's `encoding_format: "base64"`: little-endian float32s. */
export function embeddingBase64(vector: readonly number[]): string {
  const buf = Buffer.alloc(vector.length * 4)
  vector.forEach((v, i) => buf.writeFloatLE(v, i * 4))
  return buf.toString('base64')
}
