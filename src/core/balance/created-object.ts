// Objects an upstream account keeps (files, batches, stored responses) are named by id; the
// key that created one is the only key that can read it. Recognising ids is shared by the
// stage that pins passthrough objects and the one that pins managed responses.

/** The created object's id, near the start of the answer (`{"id": "file-abc", "object": "file" …`, or a stream's response.created event). */
const createdId = /"id"\s*:\s*"([A-Za-z0-9_-]{1,200})"/

/** The id at the head of a created object's answer. */
export function createdObjectId(head: Buffer): string | null {
  const m = createdId.exec(head.subarray(0, 4096).toString('latin1'))
  return m ? (m[1] as string) : null
}

/** /responses/{id}, …/cancel, …/input_items (paths below /v1): the stored response they name. */
const responsePath = /^\/responses\/([A-Za-z0-9_-]{1,200})(?:\/(?:cancel|input_items))?(?:\?|$)/

export function responseObjectId(pathBelowV1: string): string | null {
  const m = responsePath.exec(pathBelowV1)
  return m ? (m[1] as string) : null
}
