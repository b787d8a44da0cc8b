import { z } from 'zod'
import { budgetPeriods } from '../core/admit/budget.js'
import { defaultStrategy, strategyNames } from '../core/balance/index.js'
import { priorityNames } from '../core/queue/priority.js'
import { defaultKeyPrefix, keyPrefixPattern, parseRedisUrl } from '../state/settings.js'
import { defaultDatabaseUrl, referenceProblems } from './references.js'
import { durationPattern, parseDuration, parseSize, sizePattern } from './units.js'

// The one source of truth for sluice.yaml: validation, defaults, docs/config.md and the
// JSON Schema for editors are all generated from these definitions.

/** `zero` says what 0 does, for the fields where the code gives 0 a meaning of its own. */
const duration = (def: string, what: string, zero?: string) =>
  z
    .union([z.number().int().nonnegative(), z.string().regex(durationPattern, 'expected a duration such as 500ms, 30s, 2m or 7d')])
    .default(def)
    .transform(parseDuration)
    .describe(`${what} (milliseconds as a number, or a string such as 500ms, 30s, 2m${zero === undefined ? '' : `; ${zero}`}). Default ${def}.`)

const size = (def: string, what: string) =>
  z
    .union([z.number().int().positive(), z.string().regex(sizePattern, 'expected a size such as 512kb or 10mb')])
    .default(def)
    .transform(parseSize)
    .pipe(z.number().int().positive('a size must be at least 1 byte'))
    .describe(`${what} (bytes as a number, or a string such as 512kb, 10mb). Default ${def}.`)

const port = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]).pipe(z.number().int().min(0).max(65535))

const identifier = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, 'use letters, digits and . _ : - (at most 64 characters)')

export const ServerConfig = z
  .strictObject({
    host: z.string().default('127.0.0.1').describe('Address the data plane listens on. Default 127.0.0.1.'),
    port: port.default(4000).describe('Data-plane port. Default 4000.'),
    metrics_port: port.nullable().default(null).describe('Serve /metrics on this port too (on the same host). Default: only on the main port.'),
    body_limit: size('10mb', 'Largest request body accepted; larger bodies get 413 request_too_large'),
    drain_timeout: duration('30s', 'On SIGTERM, how long in-flight requests and streams may run before the process exits'),
    request_timeout: duration('60s', 'Longest time a client may take to send its request headers, and then again its body; a slower client gets 408 request_timeout. Answers are not limited by this', '0 takes the bound off bodies; headers are then still cut after 60 s'),
    keep_alive_timeout: duration('65s', 'Idle time after which a client keep-alive connection is closed', '0 never closes them'),
  })
  .describe('The HTTP server.')

export const Timeouts = z
  .strictObject({
    connect: duration('10s', 'Time to open a TCP/TLS connection to the upstream', '0 disables'),
    first_byte: duration('120s', 'Time from sending the request until the upstream response headers arrive', '0 disables'),
    idle: duration('60s', 'Longest silence between two chunks of an upstream response body', '0 disables'),
    total: duration('600s', 'Longest time for a whole upstream exchange, streams included', '0 disables'),
  })
  .describe('Upstream timeouts. A timeout before the response starts is 504 upstream_timeout; during a stream it ends the stream with an error event.')

// Header names and values are checked here because undici refuses bad ones only at dispatch
// time, which would turn a typo into a 502 on every request.
const headerName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a valid HTTP header name')
  .refine((name) => !reservedHeaders.has(name.toLowerCase()), { message: 'sluice sets this header itself (credentials come from `keys`)' })
// A client header a provider may receive as the client sent it. Never one that carries a
// credential, says where the request goes or how it is framed: sluice sets those itself.
const unforwardable = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'authorization', 'api-key', 'x-api-key', 'proxy-authorization', 'cookie', 'content-type', 'content-encoding', 'accept', 'accept-encoding', 'x-request-id', 'forwarded', 'x-forwarded-for', 'x-forwarded-host'])
const forwardableHeader = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a valid HTTP header name')
  .refine((name) => !unforwardable.has(name.toLowerCase()) && !name.toLowerCase().startsWith('x-sluice-'), { message: 'this header carries credentials, routing or framing; it is never forwarded' })
// What HTTP allows in a header value: tab, visible ASCII and space, obs-text bytes.
const headerValue = z.string().regex(/^[\t\x20-\x7e\x80-\xff]*$/, 'a header value may hold only tab, printable ASCII and Latin-1 characters (no line breaks, control characters or emoji)')
const reservedHeaders = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'authorization',
  'api-key',
  'x-api-key',
  'proxy-authorization',
  'content-type',
  'accept',
  'user-agent',
  'x-request-id',
  'anthropic-version',
  'anthropic-beta',
])

export const KeyConfig = z
  .strictObject({
    id: identifier.describe('Name of the key in logs, metrics and the admin API. The secret itself never appears anywhere.'),
    key: z
      .string({ error: (issue) => (issue.input === undefined ? 'the key is missing (add key: "${ENV_VAR}" holding the upstream credential)' : 'the key must be a string') })
      .trim() // a key read from a file or an environment variable often ends in a newline
      .min(1, 'the key is empty (is its ${VAR} set?)')
      .regex(/^[\x21-\x7e\x80-\xff]*$/, 'a key may hold only printable ASCII and Latin-1 characters (no whitespace; check for a character pasted from a web page)')
      .describe('The upstream credential; use ${ENV_VAR} to keep it out of the file.'),
    rpm: z.number().positive().nullable().default(null).describe(
      'Requests per minute this key may send: a ceiling sluice paces under (at 97 %, evenly spaced). null (the default) learns the limit from rate-limit headers and 429s.',
    ),
    tpm: z.number().positive().nullable().default(null).describe(
      'Tokens per minute this key may use (prompt estimate + max_tokens charged at dispatch, settled from usage). null (the default) paces tokens only once headers or token 429s reveal a limit.',
    ),
    max_concurrent: z.number().int().min(1).max(10_000).nullable().default(null).describe(
      'Most requests in flight on this key at once. null (the default) learns the limit from the upstream\'s concurrency 429s (starting at 8, between 1 and 200); a number is fixed and never changed. An admin may change the mode through the adaptive admin API; that choice wins until this value changes in the file.',
    ),
  })
  .describe('One upstream credential.')

export const HealthCheckConfig = z
  .strictObject({
    model: z.string().min(1).optional().describe('Upstream model a probe asks for one token from (a cheap one: meta/llama-3.1-8b-instruct, gpt-4o-mini). Probes go through the key\'s pacer, so they count against its rate.'),
    path: z.string().regex(/^\/[\x21-\x7e]*$/, 'expected a path such as /health or /v1/models').optional().describe(
      'For self-hosted servers (vLLM, Ollama): probe with GET on this path of the base URL\'s origin (/health, /v1/models) instead of a chat request. Used when model is not set.',
    ),
    interval: duration('30s', 'Time between two probes of a key that is out of service'),
    timeout: duration('10s', 'Longest a probe may take before it counts as failed'),
  })
  .describe('Active health probes for keys that are out of service (breaker open, or disabled after a 401/403). A closed key is never probed.')

export const FailoverConfig = z
  .strictObject({
    enabled: z.boolean().default(false).describe(
      'Active failover: probe keys that are out of service and restore them after success_threshold passes. Needs health_check.model (or health_check.path). Without it, the breakers still take failing keys out, and a key comes back through half-open trial requests. Default false.',
    ),
    failure_threshold: z.number().int().min(1).default(5).describe(
      'Consecutive failures (5xx, resets, timeouts, invalid answers) that take a key out while its window holds little traffic. With more traffic the run must also be as long as one a key failing at failure_rate would show by chance (about log(answers in the window) / log(1 / failure_rate)), so at volume the failure rate decides. Default 5.',
    ),
    success_threshold: z.number().int().min(1).default(2).describe('Consecutive successful trials or probes that bring a key back. Default 2.'),
    failure_rate: z.number().gt(0).max(1).default(0.3).describe('Take a key out when at least this share of its answers in `window` failed … Default 0.3.'),
    min_requests: z.number().int().min(1).default(20).describe('… once the window holds at least this many answers. Default 20.'),
    window: duration('5s', '… The window of answers the failure rate and the traffic are counted over'),
    max_ejection_percent: z.number().min(0).max(100).default(50).describe(
      'The most of a model\'s keys (in percent, rounded down) that failures counted here may have out at once — at least one key when above 0, never the last one. A key that would go past it stays in service, demoted: it takes a request only when no other key of the model can, for one open_for, and goes out once a sibling is back. 401/403 and refused connections are not capped. 0: failures never take a key out, they only demote it. Default 50.',
    ),
    open_for: duration('30s', 'How long a key stays out after it first fails; doubles each time it fails again right after coming back, with ±10 % jitter'),
    max_open_for: duration('300s', 'Longest a key stays out before a trial request is let through'),
  })
  .describe('Passive health per key (outlier detection with a circuit breaker) and active failover. 429s and client errors (4xx) never count as failures; 401/403 and a refused connection take the key out at once.')

export const ProviderConfig = z
  .strictObject({
    type: z.enum(['openai', 'azure', 'anthropic']).describe('Dialect: openai (OpenAI, NVIDIA NIM, DeepSeek, vLLM, Ollama, any OpenAI-compatible server), azure (Azure OpenAI) or anthropic.'),
    base_url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional().describe(
      'Upstream URL up to and including the version segment: https://api.openai.com/v1, https://integrate.api.nvidia.com/v1, http://127.0.0.1:8000/v1, https://api.anthropic.com/v1; for azure the resource URL https://NAME.openai.azure.com. Defaults to the official URL for openai and anthropic; required for azure.',
    ),
    api_version: z.string().regex(/^[A-Za-z0-9._-]+$/, 'expected a version such as 2024-10-21').optional().describe('azure: the api-version query parameter. Default 2024-10-21.'),
    anthropic_version: headerValue.min(1).optional().describe('anthropic: the anthropic-version header. Default 2023-06-01.'),
    keys: z.array(KeyConfig).min(1, 'a provider needs at least one key').describe("Upstream credentials. A model's requests go to the key its `strategy` picks (p2c by default) among those that can take them now; passthrough requests rotate round-robin over the keys in service."),
    headers: z.record(headerName, headerValue).default({}).describe('Extra static headers sent upstream with every request (for example OpenAI-Organization).'),
    forward_headers: z.array(forwardableHeader).default([]).describe(
      'Client request headers forwarded to this provider as the client sent them, on top of the dialect\'s own list (openai and azure: OpenAI-Organization, OpenAI-Project, OpenAI-Beta; anthropic: anthropic-beta, and anthropic-version, which then replaces anthropic_version). Headers carrying credentials, routing or framing are refused.',
    ),
    default_max_tokens: z.number().int().min(1).max(1_000_000).default(4096).describe(
      'anthropic: max_tokens for an OpenAI-style request that gave neither max_tokens nor max_completion_tokens (Anthropic requires one). Default 4096.',
    ),
    timeouts: Timeouts.prefault({}),
    limit_scope: z.enum(['key', 'key-model']).default('key').describe(
      'Whether the upstream counts a key\'s limits over all models (key, the default) or separately per model (key-model, as OpenAI does): one pacer per key, or per key and upstream model.',
    ),
    max_connections: z.number().int().positive().default(256).describe('Most open connections to this provider\'s origin. Default 256.'),
    stream_usage: z.boolean().default(true).describe(
      'Ask every stream for its token usage (stream_options.include_usage) so budgets and the usage ledger count streams; the extra chunk is removed for clients that did not ask for it. Turn off for an OpenAI-compatible server that refuses stream_options. Default true.',
    ),
    health_check: HealthCheckConfig.nullable().default(null),
    failover: FailoverConfig.prefault({}),
  })
  .describe('An upstream API.')

export const TargetConfig = z
  .strictObject({
    provider: identifier.describe('A provider id from `providers`.'),
    model: z.string().min(1).optional().describe('Model name sent upstream; defaults to the name the client sent (for a wildcard route, the name that matched).'),
    weight: z.number().min(0).default(1).describe('Share of this target\'s keys under the weighted, random, p2c and hash strategies (each key of the provider gets this weight). Default 1.'),
    group: identifier.optional().describe('The split group this target belongs to (see `split`).'),
  })
  .describe('Where a model route sends its requests.')

const modelName = z.string().min(1).max(256)

export const ModelConfig = z
  .strictObject({
    targets: z.array(TargetConfig).min(1, 'a model needs at least one target').describe('Upstream providers and model names that serve this model.'),
    owned_by: z.string().default('sluice').describe('Shown in /v1/models. Default sluice.'),
    strategy: z.enum(strategyNames).default(defaultStrategy).describe(
      'How a request picks among the keys that can take it now: round-robin, weighted (smooth weighted round-robin), least-busy (in-flight ÷ limit), p2c (two random choices, the less busy wins), latency (peak-EWMA time to first token × (in-flight + 1)), random (by weight), hash (rendezvous hashing on X-Session-ID, else the caller, else the client IP, with bounded load 1.25 × mean), metrics (a vLLM server\'s /metrics: waiting requests and KV-cache use). Default p2c.',
    ),
    fallbacks: z.array(modelName).default([]).describe('Models to try, in order, when every key of this one failed or is out of service. Only this model\'s own list is followed.'),
    aliases: z.array(modelName).default([]).describe('Other names clients may use for this model.'),
    split: z.record(identifier, z.number().positive()).nullable().default(null).describe(
      'Weights between target groups (every target names its `group`), e.g. {stable: 90, canary: 10}: each request is sent to one group, at random by weight, and the response says which in x-sluice-group.',
    ),
    ab_test: z
      .strictObject({
        header: headerName.default('X-Test-Group').describe('Request header naming the group. Default X-Test-Group.'),
      })
      .nullable()
      .default(null)
      .describe('Makes `split` an A/B test: the header picks the group; without it a caller gets a group by weight that stays the same for its X-Session-ID (else its credential, else its address).'),
  })
  .describe('A model clients can ask for by name.')

export const PassthroughConfig = z
  .strictObject({
    provider: identifier.describe('Provider that receives requests for unmanaged models and unknown /v1 paths, forwarded unchanged except for credentials.'),
  })
  .describe('Forward what sluice does not manage to one provider instead of answering 404.')

const maxWait = (def: string, priority: string) => duration(def, `Longest time a ${priority} request waits in the queue before 503 queue_timeout`)

export const QueueConfig = z
  .strictObject({
    max_size: z.number().int().positive().default(1000).describe('Most requests waiting per model (a request a key can take at once is sent, never counted). Default 1000.'),
    per_consumer: z.number().int().positive().default(50).describe('Most requests one consumer (until consumers exist: one client API key or IP) may have waiting per model. Default 50.'),
    when_full: z.enum(['reject', 'passthrough', 'shed-lowest']).default('shed-lowest').describe(
      'When the queue is full: reject the arrival (503 queue_full); passthrough (skip the queue, still wait for the pacer); shed-lowest (evict the newest request of the lowest waiting priority if the arrival outranks it, else reject the arrival). Default shed-lowest.',
    ),
    max_wait: z
      .strictObject({
        urgent: maxWait('10s', 'urgent'),
        high: maxWait('30s', 'high'),
        normal: maxWait('60s', 'normal'),
        low: maxWait('120s', 'low'),
      })
      .prefault({})
      .describe('Longest wait in the queue, per priority. A client may shorten it with X-Sluice-Max-Wait: <seconds>.'),
    keepalive: duration('0', 'While a streaming request waits, send an SSE comment line this often so proxies keep the connection', '0 sends none'),
  })
  .describe('The priority queue in front of each model: requests wait there until a key has capacity.')

export const RetryConfig = z
  .strictObject({
    max: z.number().int().min(0).max(10).default(2).describe('Retries of one request on another key after a connection error, a reset before the answer began, a 5xx, an upstream 401/403 or a malformed answer — never once the client has received a byte, and not after a timeout (the request already waited that long). Default 2.'),
    budget: z.number().min(0).max(1).default(0.2).describe('Requests retrying at the same time may be at most this share of the requests in flight … Default 0.2. (The breakers, not the budget, stop a key that fails every request from seeing every request.)'),
    min_budget: z.number().int().min(0).default(3).describe('… or this many, whichever is more. Default 3.'),
    panic_mode: z.boolean().default(false).describe('When every key of a model is out of service, send to the one that comes back soonest instead of answering 503 no_capacity. Default false.'),
  })
  .describe('Retries on another key, and what to do when no key is healthy.')

export const PacingConfig = z
  .strictObject({
    output_reserve: z.number().int().nonnegative().default(1024).describe('Output tokens charged at dispatch when a request sets no max_tokens; settled from usage afterwards. Default 1024.'),
  })
  .describe('Pacing of upstream keys.')

const adminKey = z.string().trim().min(16, 'an admin key needs at least 16 characters').regex(/^[\x21-\x7e]+$/, 'an admin key may hold only printable ASCII without spaces')

export const AdminConfig = z
  .strictObject({
    keys: z
      .array(adminKey)
      .default([])
      .describe('Keys accepted as `Authorization: Bearer <key>` on /api/admin/* with the admin role (everything); use ${ENV_VAR}. With none, the admin API refuses every request. Admin keys never work on the data plane.'),
    read_only_keys: z.array(adminKey).default([]).describe('Keys with the read-only role: every GET of the admin API, nothing that changes state.'),
    session_ttl: duration('12h', 'How long a dashboard login lasts: the admin key is exchanged for a session cookie that expires after this').refine((ms) => ms >= 1_000, 'a session must last at least 1s'),
  })
  .describe('The admin API and the dashboard (/dashboard), which logs in with an admin key.')

const priorityName = z.enum(priorityNames)

export const TierConfig = z
  .strictObject({
    rpm: z.number().positive().nullable().default(null).describe('Requests per minute a consumer of this tier may send (all at once, then evenly). null: no limit.'),
    tpm: z.number().positive().nullable().default(null).describe('Tokens per minute (prompt estimate + max_tokens charged at admission, settled from usage). null: no limit.'),
    budget_usd: z.number().nonnegative().nullable().default(null).describe('Spend allowed per budget_period, in USD, priced with `pricing`. null: no budget.'),
    budget_period: z.enum(budgetPeriods).default('month').describe('day, week (from Monday), month or total; UTC. Default month.'),
    models: z.array(z.string().min(1)).default(['*']).describe('Models this tier may use; * matches any run of characters. Default ["*"].'),
    priority: z
      .strictObject({
        default: priorityName.default('normal').describe('Priority when the request sends no X-Priority. Default normal.'),
        max: priorityName.default('urgent').describe('Highest priority a request may ask for; higher ones are lowered to it. Default urgent.'),
      })
      .prefault({}),
    weight: z.number().positive().default(1).describe('Fairness weight in the queue: a consumer with weight 2 gets twice the tokens of one with weight 1 when both wait. Default 1.'),
  })
  .describe('What consumers of one tier may do. A consumer may override any field.')

export const PriceConfig = z
  .strictObject({
    input: z.number().nonnegative().describe('USD per million prompt tokens.'),
    output: z.number().nonnegative().describe('USD per million completion tokens.'),
  })
  .describe('The price of one model.')

export const UsageConfig = z
  .strictObject({
    retention: duration('90d', 'How long usage records are kept; older ones are deleted at start and every hour', '0 keeps them for ever'),
    buffer: z.number().int().min(100).default(10_000).describe('Usage records held in memory while the database catches up; beyond it records are dropped and counted (sluice_usage_records_dropped_total). Default 10000.'),
  })
  .describe('The usage ledger: one record per request, written in batches off the request path.')

export const CorsConfig = z
  .strictObject({
    origins: z
      .array(z.union([z.literal('*'), z.string().regex(/^https?:\/\/[^/\s]+$/, 'expected an origin such as https://app.example.com (scheme and host, no path)')]))
      .default([])
      .describe('Browser origins allowed to call the data plane (e.g. https://app.example.com), or ["*"] for any. Empty (the default): no CORS headers at all.'),
    credentials: z.boolean().default(false).describe('Send Access-Control-Allow-Credentials: true. Not allowed with "*": sluice never reflects an arbitrary origin with credentials.'),
    max_age: duration('10m', 'How long a browser may cache a preflight answer'),
  })
  .describe('Cross-origin requests from browsers. Off by default.')

const databaseUrl = z
  .string()
  .regex(/^(sqlite:(?!\/\/).+|postgres(ql)?:\/\/.+)$/, 'expected sqlite:<path> (sqlite:./data/sluice.db, sqlite:/var/lib/sluice.db), sqlite::memory: or postgres://user@host:port/database')
  .default(defaultDatabaseUrl)
  .describe(
    'Where sluice keeps what must survive a restart: consumers and their virtual keys, the usage ledger, and learned concurrency limits with their history. sqlite:<path> (relative to the working directory; WAL mode), sqlite::memory:, or postgres://user:password@host:5432/database (add ?schema=NAME to use a schema other than public). Read at start only. Default sqlite:./data/sluice.db.',
  )

const redisUrl = z
  .string()
  .regex(/^rediss?:\/\/.+/, 'expected redis://host:6379/0 (or rediss:// for TLS)')
  .superRefine((url, ctx) => {
    try {
      parseRedisUrl(url)
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message })
    }
  })

export const RedisStateConfig = z
  .strictObject({
    url: redisUrl.describe('redis://[user:password@]host:6379/0, or rediss://… for TLS.'),
    password: z.string().min(1).nullable().default(null).describe('The Redis password (usually "${REDIS_PASSWORD}"); wins over one in the URL. Never logged.'),
    key_prefix: z
      .string()
      .regex(keyPrefixPattern, 'use 1 to 64 letters, digits and : . _ - (no braces: they would change the hash slots)')
      .default(defaultKeyPrefix)
      .describe(`Prepended to every Redis key and channel, so several gateways can share one Redis. Default ${defaultKeyPrefix}.`),
    // Not `duration`: 0 cannot mean "no timeout" here, as a request must never hang on Redis.
    timeout: z
      .union([z.number().int().positive(), z.string().regex(durationPattern, 'expected a duration such as 250ms or 1s')])
      .default('250ms')
      .transform(parseDuration)
      .pipe(z.number().int().min(10, 'at least 10ms').max(10_000, 'at most 10s: a request must never wait long on Redis'))
      .describe('Longest wait for one Redis call (milliseconds, or a string such as 250ms); past it the call fails and the instance falls back to its share of each limit. 10ms to 10s. Default 250ms.'),
  })
  .describe('Shared state on Redis, with its options.')

const stateSetting = z
  .union([z.literal('memory'), redisUrl, RedisStateConfig])
  .default('memory')
  .describe(
    'Where limits live while sluice runs (pacers, permits, breakers, consumer rates, pins). memory (the default): in this process, for one instance. redis://host:6379/0 (or rediss://, or an object with url, password, key_prefix, timeout): instances then count the RPM, TPM and budget of each consumer together, apply admin changes to consumers and keys on all of them within a second, list each other (GET /api/admin/cluster), and share their permits of upstream keys (as leases), breakers, probe leader and pins through it. While Redis cannot be reached each instance keeps to its share of every consumer limit (limit ÷ live instances) and /health/ready says degraded: "state". Redis needs a shared database (postgres://…): instances must see the same consumers, keys and learned limits. Read at start only.',
  )

export const LogConfig = z
  .strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level. Default info.'),
    access_log: z.boolean().default(true).describe('Write one JSON line per request. Default true.'),
  })
  .describe('Logging (JSON lines on stdout).')

export const SluiceConfig = z
  .strictObject({
    server: ServerConfig.prefault({}),
    log: LogConfig.prefault({}),
    providers: z.record(identifier, ProviderConfig).describe('Upstream APIs by id.'),
    models: z.record(modelName, ModelConfig).default({}).describe('Model routes by the name clients send. A name with * (llama-*) matches any run of characters; exact names and aliases win over patterns, and earlier patterns over later ones.'),
    passthrough: PassthroughConfig.nullable().default(null),
    queue: QueueConfig.prefault({}),
    pacing: PacingConfig.prefault({}),
    retries: RetryConfig.prefault({}),
    state: stateSetting,
    database: databaseUrl,
    admin: AdminConfig.prefault({}),
    auth: z.enum(['required', 'off']).nullable().default(null).describe(
      'required: every data-plane request needs a virtual key (Authorization: Bearer sk-sluice-…, or x-api-key on /v1/messages). off: every caller is one anonymous consumer. Unset (the default): required as soon as any consumer exists in the database, off until then.',
    ),
    tiers: z.record(identifier, TierConfig).default({}).describe('Consumer tiers by name.'),
    pricing: z.record(z.string().min(1), PriceConfig).default({}).describe('Prices per model (the upstream model name, or the name clients send), for budgets and the usage ledger.'),
    usage: UsageConfig.prefault({}),
    cors: CorsConfig.prefault({}),
  })
  .superRefine((cfg, ctx) => {
    for (const problem of referenceProblems(cfg)) ctx.addIssue({ code: 'custom', ...problem })
  })
  .describe('sluice configuration (sluice.yaml).')

/** What `sluice keys …` reads from sluice.yaml; every other section is ignored, valid or not. */
export const KeysCommandConfig = z.object({
  database: databaseUrl,
  tiers: z.record(identifier, TierConfig).default({}),
  // Read so that a revoke reaches the running instances at once (their invalidation channel).
  state: stateSetting,
})

export { wildcardPattern } from './references.js'

export type SluiceConfigInput = z.input<typeof SluiceConfig>
export type SluiceConfigParsed = z.output<typeof SluiceConfig>
export type ProviderConfigParsed = z.output<typeof ProviderConfig>
export type ModelConfigParsed = z.output<typeof ModelConfig>
export type TierConfigParsed = z.output<typeof TierConfig>
export type KeysCommandConfigParsed = z.output<typeof KeysCommandConfig>

export function configJsonSchema(): unknown {
  return z.toJSONSchema(SluiceConfig, { io: 'input', unrepresentable: 'any' })
}
