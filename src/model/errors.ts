/**
 * The one error type every tool call fails with. It lives in the model layer because
 * backends (below the runner) raise it too, and it must be rebuilt from data on the near
 * side of every boundary (sandbox, MCP, CLI) rather than passed as an object.
 */

/** Stable codes; see DESIGN.md "Runner contract". */
export const TOOL_ERROR_CODES = [
  'TOOL_NOT_FOUND',
  'INVALID_TOOL_ID',
  'NO_BACKEND',
  'INPUT_VALIDATION',
  'OUTPUT_VALIDATION',
  'EXECUTION',
  'TIMEOUT',
  'CANCELLED',
  'STREAM_NOT_SUPPORTED',
  /** A durable execution's call that needed approval was denied; the error's message carries the reason. */
  'APPROVAL_DENIED',
  /** The host running a durable execution died while this call was in flight, and the tool is not idempotent, so it was not run again. */
  'INTERRUPTED',
] as const;

export type ToolErrorCode = (typeof TOOL_ERROR_CODES)[number];

/** One failing location from schema validation: a JSON pointer into the value plus the keyword. */
export interface ValidationIssue {
  /** JSON pointer into the validated value, `""` for the root. */
  path: string;
  keyword: string;
  message: string;
  /** Pointer into the schema that rejected the value. */
  schemaPath?: string;
  params?: Record<string, unknown>;
}

export type ToolOp = 'run' | 'stream' | 'chain' | 'validate' | 'resolve';

export interface ToolErrorOptions {
  toolId?: string;
  op?: ToolOp;
  backend?: { kind: string; name: string };
  retryable?: boolean;
  cause?: unknown;
  issues?: ValidationIssue[];
  /** Extra structured payload (e.g. partial chain results, the MCP server's content). */
  data?: Record<string, unknown>;
}

export class ToolError extends Error {
  override readonly name = 'ToolError';
  readonly code: ToolErrorCode;
  readonly toolId: string | undefined;
  readonly op: ToolOp;
  readonly backend: { kind: string; name: string } | undefined;
  readonly retryable: boolean;
  readonly issues: ValidationIssue[] | undefined;
  readonly data: Record<string, unknown> | undefined;

  constructor(code: ToolErrorCode, message: string, options: ToolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.toolId = options.toolId;
    this.op = options.op ?? 'run';
    this.backend = options.backend;
    this.retryable = options.retryable ?? (code === 'TIMEOUT');
    this.issues = options.issues;
    this.data = options.data;
  }

  /** Failing JSON pointer paths, for validation errors. */
  get paths(): string[] {
    return this.issues?.map((i) => i.path) ?? [];
  }

  /** A plain, JSON-safe description: what crosses process and sandbox boundaries. */
  toJSON(): SerializedToolError {
    const out: SerializedToolError = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.toolId !== undefined) out.toolId = this.toolId;
    out.op = this.op;
    if (this.backend) out.backend = { ...this.backend };
    if (this.issues) out.issues = this.issues.map((i) => ({ ...i }));
    return out;
  }

  static is(value: unknown, code?: ToolErrorCode): value is ToolError {
    return value instanceof ToolError && (code === undefined || value.code === code);
  }

  /** Rebuilds an error from its serialized form (the near side of a boundary). */
  static fromJSON(data: SerializedToolError): ToolError {
    const code = (TOOL_ERROR_CODES as readonly string[]).includes(data.code) ? (data.code as ToolErrorCode) : 'EXECUTION';
    return new ToolError(code, String(data.message ?? 'tool failed'), {
      toolId: data.toolId,
      op: data.op,
      backend: data.backend,
      retryable: data.retryable,
      issues: data.issues,
    });
  }
}

export interface SerializedToolError {
  code: string;
  message: string;
  toolId?: string;
  op?: ToolOp;
  backend?: { kind: string; name: string };
  retryable?: boolean;
  issues?: ValidationIssue[];
}
