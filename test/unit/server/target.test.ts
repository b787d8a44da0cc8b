import { describe, expect, it } from 'vitest'
import { SluiceError } from '../../../src/errors.js'
import { classifyTarget, type Target } from '../../../src/server/target.js'

describe('classifyTarget: accepted targets', () => {
  const cases: { url: string; target: Target }[] = [
    { url: '/v1/chat/completions', target: { kind: 'endpoint', endpoint: 'chat', below: '/chat/completions' } },
    { url: '/v1/completions', target: { kind: 'endpoint', endpoint: 'completions', below: '/completions' } },
    { url: '/v1/embeddings', target: { kind: 'endpoint', endpoint: 'embeddings', below: '/embeddings' } },
    { url: '/v1/messages', target: { kind: 'endpoint', endpoint: 'messages', below: '/messages' } },
    { url: '/v1/chat/completions?stream=true', target: { kind: 'endpoint', endpoint: 'chat', below: '/chat/completions?stream=true' } },
    { url: '/v1/messages?beta=true', target: { kind: 'endpoint', endpoint: 'messages', below: '/messages?beta=true' } },
    { url: '/v1/embeddings?', target: { kind: 'endpoint', endpoint: 'embeddings', below: '/embeddings?' } },
    { url: '/v1/models', target: { kind: 'models' } },
    { url: '/v1/models?limit=5', target: { kind: 'models' } },
    { url: '/v1/models/gpt-4o', target: { kind: 'model', id: 'gpt-4o', below: '/models/gpt-4o' } },
    { url: '/v1/models/meta/llama-3.1-8b-instruct', target: { kind: 'model', id: 'meta/llama-3.1-8b-instruct', below: '/models/meta/llama-3.1-8b-instruct' } },
    { url: '/v1/models/my%20model?x=1', target: { kind: 'model', id: 'my model', below: '/models/my%20model?x=1' } },
    { url: '/v1/files/abc?x=1', target: { kind: 'passthrough', below: '/files/abc?x=1' } },
    { url: '/v1/files', target: { kind: 'passthrough', below: '/files' } },
    { url: '/v1/audio/speech', target: { kind: 'passthrough', below: '/audio/speech' } },
    { url: '/v1/chat/completions/abc', target: { kind: 'passthrough', below: '/chat/completions/abc' } },
    // Three dots are a name, not a dot segment.
    { url: '/v1/files/...', target: { kind: 'passthrough', below: '/files/...' } },
    { url: '/v1/files/a..b', target: { kind: 'passthrough', below: '/files/a..b' } },
    // Only the path is checked for traversal; the query goes upstream as it is.
    { url: '/v1/files?after=../x', target: { kind: 'passthrough', below: '/files?after=../x' } },
    { url: '/health', target: { kind: 'health' } },
    { url: '/health/ready', target: { kind: 'ready' } },
    { url: '/status', target: { kind: 'status' } },
    { url: '/metrics', target: { kind: 'metrics' } },
    { url: '/metrics?name=x', target: { kind: 'metrics' } },
    { url: '/other', target: { kind: 'unknown', path: '/other' } },
    { url: '/', target: { kind: 'unknown', path: '/' } },
    { url: '/v1', target: { kind: 'unknown', path: '/v1' } },
    { url: '/v2/chat/completions?x=1', target: { kind: 'unknown', path: '/v2/chat/completions' } },
    // A managed route spelt another way is that route, never passthrough.
    { url: '/v1/Chat/Completions', target: { kind: 'endpoint', endpoint: 'chat', below: '/chat/completions' } },
    { url: '/v1/CHAT/COMPLETIONS?x=1', target: { kind: 'endpoint', endpoint: 'chat', below: '/chat/completions?x=1' } },
    { url: '/v1/chat/completions/', target: { kind: 'endpoint', endpoint: 'chat', below: '/chat/completions' } },
    { url: '/v1/Embeddings/?a=b', target: { kind: 'endpoint', endpoint: 'embeddings', below: '/embeddings?a=b' } },
    { url: '/v1/%63hat/completions', target: { kind: 'endpoint', endpoint: 'chat', below: '/chat/completions' } },
    { url: '/v1/Messages', target: { kind: 'endpoint', endpoint: 'messages', below: '/messages' } },
    { url: '/v1/completions/', target: { kind: 'endpoint', endpoint: 'completions', below: '/completions' } },
    { url: '/v1/Models', target: { kind: 'models' } },
    { url: '/v1/models/', target: { kind: 'models' } },
    { url: '/v1/Models/GPT-4o', target: { kind: 'model', id: 'GPT-4o', below: '/models/GPT-4o' } },
    { url: '/v1/models/gpt-4o/', target: { kind: 'model', id: 'gpt-4o', below: '/models/gpt-4o/' } },
    // A single "%" encoded once is a name.
    { url: '/v1/files/100%25', target: { kind: 'passthrough', below: '/files/100%25' } },
    { url: '/v1/files/caf%C3%A9', target: { kind: 'passthrough', below: '/files/caf%C3%A9' } },
  ]
  for (const c of cases) {
    it(`${c.url} → ${c.target.kind}`, () => {
      expect(classifyTarget(c.url)).toEqual(c.target)
    })
  }
})

describe('classifyTarget: refused targets', () => {
  const refused = [
    'http://evil.com/v1/x',
    'https://api.openai.com/v1/chat/completions',
    '//evil.com/v1',
    'evil.com:443',
    '*',
    '',
    '/v1/../admin',
    '/v1/..;/admin',
    '/v1/.;jsessionid=1/files',
    '/v1/files#fragment',
    '/v1/..',
    '/v1/%2e%2e/admin',
    '/v1/%2E%2e/x',
    '/v1/.%2e/x',
    '/v1/files%2f..%2fx',
    '/v1/files%2Fx',
    '/v1/a\\b',
    '/v1/a%5cb',
    '/v1/a%00b',
    '/v1//x',
    '/v1/x//',
    '/v1/./x',
    '/v1/.',
    '/v1/models/%E0%A4%A',
    '/v1/models/%zz',
    '/v1/models/../../admin',
    // Double-encoded dots and separators, and deeper nesting.
    '/v1/%252e%252e/admin',
    '/v1/files/%252E%252E',
    '/v1/files/%252fx',
    '/v1/files/%255cx',
    '/v1/files/%25252e%25252e/x',
    // Overlong UTF-8 for "." and "/", and other bytes that are not UTF-8.
    '/v1/%c0%ae%c0%ae/admin',
    '/v1/files/%c0%af',
    '/v1/files/%e0%80%ae',
    '/v1/files/%ff',
    // Malformed percent-encoding.
    '/v1/files/%',
    '/v1/files/%2',
    '/v1/files/%g0',
    '/v1/Chat/Completions/%',
  ]
  for (const url of refused) {
    it(`refuses ${JSON.stringify(url)} with invalid_path`, () => {
      let thrown: unknown
      try {
        classifyTarget(url)
      } catch (err) {
        thrown = err
      }
      expect(thrown).toBeInstanceOf(SluiceError)
      expect((thrown as SluiceError).code).toBe('invalid_path')
      expect((thrown as SluiceError).status).toBe(400)
    })
  }

  // Names inherited from Object.prototype must not match a route table entry.
  for (const url of ['__proto__', 'constructor', 'toString']) {
    it(`refuses ${JSON.stringify(url)} with invalid_path`, () => {
      expect(() => classifyTarget(url)).toThrow(SluiceError)
    })
  }
})
