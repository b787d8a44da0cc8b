// Sends an oversized chat request `tries` times, one after the other, from its own process
// (a client in the gateway's own event loop never races the gateway's close, so it never sees
// what a real client sees), and prints one JSON line: what each try got.
//   node oversized-client.mjs <fetch|openai> <gateway url> <content bytes> <tries>
import OpenAI from 'openai'

const [client, url, size, tries] = process.argv.slice(2)
const content = 'x'.repeat(Number(size))
const results = []

for (let i = 0; i < Number(tries); i++) {
  if (client === 'fetch') {
    const body = JSON.stringify({ model: 'test-model', messages: [{ role: 'user', content }] })
    try {
      const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
      const json = await res.json()
      results.push({ status: res.status, code: json.error?.code ?? null, requestId: res.headers.get('x-request-id'), connection: res.headers.get('connection') })
    } catch (err) {
      results.push({ failure: String(err.cause?.code ?? err.cause ?? err) })
    }
  } else {
    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-client', maxRetries: 0 })
    try {
      await openai.chat.completions.create({ model: 'test-model', messages: [{ role: 'user', content }] })
      results.push({ status: 200 })
    } catch (err) {
      if (err instanceof OpenAI.APIError && err.status !== undefined) results.push({ status: err.status, code: err.code, requestId: err.headers?.get('x-request-id') ?? null })
      else results.push({ failure: String(err.cause?.code ?? err.cause ?? err) })
    }
  }
}
console.log(JSON.stringify(results))
