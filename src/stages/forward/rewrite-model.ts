// Replacing the model name by re-serialising the whole parsed body costs as much as parsing it
// did, and conversation bodies run to hundreds of kilobytes. The top-level "model" value is
// instead found in the raw bytes and swapped; anything unexpected falls back to JSON.stringify.

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COLON = 0x3a

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

/** Index just past the string that starts at `start` (a quote), or -1. */
function endOfString(body: Buffer, start: number): number {
  for (let i = start + 1; i < body.length; i++) {
    const c = body[i]
    if (c === BACKSLASH) i++
    else if (c === QUOTE) return i + 1
  }
  return -1
}

function hasEscape(body: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (body[i] === BACKSLASH) return true
  return false
}

/**
 * [start, end) of the top-level "model" value in a JSON object, or null when there is none,
 * or more than one (JSON.parse keeps the last; the splice must change the one it keeps).
 */
export function findModelValue(body: Buffer): [number, number] | null {
  let depth = 0
  let expectKey = false
  let found: [number, number] | null = null
  for (let i = 0; i < body.length; i++) {
    const c = body[i]
    if (c === QUOTE) {
      const end = endOfString(body, i)
      if (end === -1) return null
      // A top-level key spelled with escapes ("mod\u0065l") could be another "model" that
      // JSON.parse would keep; such bodies are not spliced.
      if (depth === 1 && expectKey && hasEscape(body, i, end)) return null
      if (depth === 1 && expectKey && end - i === 7 && body.toString('latin1', i, end) === '"model"') {
        if (found !== null) return null
        let j = end
        while (isSpace(body[j])) j++
        if (body[j] !== COLON) return null
        j++
        while (isSpace(body[j])) j++
        if (body[j] !== QUOTE) return null
        const valueEnd = endOfString(body, j)
        if (valueEnd === -1) return null
        found = [j, valueEnd]
        i = valueEnd - 1
        expectKey = false
        continue
      }
      expectKey = false
      i = end - 1
    } else if (c === 0x7b /* { */) {
      depth++
      expectKey = true
    } else if (c === 0x5b /* [ */) {
      depth++
      expectKey = false
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--
      expectKey = false
    } else if (c === 0x2c /* , */) {
      // Depth 1 is only ever the root object (ingress accepts objects only), so after a comma
      // there the next string is a key.
      expectKey = depth === 1
    }
  }
  return found
}

/**
 * The body with its top-level model set to `toJson` (a JSON string literal, precomputed). The
 * raw value must be exactly `fromJson`, the canonical encoding of the name ingress parsed;
 * otherwise the whole object is serialised again.
 */
export function rewriteModel(body: Buffer, json: Record<string, unknown>, fromJson: string, toJson: string, to: string): Buffer {
  const span = findModelValue(body)
  if (span !== null && span[1] - span[0] === Buffer.byteLength(fromJson) && body.toString('utf8', span[0], span[1]) === fromJson) {
    return Buffer.concat([body.subarray(0, span[0]), Buffer.from(toJson), body.subarray(span[1])])
  }
  json.model = to
  return Buffer.from(JSON.stringify(json))
}
