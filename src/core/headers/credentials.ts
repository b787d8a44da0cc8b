/** Request headers that carry a credential in any dialect: never forwarded from a client. */
export const credentialHeaders: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'api-key',
  'x-api-key',
  'cookie',
  'openai-organization',
  'openai-project',
])
