import { modelNotFound } from '../dialects/problem.js'
import type { EndpointParser } from './types.js'

/** A fixed creation time: model objects should not change between two listings. */
const MODEL_CREATED = 1_700_000_000

const modelObject = (id: string): Record<string, unknown> => ({ id, object: 'model', created: MODEL_CREATED, owned_by: 'sluice-simulator' })

const noText = { stream: false, tokenCost: 0, completionTokens: 0, seed: 0, encoder: () => null } as const

/** GET /v1/models */
export const parseModelList: EndpointParser = (_body, _route, runtime) => ({
  ...noText,
  model: null,
  render: () => JSON.stringify({ object: 'list', data: runtime.models.map(modelObject) }),
})

/** GET /v1/models/{id}: 404 for a model the config does not list. */
export const parseModel: EndpointParser = (_body, route, runtime) => {
  const id = route.modelId ?? ''
  if (!runtime.models.includes(id)) return modelNotFound(id)
  return { ...noText, model: id, render: () => JSON.stringify(modelObject(id)) }
}
