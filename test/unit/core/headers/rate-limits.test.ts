import { describe, expect, test } from 'vitest'
import {
  parseGoDuration,
  parseRateLimitHeaders,
  parseResetValue,
  parseRetryAfter,
  type HeaderBag,
  type RateLimitSnapshot,
} from '../../../../src/core/headers/rate-limits.js'

/** 2024-03-19T16:42:00Z: Anthropic resets below are a few seconds after it. */
const now = Date.parse('2024-03-19T16:42:00Z')
const DAY_MS = 24 * 60 * 60 * 1000

describe('parseGoDuration (OpenAI x-ratelimit-reset-*)', () => {
  const cases: Array<[string, number | null]> = [
    ['6m0s', 360_000], ['1s', 1000], ['12ms', 12], ['2m59.56s', 179_560], ['1h2m3.5s', 3_723_500], ['0s', 0],
    ['1.5s', 1500], ['1m', 60_000], ['2h', 7_200_000], ['500µs', 0.5], ['250us', 0.25], ['1h0m0s', 3_600_000],
    ['', null], ['abc', null], ['5', null], ['-1s', null], ['1s6m', null], ['s', null], ['1.s', null], [' 1s', null],
  ]
  for (const [text, ms] of cases) test(`${JSON.stringify(text)} → ${ms}`, () => expect(parseGoDuration(text)).toBe(ms))
})

describe('parseResetValue', () => {
  const cases: Array<[string, string, number | null]> = [
    ['Azure integer seconds', '20', 20_000],
    ['float seconds', '0.5', 500],
    ['zero seconds', '0', 0],
    ['Go duration', '6m0s', 360_000],
    ['Go milliseconds', '12ms', 12],
    ['RFC 3339 with Z', '2024-03-19T16:42:48Z', 48_000],
    ['RFC 3339 with fractional seconds', '2024-03-19T16:42:48.250Z', 48_250],
    ['RFC 3339 with +01:00', '2024-03-19T17:42:48+01:00', 48_000],
    ['RFC 3339 with fractional seconds and offset', '2024-03-19T17:42:01.5+01:00', 1500],
    ['RFC 3339 in the past', '2024-03-19T16:41:00Z', 0],
    ['surrounding spaces', ' 20 ', 20_000],
    ['more than a day away', '2024-03-29T16:42:00Z', DAY_MS],
    ['Azure -1', '-1', null],
    ['garbage', 'soon', null],
    ['empty', '', null],
    ['a date without a time', '2024-03-19', null],
    ['exponent', '1e3', null],
  ]
  for (const [name, text, ms] of cases) test(`${name}: ${JSON.stringify(text)} → ${ms}`, () => expect(parseResetValue(text, now)).toBe(ms))
})

describe('parseRetryAfter', () => {
  const cases: Array<[string, HeaderBag, number | null]> = [
    ['none', {}, null],
    ['integer seconds', { 'retry-after': '20' }, 20_000],
    ['float seconds', { 'retry-after': '1.5' }, 1500],
    ['float milliseconds', { 'retry-after-ms': '1234.5' }, 1234.5],
    ['retry-after-ms preferred', { 'retry-after-ms': '250', 'retry-after': '1' }, 250],
    ['HTTP date', { 'retry-after': 'Tue, 19 Mar 2024 16:42:30 GMT' }, 30_000],
    ['RFC 850 date', { 'retry-after': 'Tuesday, 19-Mar-24 16:42:30 GMT' }, 30_000],
    ['HTTP date in the past', { 'retry-after': 'Tue, 19 Mar 2024 16:41:00 GMT' }, null],
    ['retry-after-ms -1 falls back', { 'retry-after-ms': '-1', 'retry-after': '2' }, 2000],
    ['retry-after-ms 0 falls back', { 'retry-after-ms': '0', 'retry-after': '2' }, 2000],
    ['retry-after-ms garbage falls back', { 'retry-after-ms': 'NaN', 'retry-after': '2' }, 2000],
    ['retry-after-ms 0 alone', { 'retry-after-ms': '0' }, null],
    ['retry-after 0', { 'retry-after': '0' }, null],
    ['retry-after -1', { 'retry-after': '-1' }, null],
    ['retry-after garbage', { 'retry-after': 'later' }, null],
    ['retry-after empty', { 'retry-after': '' }, null],
    ['clamped to a day', { 'retry-after': '999999999' }, DAY_MS],
    ['array: the first', { 'retry-after': ['3', '9'] }, 3000],
  ]
  for (const [name, headers, ms] of cases) test(`${name} → ${ms}`, () => expect(parseRetryAfter(headers, now)).toBe(ms))
})

describe('parseRateLimitHeaders', () => {
  const none = { requests: null, tokens: null, inputTokens: null, outputTokens: null, retryAfterMs: null }
  const cases: Array<{ name: string, headers: HeaderBag, snapshot: RateLimitSnapshot | null }> = [
    { name: 'no headers', headers: {}, snapshot: null },
    { name: 'unrelated headers', headers: { 'content-type': 'application/json', 'x-request-id': 'req-1' }, snapshot: null },
    {
      name: 'OpenAI',
      headers: {
        'x-ratelimit-limit-requests': '500', 'x-ratelimit-remaining-requests': '499', 'x-ratelimit-reset-requests': '120ms',
        'x-ratelimit-limit-tokens': '30000', 'x-ratelimit-remaining-tokens': '29000', 'x-ratelimit-reset-tokens': '2m59.56s',
      },
      snapshot: { ...none, requests: { limit: 500, remaining: 499, resetInMs: 120 }, tokens: { limit: 30_000, remaining: 29_000, resetInMs: 179_560 } },
    },
    {
      name: 'OpenAI 429 with retry-after-ms',
      headers: { 'x-ratelimit-limit-requests': '3', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '6m0s', 'retry-after-ms': '1500', 'retry-after': '2' },
      snapshot: { ...none, requests: { limit: 3, remaining: 0, resetInMs: 360_000 }, retryAfterMs: 1500 },
    },
    {
      name: 'Azure (remaining only, integer-second resets)',
      headers: { 'x-ratelimit-remaining-requests': '19', 'x-ratelimit-remaining-tokens': '1200', 'x-ratelimit-reset-tokens': '20' },
      snapshot: { ...none, requests: { limit: null, remaining: 19, resetInMs: null }, tokens: { limit: null, remaining: 1200, resetInMs: 20_000 } },
    },
    {
      name: 'Azure Responses API -1 / 0 values',
      headers: { 'x-ratelimit-limit-requests': '0', 'x-ratelimit-remaining-requests': '-1', 'x-ratelimit-limit-tokens': '-1', 'x-ratelimit-remaining-tokens': '0' },
      snapshot: { ...none, tokens: { limit: null, remaining: 0, resetInMs: null } },
    },
    {
      name: 'Anthropic, all four windows',
      headers: {
        'anthropic-ratelimit-requests-limit': '50', 'anthropic-ratelimit-requests-remaining': '49', 'anthropic-ratelimit-requests-reset': '2024-03-19T16:42:01Z',
        'anthropic-ratelimit-tokens-limit': '90000', 'anthropic-ratelimit-tokens-remaining': '85000', 'anthropic-ratelimit-tokens-reset': '2024-03-19T16:42:05Z',
        'anthropic-ratelimit-input-tokens-limit': '50000', 'anthropic-ratelimit-input-tokens-remaining': '48000', 'anthropic-ratelimit-input-tokens-reset': '2024-03-19T16:42:02.5Z',
        'anthropic-ratelimit-output-tokens-limit': '10000', 'anthropic-ratelimit-output-tokens-remaining': '0', 'anthropic-ratelimit-output-tokens-reset': '2024-03-19T17:42:48+01:00',
        'retry-after': '48',
      },
      snapshot: {
        requests: { limit: 50, remaining: 49, resetInMs: 1000 },
        tokens: { limit: 90_000, remaining: 85_000, resetInMs: 5000 },
        inputTokens: { limit: 50_000, remaining: 48_000, resetInMs: 2500 },
        outputTokens: { limit: 10_000, remaining: 0, resetInMs: 48_000 },
        retryAfterMs: 48_000,
      },
    },
    {
      name: 'both families: OpenAI wins for requests and tokens',
      headers: {
        'x-ratelimit-remaining-requests': '7', 'anthropic-ratelimit-requests-remaining': '40',
        'anthropic-ratelimit-tokens-remaining': '900', 'anthropic-ratelimit-input-tokens-remaining': '800',
      },
      snapshot: { ...none, requests: { limit: null, remaining: 7, resetInMs: null }, tokens: { limit: null, remaining: 900, resetInMs: null }, inputTokens: { limit: null, remaining: 800, resetInMs: null } },
    },
    {
      name: 'only retry-after',
      headers: { 'retry-after': '1' },
      snapshot: { ...none, retryAfterMs: 1000 },
    },
    {
      name: 'garbage everywhere',
      headers: { 'x-ratelimit-limit-requests': 'lots', 'x-ratelimit-remaining-tokens': 'NaN', 'x-ratelimit-reset-tokens': 'soon', 'retry-after': 'later', 'retry-after-ms': '-1' },
      snapshot: null,
    },
    {
      name: 'a count too large to be finite',
      headers: { 'x-ratelimit-remaining-tokens': '9'.repeat(400), 'x-ratelimit-reset-tokens': '1s' },
      snapshot: { ...none, tokens: { limit: null, remaining: null, resetInMs: 1000 } },
    },
    {
      name: 'one good field keeps the window',
      headers: { 'x-ratelimit-limit-requests': 'lots', 'x-ratelimit-remaining-requests': 'x', 'x-ratelimit-reset-requests': '1s' },
      snapshot: { ...none, requests: { limit: null, remaining: null, resetInMs: 1000 } },
    },
    {
      name: 'arrays: the first value',
      headers: { 'x-ratelimit-limit-requests': ['60', '120'], 'x-ratelimit-remaining-requests': ['0', '5'], 'retry-after-ms': ['100', '200'] },
      snapshot: { ...none, requests: { limit: 60, remaining: 0, resetInMs: null }, retryAfterMs: 100 },
    },
    {
      name: 'duplicates node joined with a comma: the first value',
      headers: { 'x-ratelimit-remaining-tokens': '1000, 2000', 'x-ratelimit-reset-tokens': '1s, 2s' },
      snapshot: { ...none, tokens: { limit: null, remaining: 1000, resetInMs: 1000 } },
    },
  ]
  for (const c of cases) test(c.name, () => expect(parseRateLimitHeaders(c.headers, now)).toEqual(c.snapshot))
})
