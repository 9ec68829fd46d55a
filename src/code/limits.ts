/**
 * An execution's limits: the defaults, the ceilings, the checks of what a caller passes, and how
 * the executor's values and a call's values combine (a call may lower any limit, never raise it
 * past the ceiling, and may only narrow the allow-list).
 */
import { DEFAULT_MAX_SCRIPT_BYTES } from './prepare.js';
import type { ExecuteLimits, ExecuteOptions } from './types.js';

/** Defaults for every limit (each overridable per executor and per call). */
export const DEFAULT_EXECUTE_LIMITS: Readonly<ExecuteLimits> = Object.freeze({
  timeoutMs: 30_000,
  memoryMb: 64,
  maxToolCalls: 1_000,
  maxConcurrentToolCalls: 8,
  maxOutputBytes: 1024 * 1024,
  maxArgsBytes: 256 * 1024,
  maxScriptBytes: DEFAULT_MAX_SCRIPT_BYTES,
});

/** Default ceilings for per-call limits. */
export const DEFAULT_MAX_LIMITS: Readonly<Required<Omit<ExecuteLimits, 'allowedTools'>>> = Object.freeze({
  timeoutMs: 10 * 60_000,
  memoryMb: 1024,
  cpuMs: 10 * 60_000,
  maxToolCalls: 100_000,
  maxConcurrentToolCalls: 64,
  maxOutputBytes: 64 * 1024 * 1024,
  maxArgsBytes: 16 * 1024 * 1024,
  maxScriptBytes: 4 * 1024 * 1024,
});

/** The numeric limits, by name. */
export const NUMERIC_LIMITS = ['timeoutMs', 'memoryMb', 'cpuMs', 'maxToolCalls', 'maxConcurrentToolCalls', 'maxOutputBytes', 'maxArgsBytes', 'maxScriptBytes'] as const;

/** The limits of one execution, with the executor's own allow-list kept beside a narrower per-call one. */
export type ResolvedLimits = ExecuteLimits & {
  allowedToolsBase?: string[];
  /** More allow-lists a call must also pass (a resumed execution keeps those it started with). */
  allowedToolsAlso?: string[][];
};

/** Throws a `TypeError` naming the first limit that is not what it must be. */
export function checkLimits(o: Partial<ExecuteLimits>, where: string): void {
  for (const k of NUMERIC_LIMITS) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new TypeError(`${where}.${k} must be a positive number, got ${JSON.stringify(v)}`);
    }
  }
  const a = o.allowedTools;
  if (a !== undefined && (!Array.isArray(a) || a.some((p) => typeof p !== 'string'))) {
    throw new TypeError(`${where}.allowedTools must be an array of tool ID patterns such as "github:*"`);
  }
}

/** The properties of `o` that are not `undefined`. */
export function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The limits an executor resolves calls against. */
export class LimitPolicy {
  readonly defaults: ExecuteLimits;
  readonly ceilings: Required<Omit<ExecuteLimits, 'allowedTools'>>;

  constructor(limits: Partial<ExecuteLimits> = {}, maxLimits: Partial<Omit<ExecuteLimits, 'allowedTools'>> = {}) {
    checkLimits(maxLimits, 'maxLimits');
    checkLimits(limits, 'limits');
    this.ceilings = { ...DEFAULT_MAX_LIMITS, ...definedOnly(maxLimits) };
    this.defaults = this.clamp({ ...DEFAULT_EXECUTE_LIMITS, ...definedOnly(limits) });
  }

  /** A call's limits: its own values where given, the defaults elsewhere, none above the ceilings. */
  resolve(options: ExecuteOptions): ResolvedLimits {
    checkLimits(options, 'options');
    const own: Partial<ExecuteLimits> = {};
    for (const k of NUMERIC_LIMITS) if (options[k] !== undefined) own[k] = options[k];
    if (options.allowedTools !== undefined) own.allowedTools = options.allowedTools;
    const merged: ResolvedLimits = this.clamp({ ...this.defaults, ...own });
    // A per-call allow-list can only narrow the executor's: a call must pass both.
    const base = this.defaults.allowedTools;
    if (base && options.allowedTools) merged.allowedToolsBase = base;
    return merged;
  }

  private clamp(l: ExecuteLimits): ExecuteLimits {
    const out = { ...l };
    for (const k of NUMERIC_LIMITS) {
      const v = out[k];
      if (v !== undefined && v > this.ceilings[k]) out[k] = this.ceilings[k];
    }
    return out;
  }
}
