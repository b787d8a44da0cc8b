import type { Router } from './router.js'

// The admin API described from the route table itself, so the document cannot drift from the
// routes: every registered route appears, with its role, parameters and body schema.

const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { message: { type: 'string' }, type: { type: 'string' }, code: { type: 'string' }, param: { type: ['string', 'null'] } },
      required: ['message', 'type', 'code'],
    },
  },
  required: ['error'],
}

export function openApiDocument(router: Router, version: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const route of router.routes) {
    // OpenAPI has no rest parameter: {id+} is written {id} (its value may hold slashes).
    const path = route.path.replace(/\{(\w+)\+\}/g, '{$1}')
    const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string)
    const parameters = [
      ...names.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      ...Object.entries(route.spec.query ?? {}).map(([name, description]) => ({ name, in: 'query', required: false, description, schema: { type: 'string' } })),
    ]
    const operation: Record<string, unknown> = {
      summary: route.spec.summary,
      description: route.spec.role === 'admin' ? 'Needs an admin key (admin.keys).' : 'Any admin key, read-only ones included.',
      'x-sluice-role': route.spec.role,
      parameters,
      responses: {
        '200': { description: 'OK', content: { 'application/json': {} } },
        default: { description: 'An error, in the OpenAI shape', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
    }
    if (route.spec.body !== undefined) operation.requestBody = { required: true, content: { 'application/json': { schema: route.spec.body } } }
    ;(paths[path] ??= {})[route.method.toLowerCase()] = operation
  }
  return {
    openapi: '3.1.0',
    info: { title: 'sluice admin API', version },
    security: [{ adminKey: [] }],
    components: { securitySchemes: { adminKey: { type: 'http', scheme: 'bearer' } }, schemas: { Error: errorSchema } },
    paths,
  }
}
