/**
 * The tools `toolexec serve` exposes, as MCP tool definitions (JSON Schema in, JSON Schema
 * out). Arguments are checked against these schemas with our validator before any handler
 * runs, so a handler can trust their shape.
 */
import type { JsonSchema } from '../model/json.js';
import { MAX_NAME_LENGTH, MAX_NAMESPACE_LENGTH, MAX_VERSION_LENGTH } from '../model/tool-id.js';
import { MAX_QUERY_CHARS } from '../index/query.js';

export const SERVER_TOOL_NAMES = ['search_tools', 'list_namespaces', 'describe_tool', 'run_tool', 'run_chain', 'execute_code', 'resume_execution', 'list_executions', 'get_execution'] as const;
/** The tools of durable executions: listed only by a server whose executions can suspend. */
export const DURABLE_TOOL_NAMES = ['resume_execution', 'list_executions', 'get_execution'] as const;
export type ServerToolName = (typeof SERVER_TOOL_NAMES)[number];

/** Longest script `execute_code` accepts (characters). */
export const MAX_SCRIPT_CHARS = 1_000_000;

/** Longest tool ID there can be (`namespace:name:version`): longer input is refused by the schema, before any lookup or did-you-mean search. */
export const MAX_TOOL_ID_CHARS = MAX_NAMESPACE_LENGTH + 1 + MAX_NAME_LENGTH + 1 + MAX_VERSION_LENGTH;
/** A search cursor is a short token; anything longer is not one of ours. */
const MAX_CURSOR_CHARS = 200;

const toolIdSchema: JsonSchema = { type: 'string', minLength: 1, maxLength: MAX_TOOL_ID_CHARS, description: 'A tool ID: `namespace:name` (or `namespace:name:version`, or a bare `name`).' };

const limitsSchema: JsonSchema = {
  type: 'object',
  description: 'Per-call limits; each is capped by the server\'s configuration.',
  additionalProperties: false,
  properties: {
    timeoutMs: { type: 'integer', minimum: 1, description: 'Wall-clock budget for the whole script, tool calls and any wait for a free sandbox included.' },
    memoryMb: { type: 'integer', minimum: 1, description: 'Heap limit for the sandbox.' },
    cpuMs: { type: 'integer', minimum: 1, description: 'CPU budget, where the runtime can measure it.' },
    maxToolCalls: { type: 'integer', minimum: 1, description: 'Most tool calls the script may make.' },
    maxConcurrentToolCalls: { type: 'integer', minimum: 1 },
    maxOutputBytes: { type: 'integer', minimum: 1, description: 'Most bytes of value plus logs.' },
    maxArgsBytes: { type: 'integer', minimum: 1 },
    maxScriptBytes: { type: 'integer', minimum: 1, description: 'Largest script, in UTF-8 bytes.' },
  },
};

const toolErrorSchema: JsonSchema = {
  type: 'object',
  properties: {
    code: { type: 'string' },
    message: { type: 'string' },
  },
  required: ['code', 'message'],
};

export interface ServerToolDefinition {
  name: ServerToolName;
  title: string;
  description: string;
  inputSchema: { type: 'object'; [k: string]: unknown };
  outputSchema?: { type: 'object'; [k: string]: unknown };
  annotations?: Record<string, unknown>;
}

/** The fixed part of `execute_code`'s description; the tool declarations are appended to it. */
export const EXECUTE_CODE_DESCRIPTION = [
  'Run a JavaScript (or TypeScript) script in a sandbox where every tool of this server is an async function:',
  '`await tools.<namespace>.<tool>(args)`, or `await run("namespace:tool", args)`; a failure throws an error with a `code`.',
  'Prefer one script over many single tool calls: intermediate results stay in the sandbox, and `Promise.all` runs calls concurrently.',
  '`console.log` output is captured. The result holds the value, the logs, a ledger of every tool call and stats.',
  'With `typecheck: true` the script is first checked against the declarations below: type errors come back as TYPE_ERROR',
  '(line, column, message each) before any tool runs.',
].join(' ');

const executionIdSchema: JsonSchema = { type: 'string', minLength: 1, maxLength: 64, description: 'The executionId a suspended execute_code result gave.' };

/** What `execute_code`'s description adds when executions can suspend. */
export const DURABLE_DESCRIPTION =
  'Some tool calls need the user\'s approval: such a call pauses the script, and the result has status "suspended", an executionId and the pending calls. ' +
  'You cannot approve them: ask the user, then call resume_execution, which continues the script where it stopped (never run it again).';

/** Builds the definitions; `executeDescription` is the full (generated) description of `execute_code`. */
export function serverToolDefinitions(executeDescription: string, options: { durable?: boolean } = {}): ServerToolDefinition[] {
  const all = allDefinitions(executeDescription);
  return options.durable ? all : all.filter((d) => !(DURABLE_TOOL_NAMES as readonly string[]).includes(d.name));
}

function allDefinitions(executeDescription: string): ServerToolDefinition[] {
  return [
    {
      name: 'search_tools',
      title: 'Search tools',
      description:
        'Full-text search over every tool reachable through this server (name, title, description, namespace, tags). ' +
        'An empty query lists all tools. Pages with `limit`; pass the returned `nextCursor` as `cursor` for the next page.',
      inputSchema: {
        type: 'object',
        additionalProperties: false,
        properties: {
          query: { type: 'string', maxLength: MAX_QUERY_CHARS, description: `Words to look for (at most ${MAX_QUERY_CHARS} characters); empty lists everything.`, default: '' },
          limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
          cursor: { type: 'string', maxLength: MAX_CURSOR_CHARS, description: 'nextCursor from a previous page of the same query.' },
          namespace: { type: 'string', maxLength: MAX_NAMESPACE_LENGTH, description: 'Only tools of this namespace.' },
        },
      },
      outputSchema: {
        type: 'object',
        properties: {
          items: {
            type: 'array',
            items: {
              type: 'object',
              properties: { id: { type: 'string' }, title: { type: 'string' }, description: { type: 'string' }, namespace: { type: 'string' }, score: { type: 'number' } },
              required: ['id'],
            },
          },
          total: { type: 'integer' },
          nextCursor: { type: 'string' },
        },
        required: ['items', 'total'],
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    {
      name: 'list_namespaces',
      title: 'List namespaces',
      description: 'The namespaces of the reachable tools (one per upstream MCP server or tool module namespace) with how many tools each has.',
      inputSchema: { type: 'object', additionalProperties: false, properties: {} },
      outputSchema: {
        type: 'object',
        properties: {
          namespaces: {
            type: 'array',
            items: { type: 'object', properties: { namespace: { type: 'string' }, count: { type: 'integer' } }, required: ['namespace', 'count'] },
          },
        },
        required: ['namespaces'],
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    {
      name: 'describe_tool',
      title: 'Describe a tool',
      description:
        'Details of one tool by ID (`namespace:name`). detail "summary": title, description, annotations; ' +
        '"schema": plus its input and output JSON Schemas; "full": plus the TypeScript signature scripts call it with.',
      inputSchema: {
        type: 'object',
        additionalProperties: false,
        properties: {
          toolId: toolIdSchema,
          detail: { enum: ['summary', 'schema', 'full'], default: 'schema' },
        },
        required: ['toolId'],
      },
      outputSchema: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          namespace: { type: 'string' },
          name: { type: 'string' },
          title: { type: 'string' },
          description: { type: 'string' },
          annotations: { type: 'object' },
          inputSchema: {},
          outputSchema: {},
          typescript: { type: 'string' },
        },
        required: ['id', 'name'],
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    {
      name: 'run_tool',
      title: 'Run a tool',
      description:
        'Run one tool by ID with JSON arguments (checked against its input schema). Returns the tool\'s content; ' +
        'the structured value is in structuredContent.structured. A failure is an error result whose text starts with its code.',
      inputSchema: {
        type: 'object',
        additionalProperties: false,
        properties: {
          toolId: toolIdSchema,
          args: { type: 'object', description: 'Arguments for the tool.', default: {} },
          timeoutMs: { type: 'integer', minimum: 1 },
        },
        required: ['toolId'],
      },
      annotations: { openWorldHint: true },
    },
    {
      name: 'run_chain',
      title: 'Run a chain of tools',
      description:
        'Run tools one after another, stopping at the first failure. In a step\'s args, a string like "{{prev.field}}" or ' +
        '"{{steps.0.field}}" is replaced by that value of an earlier result (keeping its type when it is the whole string); ' +
        '`usePrevious: true` passes the previous structured result as `args.previous`.',
      inputSchema: {
        type: 'object',
        additionalProperties: false,
        properties: {
          steps: {
            type: 'array',
            minItems: 1,
            maxItems: 100,
            items: {
              type: 'object',
              additionalProperties: false,
              properties: {
                toolId: toolIdSchema,
                args: { type: 'object' },
                usePrevious: { type: 'boolean' },
                timeoutMs: { type: 'integer', minimum: 1 },
              },
              required: ['toolId'],
            },
          },
        },
        required: ['steps'],
      },
      outputSchema: {
        type: 'object',
        properties: {
          ok: { type: 'boolean' },
          final: {},
          steps: {
            type: 'array',
            items: {
              type: 'object',
              properties: { index: { type: 'integer' }, toolId: { type: 'string' }, ok: { type: 'boolean' }, args: {}, structured: {}, error: toolErrorSchema },
              required: ['index', 'toolId', 'ok'],
            },
          },
          error: toolErrorSchema,
        },
        required: ['ok', 'steps'],
      },
      annotations: { openWorldHint: true },
    },
    {
      name: 'execute_code',
      title: 'Execute code against the tools',
      description: executeDescription,
      inputSchema: {
        type: 'object',
        additionalProperties: false,
        properties: {
          script: { type: 'string', minLength: 1, maxLength: MAX_SCRIPT_CHARS, description: 'JavaScript or TypeScript source.' },
          runtime: { enum: ['quickjs', 'isolated-vm', 'docker'], description: 'Sandbox runtime (default: the server\'s, normally "quickjs"); isolated-vm and docker only where installed.' },
          timeoutMs: { type: 'integer', minimum: 1, description: 'Shorthand for limits.timeoutMs (capped by the server; a wait for a free sandbox counts against it).' },
          typecheck: {
            type: 'boolean',
            default: false,
            description: 'Type-check the script against the tool declarations first; type errors are reported as TYPE_ERROR and nothing runs.',
          },
          limits: limitsSchema,
        },
        required: ['script'],
      },
      outputSchema: {
        type: 'object',
        properties: {
          ok: { type: 'boolean' },
          status: { enum: ['completed', 'failed', 'suspended'], description: 'Durable executions: "suspended" when calls wait for the user\'s approval (see pending).' },
          executionId: { type: 'string', description: 'Durable executions: what resume_execution and get_execution take.' },
          pending: {
            type: 'array',
            description: 'With status "suspended": the calls that wait for a decision.',
            items: { type: 'object', properties: { callId: { type: 'string' }, toolId: { type: 'string' }, args: {}, title: { type: 'string' } }, required: ['callId', 'toolId'] },
          },
          value: {},
          error: {
            type: 'object',
            properties: {
              code: { type: 'string' },
              message: { type: 'string' },
              line: { type: 'integer' },
              column: { type: 'integer' },
              stack: { type: 'string' },
              toolId: { type: 'string' },
              diagnostics: {
                type: 'array',
                description: 'For TYPE_ERROR: each type error, in the script\'s lines and columns.',
                items: {
                  type: 'object',
                  properties: { line: { type: 'integer' }, column: { type: 'integer' }, message: { type: 'string' }, code: { type: 'string' } },
                  required: ['message', 'code'],
                },
              },
            },
            required: ['code', 'message'],
          },
          logs: {
            type: 'array',
            items: { type: 'object', properties: { level: { type: 'string' }, message: { type: 'string' }, at: { type: 'number' } }, required: ['level', 'message'] },
          },
          toolCalls: {
            type: 'array',
            items: {
              type: 'object',
              properties: { toolId: { type: 'string' }, args: {}, ok: { type: 'boolean' }, durationMs: { type: 'number' }, error: { type: 'object' } },
              required: ['toolId', 'ok'],
            },
          },
          warnings: {
            type: 'array',
            description: 'Present when not empty: what the script may not have meant (a tool call never awaited or still running when it ended, a setTimeout callback that never ran, a NaN sent as null).',
            items: { type: 'string' },
          },
          stats: {
            type: 'object',
            properties: {
              runtime: { type: 'string' },
              durationMs: { type: 'number' },
              cpuMs: { type: 'number' },
              memoryBytes: { type: 'number' },
              toolCalls: { type: 'integer' },
              outputBytes: { type: 'integer' },
              queuedMs: { type: 'number', description: 'Time spent waiting for a free sandbox (part of timeoutMs).' },
            },
          },
          limits: { type: 'object' },
        },
        required: ['ok', 'logs', 'toolCalls', 'stats'],
      },
      annotations: { openWorldHint: true },
    },
    {
      name: 'resume_execution',
      title: 'Resume a suspended execution',
      description:
        'Continue a script that execute_code suspended, once the user has decided its pending calls. You cannot decide them: ' +
        'when no decision is recorded, this asks the user (when the client can) or returns the calls still waiting and runs nothing. ' +
        'The script continues where it stopped (approved calls run, denied ones throw APPROVAL_DENIED inside it); it may suspend again. ' +
        'The result has the same shape as execute_code\'s.',
      inputSchema: { type: 'object', additionalProperties: false, properties: { executionId: executionIdSchema }, required: ['executionId'] },
      annotations: { openWorldHint: true },
    },
    {
      name: 'list_executions',
      title: 'List your executions',
      description: 'Your durable executions (newest first): suspended ones wait for decisions; completed ones keep their result until they expire.',
      inputSchema: {
        type: 'object',
        additionalProperties: false,
        properties: {
          status: { enum: ['running', 'suspended', 'completed', 'failed'], description: 'Only executions with this status.' },
          cursor: { type: 'string', maxLength: MAX_CURSOR_CHARS, description: 'nextCursor of the previous page.' },
        },
      },
      annotations: { readOnlyHint: true },
    },
    {
      name: 'get_execution',
      title: 'Get an execution',
      description: 'One of your durable executions: its status, the pending calls and their decisions, and its result (so far).',
      inputSchema: { type: 'object', additionalProperties: false, properties: { executionId: executionIdSchema }, required: ['executionId'] },
      annotations: { readOnlyHint: true },
    },
  ];
}
