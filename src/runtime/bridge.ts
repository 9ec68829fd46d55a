/**
 * The bridge (DESIGN.md "The bridge"): the messages between the guest prelude
 * (`runtimes/prelude.js`) and the host end in the executor, as JSON text. Every runtime carries
 * them as opaque strings; this file is their one typed description, and the one place that
 * turns guest text into a message the host may act on.
 *
 *   guest → host  {"id":1,"op":"run","toolId":"math:add","args":{"a":2,"b":3}}
 *                 {"id":2,"op":"search","query":"issue","limit":5}
 *                 {"id":3,"op":"describe","toolId":"math:add"}
 *                 {"id":4,"op":"input"}
 *                 {"id":5,"op":"timer","ms":100}          (answered {"id":5,"ok":true,"value":null} after ms)
 *                 {"op":"untimer","id":5}                 (clears timer 5; no reply)
 *                 {"id":5,"op":"fetch","url":"https://…","method":"GET","headers":[["accept","text/plain"]],
 *                  "body":"…","bodyEncoding":"text"|"base64","redirect":"follow"}   (egress only)
 *                 {"op":"abort","target":5}                               (no reply: stop request 5)
 *                 {"op":"log","level":"info","message":"..."}            (no reply)
 *                 {"op":"notes","unawaited":[1],"timeouts":0,"nonFinite":"value.x is NaN"}  (once, before done)
 *                 {"op":"done","ok":true,"value":<json>}                  (once, at the end)
 *                 {"op":"done","ok":false,"error":{"code","name","message","stack","callId"}}
 *                 {"op":"idle","n":3}                                     (answers a probe)
 *   host  → guest {"id":1,"ok":true,"value":{"sum":5}}
 *                 {"id":1,"ok":false,"error":{"code":"INPUT_VALIDATION","message":"…"}}
 *                 {"probe":3}            (durable executions: "tell me when you are idle")
 *
 * In a durable execution every reply also carries `"t": <epoch ms>`, the time of its delivery,
 * which is the guest's clock (see src/code/journal.ts). A probe is answered by the prelude from
 * inside its receive function, which every runtime calls only when the guest has run all it
 * could: so `idle` means every request caused by the replies sent before the probe has arrived.
 */

/** A guest → host message, as the host accepts it (shapes checked, fields still untrusted). */
export type GuestMessage =
  | { op: 'run'; id: number; toolId: unknown; args: unknown; depth: number }
  | { op: 'search'; id: number; query: unknown; limit: unknown }
  | { op: 'describe'; id: number; toolId: unknown }
  | { op: 'input'; id: number }
  | { op: 'timer'; id: number; ms: number }
  | { op: 'untimer'; id: number }
  | { op: 'notes'; unawaited: number[]; timeouts: number; nonFinite?: string }
  | { op: 'fetch'; id: number; request: Record<string, unknown> }
  | { op: 'abort'; target: number }
  | { op: 'log'; level: unknown; message: unknown }
  | { op: 'idle'; n: number }
  | { op: 'done'; ok: true; value: unknown; hasValue: boolean; depth: number }
  | { op: 'done'; ok: false; error: Record<string, unknown> };

/** A guest message the host refuses outright. */
export interface BridgeViolation {
  violation: string;
}

/** The error a reply carries into the guest (rebuilt there as a fresh `Error`). */
export interface BridgeError {
  code: string;
  message: string;
  toolId?: string;
  retryable?: boolean;
  issues?: unknown[];
}

/** A host → guest reply. */
export type HostReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: BridgeError };

/**
 * How deep a value from the guest may nest (tool arguments, the result). The host re-serialises
 * what it receives (the ledger, results, the CLI's and the server's output), and V8's
 * JSON.stringify overflows its stack at about 4,000 levels while QuickJS builds values far
 * deeper; 128 is serde_json's default, far past any real tool argument or result.
 */
export const MAX_VALUE_DEPTH = 128;

const REQUEST_OPS = new Set(['run', 'search', 'describe', 'input', 'timer', 'fetch']);

/**
 * The nesting depth of the JSON text (arrays and objects), scanning once and stopping as soon as
 * it passes `max`; linear in the text and allocation-free. Returns `max + 1` when it is deeper.
 */
export function jsonDepth(text: string, max: number = MAX_VALUE_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > max) return max + 1;
      }
    } else if (c === 93 /* ] */ || c === 125 /* } */) depth--;
  }
  return deepest;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Turns one guest message into a `GuestMessage`, or says why the host refuses it. The text is
 * already bounded in size by the caller. JSON.parse in V8 is iterative, so any depth parses; the
 * depth of the parts the host will re-serialise is measured here (`depth`, one less than the
 * envelope's) and judged by the caller, which knows what to answer.
 */
export function parseGuestMessage(text: string): GuestMessage | BridgeViolation {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { violation: 'a message that is not JSON' };
  }
  if (!isPlainObject(msg)) return { violation: 'a message that is not an object' };
  const op = msg.op;
  if (typeof op === 'string' && REQUEST_OPS.has(op)) {
    const id = msg.id;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) return { violation: `a ${op} request without a valid id` };
    switch (op) {
      case 'run':
        // Only a message with room for deep nesting is scanned; the envelope is one level.
        return { op, id, toolId: msg.toolId, args: msg.args === undefined ? {} : msg.args, depth: text.length > 2 * MAX_VALUE_DEPTH ? jsonDepth(text, MAX_VALUE_DEPTH + 1) - 1 : 1 };
      case 'search':
        return { op, id, query: msg.query, limit: msg.limit };
      case 'describe':
        return { op, id, toolId: msg.toolId };
      case 'timer':
        if (typeof msg.ms !== 'number' || !Number.isFinite(msg.ms)) return { violation: 'a timer request without a finite ms' };
        return { op, id, ms: msg.ms };
      case 'fetch':
        // Fields are checked by the host's egress code, which knows what a request may hold.
        return { op, id, request: msg };
      default:
        return { op: 'input', id };
    }
  }
  if (op === 'log') return { op, level: msg.level, message: msg.message };
  if (op === 'idle') return typeof msg.n === 'number' && Number.isSafeInteger(msg.n) ? { op, n: msg.n } : { violation: 'an idle message without a probe number' };
  if (op === 'untimer') {
    const id = msg.id;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) return { violation: 'an untimer message without a valid id' };
    return { op, id };
  }
  if (op === 'notes') {
    const ids = Array.isArray(msg.unawaited) ? msg.unawaited.filter((x): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x > 0) : [];
    const out: GuestMessage = { op, unawaited: ids, timeouts: typeof msg.timeouts === 'number' && Number.isSafeInteger(msg.timeouts) && msg.timeouts > 0 ? msg.timeouts : 0 };
    if (typeof msg.nonFinite === 'string') out.nonFinite = msg.nonFinite.slice(0, 400);
    return out;
  }
  if (op === 'abort') {
    const target = msg.target;
    if (typeof target !== 'number' || !Number.isSafeInteger(target) || target <= 0) return { violation: 'an abort without a valid target id' };
    return { op, target };
  }
  if (op === 'done') {
    if (msg.ok === true) {
      return { op, ok: true, value: msg.value, hasValue: 'value' in msg, depth: text.length > 2 * MAX_VALUE_DEPTH ? jsonDepth(text, MAX_VALUE_DEPTH + 1) - 1 : 1 };
    }
    return { op, ok: false, error: isPlainObject(msg.error) ? msg.error : { message: 'the script failed' } };
  }
  return { violation: `an unknown op ${JSON.stringify(String(op)).slice(0, 40)}` };
}

/**
 * The text of a successful reply as the guest reads it fastest: `[id,value]`, or `[id]` when
 * there is no value (`undefined`, or what JSON cannot carry, as JSON.stringify of the envelope
 * would drop it). `valueText` is the value's JSON when the host has it already. Durable replies
 * keep the envelope, which the journal stamps with the clock (journal.ts).
 */
export function encodeSuccess(id: number, value: unknown, valueText?: string): string {
  let text: string | undefined;
  try {
    text = valueText ?? JSON.stringify(value);
  } catch (e) {
    return unserialisable(id, e);
  }
  return text === undefined ? `[${id}]` : `[${id},${text}]`;
}

function unserialisable(id: number, e: unknown): string {
  return JSON.stringify({ id, ok: false, error: { code: 'EXECUTION', message: `The result could not be serialised to JSON: ${(e as Error)?.message ?? String(e)}` } });
}

/** The text of a reply; a value the host cannot serialise becomes an error reply instead. */
export function encodeReply(reply: HostReply): string {
  try {
    return reply.ok ? JSON.stringify({ id: reply.id, ok: true, value: reply.value }) : JSON.stringify({ id: reply.id, ok: false, error: reply.error });
  } catch (e) {
    return unserialisable(reply.id, e);
  }
}
