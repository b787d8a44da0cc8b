import { invalidRequest, Problem } from '../dialects/problem.js'
import { DEFAULT_EMBEDDING_DIMENSIONS, embeddingBase64, embeddingVector } from '../generate/embedding.js'
import { estimateTokens } from '../generate/prompt.js'
import { readModel } from './fields.js'
import type { EndpointParser } from './types.js'

const MAX_DIMENSIONS = 4096

/** POST /v1/embeddings and Azure's deployments/{d}/embeddings: deterministic unit vectors. */
export const parseEmbeddings: EndpointParser = (body, route) => {
  const model = route.deployment ?? readModel(body)
  if (model instanceof Problem) return model
  const inputs = readInputs(body.input)
  if (inputs instanceof Problem) return inputs
  const dimensions = body.dimensions ?? DEFAULT_EMBEDDING_DIMENSIONS
  if (typeof dimensions !== 'number' || !Number.isInteger(dimensions) || dimensions < 1 || dimensions > MAX_DIMENSIONS) {
    return invalidRequest(`Invalid 'dimensions': expected an integer from 1 to ${MAX_DIMENSIONS}.`, 'dimensions')
  }
  const base64 = body.encoding_format === 'base64'
  const promptTokens = inputs.reduce((sum, input) => sum + estimateTokens(input), 0)
  return {
    model,
    stream: false,
    tokenCost: promptTokens,
    completionTokens: 0,
    seed: 0,
    render: (meta) => JSON.stringify({
      object: 'list',
      data: inputs.map((input, index) => {
        const vector = embeddingVector(input, dimensions)
        return { object: 'embedding', index, embedding: base64 ? embeddingBase64(vector) : vector }
      }),
      model: meta.model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    }),
    encoder: () => null,
  }
}

/** A string, an array of strings, or token arrays (hashed by their JSON text). */
function readInputs(input: unknown): string[] | Problem {
  if (typeof input === 'string' && input !== '') return [input]
  if (Array.isArray(input) && input.length > 0) {
    if (input.every((i) => typeof i === 'number')) return [JSON.stringify(input)]
    return input.map((i) => (typeof i === 'string' ? i : JSON.stringify(i)))
  }
  return invalidRequest("'input' must be a non-empty string or array", 'input')
}
