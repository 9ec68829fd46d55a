/**
 * OpenTelemetry names toolexec emits, in one place, and the instruments the runner and the
 * executor share. Everything goes through `@opentelemetry/api`: without an SDK registered, the
 * API's no-op tracer and meter make each span and measurement a few property reads.
 *
 * Spans follow the GenAI semantic conventions for tool execution (Development status; followed
 * as of `open-telemetry/semantic-conventions-genai`, `docs/gen-ai/gen-ai-spans.md`, "Execute tool
 * span"): name `execute_tool {gen_ai.tool.name}`, kind INTERNAL, `gen_ai.operation.name` =
 * `execute_tool`, `gen_ai.tool.name`, `gen_ai.tool.type`, `gen_ai.tool.description`, and
 * `error.type` when the call failed. Arguments and results (`gen_ai.tool.call.arguments`,
 * `.result`) are opt-in there and sensitive: toolexec never records them.
 *
 * Metrics: `gen_ai.execute_tool.duration` (the conventions' tool-duration histogram, seconds),
 * and counters of toolexec's own: `toolexec.tool_calls`, `toolexec.executions`,
 * `toolexec.limit_hits`, with `toolexec.execution.duration` (seconds).
 */
import { metrics, trace, type Counter, type Histogram, type Meter, type Tracer } from '@opentelemetry/api';
import type { BackendKind } from '../model/backend.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../model/package-info.js';

/** The instrumentation scope of every span and metric. */
export const INSTRUMENTATION_SCOPE = PACKAGE_NAME;

/** Attribute names (GenAI and general semantic conventions, and toolexec's own). */
export const ATTR = {
  operation: 'gen_ai.operation.name',
  toolName: 'gen_ai.tool.name',
  toolType: 'gen_ai.tool.type',
  toolDescription: 'gen_ai.tool.description',
  toolCallId: 'gen_ai.tool.call.id',
  errorType: 'error.type',
  toolId: 'toolexec.tool_id',
  backend: 'toolexec.backend',
  op: 'toolexec.op',
  runtime: 'toolexec.runtime',
  limit: 'toolexec.limit',
} as const;

/** The operation name of every tool span. */
export const EXECUTE_TOOL = 'execute_tool';

/** Histogram buckets for durations in seconds: 1 ms to about 5 minutes. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** The tracer toolexec uses when none is given: the global one (a no-op until an SDK registers). */
export function defaultTracer(): Tracer {
  return trace.getTracer(INSTRUMENTATION_SCOPE, PACKAGE_VERSION);
}

/** The meter toolexec uses when none is given (taken when a Runner or Executor is made). */
export function defaultMeter(): Meter {
  return metrics.getMeter(INSTRUMENTATION_SCOPE, PACKAGE_VERSION);
}

/**
 * `gen_ai.tool.type`: a tool the host runs itself is a `function`; one on an MCP server, which
 * calls an external system for the agent, an `extension`.
 */
export function toolType(kind: BackendKind): 'function' | 'extension' {
  return kind === 'mcp' ? 'extension' : 'function';
}

/** The runner's instruments: one count and one duration per tool call. */
export class ToolCallMetrics {
  readonly calls: Counter;
  readonly duration: Histogram;
  constructor(meter: Meter) {
    this.calls = meter.createCounter('toolexec.tool_calls', { description: 'Tool calls, by tool and outcome (error.type when failed)', unit: '{call}' });
    this.duration = meter.createHistogram('gen_ai.execute_tool.duration', {
      description: 'Duration of tool executions',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
  }

  /** The attributes of successful calls, per resolved tool (made once: the hot path allocates nothing). */
  readonly #ok = new WeakMap<object, Record<string, string>>();

  /**
   * One call ended. `key` is an object that lives as long as the tool's registration (its
   * index entry, never shared by two tools), under which a successful call's attributes are kept.
   */
  record(toolId: string, type: string | undefined, errorType: string | undefined, seconds: number, key?: object): void {
    let attributes = errorType === undefined && key !== undefined ? this.#ok.get(key) : undefined;
    if (attributes === undefined) {
      attributes = { [ATTR.operation]: EXECUTE_TOOL, [ATTR.toolName]: toolId };
      if (type !== undefined) attributes[ATTR.toolType] = type;
      if (errorType !== undefined) attributes[ATTR.errorType] = errorType;
      else if (key !== undefined) this.#ok.set(key, Object.freeze(attributes));
    }
    this.calls.add(1, attributes);
    this.duration.record(seconds, attributes);
  }
}

/** The executor's instruments. */
export class ExecutionMetrics {
  readonly executions: Counter;
  readonly duration: Histogram;
  readonly limitHits: Counter;
  readonly fetchDuration: Histogram;
  constructor(meter: Meter) {
    this.executions = meter.createCounter('toolexec.executions', { description: 'Script executions, by runtime and outcome (error.type when failed)', unit: '{execution}' });
    this.duration = meter.createHistogram('toolexec.execution.duration', {
      description: 'Duration of script executions, from execute() to its result',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    this.limitHits = meter.createCounter('toolexec.limit_hits', { description: 'Executions and requests stopped by a limit, by limit (toolexec.limit)', unit: '{hit}' });
    // The HTTP client semantic conventions' own metric, for requests through granted egress.
    this.fetchDuration = meter.createHistogram('http.client.request.duration', {
      description: 'Duration of HTTP requests made for scripts (granted egress)',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
  }
}
