import type { SharedBreakers } from '../../src/state/index.js'

/** `store` with some of its calls replaced: how a Redis that fails, or answers too late, would answer them. */
export function failingBreakers(store: SharedBreakers, over: Partial<SharedBreakers>): SharedBreakers {
  return {
    read: (...a) => store.read(...a),
    trip: (...a) => store.trip(...a),
    claimTrial: (...a) => store.claimTrial(...a),
    report: (...a) => store.report(...a),
    command: (...a) => store.command(...a),
    ...over,
  }
}
