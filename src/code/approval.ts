/**
 * Approval policy (DESIGN.md "Durable executions and approvals"): which calls of a script need a
 * decision before they run, and the decisions themselves as callers write them.
 *
 * A policy only ever grows: the executor's patterns and `approveDestructive` are the floor, and a
 * per-execution policy, or the one a journal recorded, is added to them. Nothing a caller passes
 * to one execution can remove an approval the executor requires.
 */
import { matchToolPattern } from '../model/tool-id.js';
import type { Tool } from '../model/tool.js';
import type { Decision } from '../store/types.js';
import type { ApprovalDecisions } from './types.js';

/** Longest approval pattern list, and reason text, accepted from a caller. */
const MAX_PATTERNS = 1000;
const MAX_REASON_CHARS = 2000;

/** The JSON form of a policy, as an execution's stored options keep it. */
export interface ApprovalPolicyJson {
  approve: string[];
  destructive: boolean;
}

/** Which calls need approval. Immutable; `merge` returns a new policy. */
export class ApprovalPolicy {
  static readonly none = new ApprovalPolicy([], false);

  private constructor(
    readonly patterns: readonly string[],
    readonly destructive: boolean,
  ) {}

  /** Checks what a caller passed (`where` names it in the error). */
  static from(approve: unknown, destructive: unknown, where: string): ApprovalPolicy {
    if (approve !== undefined) {
      if (!Array.isArray(approve) || approve.some((p) => typeof p !== 'string' || p.length === 0)) {
        throw new TypeError(`${where}.approve must be an array of tool ID patterns such as "github:create_*"`);
      }
      if (approve.length > MAX_PATTERNS) throw new TypeError(`${where}.approve has ${approve.length} patterns; the most is ${MAX_PATTERNS}`);
    }
    if (destructive !== undefined && typeof destructive !== 'boolean') throw new TypeError(`${where}.approveDestructive must be true or false`);
    const list = (approve as string[] | undefined) ?? [];
    return list.length === 0 && destructive !== true ? ApprovalPolicy.none : new ApprovalPolicy([...new Set(list)], destructive === true);
  }

  /** A stored policy, read back leniently: whatever is not a pattern is ignored (the executor's own floor still applies). */
  static fromJson(value: unknown): ApprovalPolicy {
    const v = (value ?? {}) as Partial<ApprovalPolicyJson>;
    const list = Array.isArray(v.approve) ? v.approve.filter((p): p is string => typeof p === 'string' && p.length > 0).slice(0, MAX_PATTERNS) : [];
    return list.length === 0 && v.destructive !== true ? ApprovalPolicy.none : new ApprovalPolicy(list, v.destructive === true);
  }

  /** Whether no call ever needs approval. */
  get empty(): boolean {
    return this.patterns.length === 0 && !this.destructive;
  }

  /** This policy plus `other`'s approvals. */
  merge(other: ApprovalPolicy): ApprovalPolicy {
    if (other.empty) return this;
    if (this.empty) return other;
    return new ApprovalPolicy([...new Set([...this.patterns, ...other.patterns])], this.destructive || other.destructive);
  }

  /** Whether a call to `toolId` (the registered tool, when there is one) needs approval. */
  requires(toolId: string, tool: Tool | undefined): boolean {
    if (this.destructive && tool?.annotations?.destructiveHint === true) return true;
    for (const p of this.patterns) if (matchToolPattern(p, toolId)) return true;
    return false;
  }

  toJSON(): ApprovalPolicyJson {
    return { approve: [...this.patterns], destructive: this.destructive };
  }
}

/**
 * Whether a tool may run again after a crash left its call without a recorded result: read-only
 * tools and tools annotated idempotent. Annotations are the tool author's (or the upstream
 * server's) word; a tool that claims idempotence falsely is run twice.
 */
export function isRerunnable(tool: Tool | undefined): boolean {
  const a = tool?.annotations;
  return a?.readOnlyHint === true || a?.idempotentHint === true;
}

/**
 * Turns decisions as callers write them into the store's form, checking their shape: a wrong
 * type is a `TypeError` naming the problem (misuse of the API). Which call IDs exist is the
 * store's to check.
 */
export function toStoreDecisions(decisions: ApprovalDecisions | undefined, by: string | undefined, where: string): Decision[] {
  if (decisions === undefined || decisions === null) return [];
  if (typeof decisions !== 'object' || Array.isArray(decisions)) throw new TypeError(`${where}: decisions must be an object { approve?: [...], deny?: [...] }`);
  const out: Decision[] = [];
  const seen = new Set<string>();
  const id = (callId: unknown, what: string): string => {
    if (typeof callId !== 'string' || callId.length === 0 || callId.length > 256) throw new TypeError(`${where}: ${what} must name a callId (a string from the pending calls)`);
    if (seen.has(callId)) throw new TypeError(`${where}: call ${JSON.stringify(callId)} is decided twice`);
    seen.add(callId);
    return callId;
  };
  const { approve, deny } = decisions;
  if (approve !== undefined && !Array.isArray(approve)) throw new TypeError(`${where}: approve must be an array of callIds or { callId, args }`);
  if (deny !== undefined && !Array.isArray(deny)) throw new TypeError(`${where}: deny must be an array of callIds or { callId, reason }`);
  for (const a of approve ?? []) {
    if (typeof a === 'string') {
      out.push({ callId: id(a, 'approve[]'), action: 'approve', ...(by ? { by } : {}) });
      continue;
    }
    if (!a || typeof a !== 'object') throw new TypeError(`${where}: each approve entry is a callId or { callId, args }`);
    const args = (a as { args?: unknown }).args;
    if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) {
      throw new TypeError(`${where}: the edited args of ${JSON.stringify(a.callId)} must be an object of arguments`);
    }
    out.push({ callId: id(a.callId, 'approve[].callId'), action: 'approve', ...(args !== undefined ? { args } : {}), ...(by ? { by } : {}) });
  }
  for (const d of deny ?? []) {
    if (typeof d === 'string') {
      out.push({ callId: id(d, 'deny[]'), action: 'deny', ...(by ? { by } : {}) });
      continue;
    }
    if (!d || typeof d !== 'object') throw new TypeError(`${where}: each deny entry is a callId or { callId, reason }`);
    const reason = (d as { reason?: unknown }).reason;
    if (reason !== undefined && typeof reason !== 'string') throw new TypeError(`${where}: the reason for denying ${JSON.stringify(d.callId)} must be a string`);
    out.push({
      callId: id(d.callId, 'deny[].callId'),
      action: 'deny',
      ...(reason !== undefined ? { reason: reason.slice(0, MAX_REASON_CHARS) } : {}),
      ...(by ? { by } : {}),
    });
  }
  return out;
}
