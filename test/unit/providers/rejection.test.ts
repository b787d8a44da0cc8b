import { describe, expect, it } from 'vitest'
import { classifyRejection } from '../../../src/providers/rejection.js'

// Bodies as the providers send them (OpenAI, Azure, Anthropic, and servers that say nothing).
const cases: Array<{ name: string; status: number; body: unknown; blame: 'key' | 'request' }> = [
  { name: 'OpenAI: incorrect API key', status: 401, body: { error: { message: 'Incorrect API key provided: sk-proj-****abcd. You can find your API key at https://platform.openai.com/account/api-keys.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }, blame: 'key' },
  { name: 'OpenAI: key revoked/deactivated', status: 401, body: { error: { message: 'The API key has been deactivated.', type: 'invalid_request_error', code: 'account_deactivated', param: null } }, blame: 'key' },
  { name: 'OpenAI: no key sent (x-api-key to /chat/completions)', status: 401, body: { error: { message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth.", type: 'invalid_request_error', param: null, code: null } }, blame: 'request' },
  { name: 'OpenAI: 403 project has no access to the model', status: 403, body: { error: { message: 'Project `proj_abc` does not have access to model `gpt-4.5-preview`', type: 'invalid_request_error', param: null, code: 'model_not_found' } }, blame: 'request' },
  { name: 'OpenAI: 404-style model_not_found as a 403 without the phrase', status: 403, body: { error: { message: 'nope', type: 'invalid_request_error', param: 'model', code: 'model_not_found' } }, blame: 'request' },
  { name: 'OpenAI: not allowed to sample from this model', status: 403, body: { error: { message: 'You are not allowed to sample from this model', type: 'invalid_request_error', param: null, code: null } }, blame: 'request' },
  { name: 'OpenAI: 403 unsupported region (the key, as far as sluice can act)', status: 403, body: { error: { message: 'Country, region, or territory not supported', type: 'request_forbidden', param: null, code: 'unsupported_country_region_territory' } }, blame: 'key' },
  { name: 'Azure: access denied due to invalid subscription key', status: 401, body: { error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.' } }, blame: 'key' },
  { name: 'Azure: api-key header missing', status: 401, body: { error: { code: '401', message: 'Access denied due to missing subscription key. The api-key header is missing.' } }, blame: 'request' },
  { name: 'Anthropic: invalid x-api-key', status: 401, body: { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }, blame: 'key' },
  { name: 'Anthropic: x-api-key header is required (Bearer sent instead)', status: 401, body: { type: 'error', error: { type: 'authentication_error', message: 'x-api-key header is required' } }, blame: 'request' },
  { name: 'Anthropic: 403 permission_error on a resource', status: 403, body: { type: 'error', error: { type: 'permission_error', message: 'Your API key does not have permission to use the specified resource.' } }, blame: 'request' },
  { name: 'a bare 401 with no body', status: 401, body: null, blame: 'key' },
  { name: 'a 401 with an HTML page', status: 401, body: '<html>Unauthorized</html>', blame: 'key' },
  { name: 'a proxy 407', status: 407, body: null, blame: 'key' },
]

describe('classifyRejection: a 401/403 is the key\'s fault only when the key itself is refused', () => {
  for (const c of cases) {
    it(`${c.name} → ${c.blame}`, () => {
      const verdict = classifyRejection(c.status, c.body)
      expect(verdict.blame).toBe(c.blame)
      expect(verdict.reason).not.toMatch(/sk-|proj_/)
    })
  }
})
