import type { KeyPolicy } from '../config/compile.js'
import { rateLimited, type Problem } from '../dialects/problem.js'
import type { Admission, RefusalKind } from './key-limits.js'

/** The 429 for a refused admission, worded as OpenAI words its limits ("… on requests per min (RPM): Limit 3, Used 3, Requested 1 …"). */
export function refusalProblem(kind: RefusalKind, admission: Admission, policy: KeyPolicy, model: string, tokenCost: number): Problem {
  const wait = `${(admission.retryAfterMs / 1000).toFixed(3).replace(/\.?0+$/, '')}s`
  if (kind === 'concurrent') {
    return rateLimited(kind, `Too many concurrent requests for ${model}: limit ${policy.maxConcurrent ?? 0} in flight. Please try again shortly.`)
  }
  const state = kind === 'rpm' ? admission.requests : admission.tokens
  const limit = state?.limit ?? 0
  const used = limit - (state?.remaining ?? 0)
  const dimension = kind === 'rpm' ? 'requests per min (RPM)' : 'tokens per min (TPM)'
  const requested = kind === 'rpm' ? 1 : tokenCost
  return rateLimited(kind, `Rate limit reached for ${kind === 'rpm' ? 'requests' : 'tokens'} on ${model} in organization org-sim on ${dimension}: Limit ${limit}, Used ${used}, Requested ${requested}. Please try again in ${wait}.`)
}
