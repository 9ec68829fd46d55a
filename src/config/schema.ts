/**
 * The JSON Schema of `toolexec.config.json`. It is checked with our own validator
 * (`src/schema`) so that every mistake comes back as a path into the file; the MCP backend's
 * parser then checks what a schema cannot say (a server needs a command or a URL, not both).
 */
import type { JsonSchema } from '../model/json.js';

/** Names of the limits a config may set; the executor's limits of the same names. */
export const CONFIG_LIMIT_KEYS = [
  'timeoutMs',
  'memoryMb',
  'cpuMs',
  'maxToolCalls',
  'maxConcurrentToolCalls',
  'maxOutputBytes',
  'maxArgsBytes',
  'maxScriptBytes',
] as const;

/** Runtime names a config may choose. */
export const CONFIG_RUNTIMES = ['quickjs', 'isolated-vm', 'docker'] as const;

/** Top-level keys of the config file. */
export const CONFIG_KEYS = ['$schema', 'mcpServers', 'tools', 'runtime', 'limits', 'toolTimeoutMs', 'expose', 'allow', 'deny', 'serve', 'docker', 'egress', 'approve', 'approveDestructive', 'approvalTimeoutMs', 'store'] as const;

/**
 * Keys of the `docker` section: the Docker runtime's engines (each entry is checked by the
 * runtime's own `engineProblems`, which names the entry and the fix) and the few runtime options
 * a deployment sets. Pool sizes (`minIdle`, `maxWorkers`) are per engine.
 */
export const CONFIG_DOCKER_KEYS = ['engines', 'image', 'runtime', 'minIdle', 'maxWorkers', 'memoryMb', 'cpus', 'connectTimeoutMs', 'healthIntervalMs'] as const;

/** Kinds of execution store a config may choose (see `src/store/`). */
export const CONFIG_STORE_KINDS = ['sqlite', 'redis', 'memory'] as const;

/**
 * Keys of the `store` section: where durable executions live. `kind` (default `sqlite` for the CLI
 * and `toolexec serve`), `path` (sqlite: the file; default under the user's data directory), `url`
 * and `keyPrefix` (redis), and the bounds every store takes.
 */
export const CONFIG_STORE_KEYS = ['kind', 'path', 'url', 'keyPrefix', 'executionTtlMs', 'maxJournalBytes', 'leaseMs', 'requireDurability'] as const;

/**
 * Keys of the `serve` section of `toolexec serve`: admission control and session caps (their
 * defaults and meaning live with the server, `src/server/admission.ts` and `src/server/http.ts`),
 * and `descriptionBudget`, the most characters of `execute_code`'s description (the tool
 * declarations in it degrade step by step to fit; see `declarationsWithinBudget`).
 */
export const CONFIG_SERVE_KEYS = [
  'maxConcurrentExecutions',
  'maxQueuedExecutions',
  'maxExecutionsPerSession',
  'maxSessions',
  'maxSessionsPerClient',
  'sessionIdleMs',
  'unusedSessionIdleMs',
  'maxResultBytes',
  'descriptionBudget',
] as const;

/** Smallest `serve.descriptionBudget`: below this the fixed part of the description alone does not fit. */
export const MIN_DESCRIPTION_BUDGET = 2_000;

// Letters, digits, `_ - . +`, the `:` separator and the `*` wildcard: anything else can never
// match a tool ID, so it is a typo worth reporting.
const PATTERN = '^[A-Za-z0-9_.+:*-]+$';

const stringMap: JsonSchema = { type: 'object', additionalProperties: { type: 'string' } };
const patternList: JsonSchema = { type: 'array', items: { type: 'string', minLength: 1, pattern: PATTERN } };

const server: JsonSchema = {
  type: 'object',
  // Unknown keys are reported by the MCP parser, with a suggestion for typos and a pass for the
  // keys other clients add (`autoApprove`, `alwaysAllow`, ...): a shared file must load.
  properties: {
    command: { type: 'string', minLength: 1 },
    args: { type: 'array', items: { type: 'string' } },
    env: stringMap,
    envFile: { type: 'string', minLength: 1 },
    // Checked by the MCP parser, whose message says what the three forms mean.
    inheritEnv: {},
    cwd: { type: 'string', minLength: 1 },
    url: { type: 'string', minLength: 1 },
    headers: stringMap,
    type: { type: 'string' },
    transport: { type: 'string' },
    disabled: { type: 'boolean' },
    timeout: { type: 'number', exclusiveMinimum: 0 },
    timeoutMs: { type: 'number', exclusiveMinimum: 0 },
  },
};

/** The schema itself (draft 2020-12). */
export const CONFIG_SCHEMA: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    mcpServers: { type: 'object', additionalProperties: server },
    tools: { type: 'array', items: { type: 'string', minLength: 1 } },
    runtime: { enum: [...CONFIG_RUNTIMES] },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(CONFIG_LIMIT_KEYS.map((k) => [k, { type: 'integer', minimum: 1 }])),
    },
    toolTimeoutMs: { type: 'integer', minimum: 1 },
    expose: patternList,
    allow: patternList,
    deny: patternList,
    docker: {
      type: 'object',
      additionalProperties: false,
      properties: {
        // Entries are checked by the runtime's own engineProblems (names, did-you-mean, files).
        engines: { type: 'array' },
        image: { type: 'string', minLength: 1 },
        runtime: { enum: ['runc', 'runsc'] },
        minIdle: { type: 'integer', minimum: 0 },
        maxWorkers: { type: 'integer', minimum: 1 },
        memoryMb: { type: 'integer', minimum: 1 },
        cpus: { type: 'number', exclusiveMinimum: 0 },
        connectTimeoutMs: { type: 'integer', minimum: 1 },
        healthIntervalMs: { type: 'integer', minimum: 1 },
      },
    },
    // Checked by the executor's own policy check, whose messages name each key and the fix.
    egress: { type: 'object' },
    serve: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(CONFIG_SERVE_KEYS.map((k) => [k, { type: 'integer', minimum: k === 'descriptionBudget' ? MIN_DESCRIPTION_BUDGET : 1 }])),
    },
    approve: patternList,
    approveDestructive: { type: 'boolean' },
    approvalTimeoutMs: { type: 'integer', minimum: 1 },
    store: {
      type: 'object',
      additionalProperties: false,
      properties: {
        kind: { enum: [...CONFIG_STORE_KINDS] },
        path: { type: 'string', minLength: 1 },
        url: { type: 'string', pattern: '^rediss?://' },
        keyPrefix: { type: 'string', maxLength: 128 },
        executionTtlMs: { type: 'integer', minimum: 1 },
        maxJournalBytes: { type: 'integer', minimum: 1024 },
        leaseMs: { type: 'integer', minimum: 1000 },
        requireDurability: { enum: ['process', 'fsync'] },
      },
    },
  },
};
