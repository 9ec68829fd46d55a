/**
 * Durable executions over MCP: what `execute_code` says when a script suspends, how the user is
 * asked (MCP elicitation, when the client supports it), and how an execution reads to its owner
 * (`get_execution`, `list_executions`, `toolexec approvals show`).
 *
 * A model cannot approve its own calls: the decisions come from the user (an elicitation the
 * client shows to a person) or from outside the model (`toolexec approvals`, the API), and
 * `resume_execution` only continues an execution whose decisions are recorded.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { ElicitResultSchema, type ElicitRequestFormParams, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import type { ApprovalDecisions, ApprovalHandler, ExecuteResult, PendingToolCall } from '../code/types.js';
import type { ExecutionRecord, PendingApproval } from '../store/types.js';

/** Longest argument text shown in a prompt or a model's text per call. */
const MAX_ARGS_SHOWN = 600;

function argsText(args: unknown): string {
  let t: string;
  try {
    t = JSON.stringify(args) ?? 'null';
  } catch {
    t = '[arguments]';
  }
  return t.length > MAX_ARGS_SHOWN ? `${t.slice(0, MAX_ARGS_SHOWN)}… (${t.length} characters)` : t;
}

/** One line per pending call, for people and models. */
export function pendingLines(pending: readonly { callId: string; toolId: string; args: unknown }[]): string {
  return pending.map((p) => `- ${p.callId}: ${p.toolId} ${argsText(p.args)}`).join('\n');
}

/** The text of a suspended `execute_code` / `resume_execution` result: what the model should do next. */
export function suspendedText(result: ExecuteResult): string {
  const pending = result.pending ?? [];
  const id = result.executionId ?? '';
  return [
    `SUSPENDED: the script is paused: ${pending.length} tool call${pending.length === 1 ? ' needs' : 's need'} the user's approval before ${pending.length === 1 ? 'it runs' : 'they run'}:`,
    pendingLines(pending),
    `Execution ID: ${id}`,
    'You cannot approve these calls yourself. Tell the user what the calls will do and ask them to approve or deny them ' +
      `(in their MCP client if it asks them, or at a terminal: \`toolexec approvals approve ${id} <callId>...\` / \`toolexec approvals deny ${id} <callId>...\`). ` +
      `Once they have decided, call resume_execution with {"executionId": "${id}"}: the script continues where it stopped (do not run it again). ` +
      'A denied call throws APPROVAL_DENIED inside the script.',
  ].join('\n');
}

/** The text of a `resume_execution` that found no decisions: nothing happened. */
export function undecidedText(executionId: string, pending: readonly PendingApproval[]): string {
  const waiting = pending.filter((p) => !p.decision);
  return [
    `WAITING: execution ${executionId} still waits for the user's decision on ${waiting.length} call${waiting.length === 1 ? '' : 's'}; nothing was run:`,
    pendingLines(waiting),
    `Ask the user to approve or deny ${waiting.length === 1 ? 'it' : 'them'} (\`toolexec approvals approve ${executionId} <callId>...\` at a terminal), then call resume_execution again.`,
  ].join('\n');
}

/** Whether the client of `server` can show a form to its user. */
export function supportsElicitation(server: Server): boolean {
  const e = server.getClientCapabilities()?.elicitation as Record<string, unknown> | undefined;
  // `{}` is how clients from before the form/url split say "form".
  return e !== undefined && (e.form !== undefined || Object.keys(e).length === 0);
}

/**
 * An approval handler that asks the user through MCP elicitation: one form for all the calls
 * that became pending together, a yes/no per call and a reason for the denied ones. Accept
 * decides every call (unchecked means denied); decline denies them all; cancel (or no answer
 * within the signal's time) leaves them pending, so the execution suspends.
 */
export function elicitationApprover(server: Server, relatedRequestId: RequestId | undefined, onError?: (e: unknown) => void): ApprovalHandler {
  return async (pending, { executionId, signal }) => {
    const properties: ElicitRequestFormParams['requestedSchema']['properties'] = {};
    for (const p of pending) {
      properties[p.callId] = {
        type: 'boolean',
        title: `Allow ${p.toolId}`,
        description: `${p.title ? `${p.title}. ` : ''}Arguments: ${argsText(p.args)}`,
        default: false,
      };
    }
    properties.reason = { type: 'string', title: 'Reason for a denial', description: 'Shown to the script for the calls you do not allow.', maxLength: 1000 };
    const params: ElicitRequestFormParams = {
      mode: 'form',
      message:
        `A script (execution ${executionId}) wants to make ${pending.length === 1 ? 'this tool call' : `these ${pending.length} tool calls`}, which need your approval:\n` +
        pendingLines(pending),
      requestedSchema: { type: 'object', properties },
    };
    let answer;
    try {
      answer = await server.request({ method: 'elicitation/create', params }, ElicitResultSchema, {
        signal,
        ...(relatedRequestId !== undefined ? { relatedRequestId } : {}),
        // The signal carries the approval timeout; the SDK's own default (60 s) must not cut it shorter.
        timeout: 2 ** 31 - 1,
      });
    } catch (e) {
      if (!signal.aborted) onError?.(e);
      return undefined;
    }
    if (answer.action === 'cancel') return undefined;
    const content = (answer.content ?? {}) as Record<string, unknown>;
    const reason = typeof content.reason === 'string' && content.reason.trim() ? content.reason.trim().slice(0, 1000) : undefined;
    const decisions: Required<ApprovalDecisions> = { approve: [], deny: [] };
    for (const p of pending) {
      if (answer.action === 'accept' && content[p.callId] === true) decisions.approve.push(p.callId);
      else decisions.deny.push({ callId: p.callId, reason: reason ?? (answer.action === 'decline' ? 'the user declined' : 'not allowed by the user') });
    }
    return decisions;
  };
}

/** An execution as its owner reads it: status, pending calls with decisions, and the result so far. */
export function executionView(rec: ExecutionRecord): Record<string, unknown> {
  let result: unknown = rec.result;
  if (result === undefined) {
    // A suspended execution's result so far is its last `part` entry.
    for (let i = rec.journal.length - 1; i >= 0; i--) {
      const e = rec.journal[i]!;
      if (e.type === 'part') {
        result = e.result;
        break;
      }
    }
  }
  return {
    executionId: rec.executionId,
    status: rec.status,
    createdAt: rec.createdAt,
    updatedAt: rec.updatedAt,
    expiresAt: rec.expiresAt,
    pending: rec.pending.map((p) => ({
      callId: p.callId,
      toolId: p.toolId,
      args: p.args,
      ...(p.title !== undefined ? { title: p.title } : {}),
      ...(p.decision ? { decision: { action: p.decision.action, ...(p.decision.by ? { by: p.decision.by } : {}) } } : {}),
    })),
    ...(result !== undefined ? { result } : {}),
  };
}
