import type { ScriptedFault } from '../types.js'

export interface MatchTarget {
  model: string | null
  key: string
  keyId: string
  path: string
}

/** Scripted one-shot behaviours, consumed FIFO: each by the first request that matches it. */
export class ScriptQueue {
  #steps: ScriptedFault[] = []

  push(steps: readonly ScriptedFault[]): void {
    this.#steps.push(...steps)
  }

  clear(): void {
    this.#steps = []
  }

  get size(): number {
    return this.#steps.length
  }

  take(target: MatchTarget): ScriptedFault | undefined {
    if (this.#steps.length === 0) return undefined
    const index = this.#steps.findIndex((s) => matches(s, target))
    if (index === -1) return undefined
    return this.#steps.splice(index, 1)[0]
  }
}

function matches(step: ScriptedFault, t: MatchTarget): boolean {
  const m = step.match
  if (m === undefined) return true
  if (m.model !== undefined && m.model !== t.model) return false
  // A test may name the key by its value or by its stats id.
  if (m.key !== undefined && m.key !== t.key && m.key !== t.keyId) return false
  if (m.path !== undefined && m.path !== t.path) return false
  return true
}
