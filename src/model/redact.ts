/**
 * Keeping secrets out of what toolexec prints and reports. A config value written as
 * `${VAR}` is read from the environment precisely so that it does not sit in the file in
 * plain text; the value must then not surface in an error, a log line, a tool result or a
 * trace either. A `Redactor` knows those values and replaces them by `[redacted:VAR]`.
 *
 * It lives in the model layer because every layer above reports things: the MCP backend
 * (a server that prints its environment on stderr), the config loader (a URL that does
 * not parse), the engine, the server's logs and the CLI.
 */

/** A value that came from the environment (`${NAME}`) and must never be shown. */
export interface Secret {
  /** The variable it came from: shown instead of the value. */
  name: string;
  value: string;
}

/**
 * Values shorter than this are not redacted: hiding every `true`, `1` or `3000` would garble
 * output, and a value that short is not a secret worth the name.
 */
export const MIN_SECRET_LENGTH = 6;

/** How deep `redactValue` copies a structure that holds a secret; deeper parts are not shown. */
const MAX_WALK_DEPTH = 1000;

interface Needle {
  text: string;
  label: string;
}

/**
 * Replaces known secret values (and the spellings they take when quoted in JSON or put in a
 * URL) by `[redacted:NAME]`. Immutable; an empty redactor returns everything unchanged at
 * the cost of one branch.
 */
export class Redactor {
  /** A redactor with no secrets. */
  static readonly none = new Redactor([]);

  readonly #needles: Needle[];
  /** Length of the shortest needle: shorter strings cannot hold one. */
  readonly #min: number;
  readonly #secrets: Secret[] = [];
  readonly #names: string[];

  constructor(secrets: Iterable<Secret>) {
    const byText = new Map<string, string>();
    const names = new Set<string>();
    for (const s of secrets) {
      if (typeof s?.value !== 'string' || s.value.length < MIN_SECRET_LENGTH) continue;
      this.#secrets.push({ name: String(s.name), value: s.value });
      names.add(s.name);
      const label = `[redacted:${s.name}]`;
      // The forms a value takes in messages: as is, inside a JSON string, percent-encoded in a URL.
      for (const form of [s.value, JSON.stringify(s.value).slice(1, -1), encodeURIComponent(s.value)]) {
        if (form.length >= MIN_SECRET_LENGTH && !byText.has(form)) byText.set(form, label);
      }
    }
    // Longest first, so a secret containing another is replaced whole.
    this.#needles = [...byText].map(([text, label]) => ({ text, label })).sort((a, b) => b.text.length - a.text.length);
    this.#min = this.#needles.length === 0 ? Infinity : this.#needles[this.#needles.length - 1]!.text.length;
    this.#names = [...names];
  }

  /** A redactor knowing the secrets of both. */
  static merge(...redactors: (Redactor | undefined)[]): Redactor {
    const secrets: Secret[] = [];
    for (const r of redactors) if (r) secrets.push(...r.secrets());
    return secrets.length === 0 ? Redactor.none : new Redactor(secrets);
  }

  /** True when there is nothing to redact. */
  get empty(): boolean {
    return this.#needles.length === 0;
  }

  /** Names of the variables whose values are redacted (never the values). */
  get names(): readonly string[] {
    return this.#names;
  }

  /** @internal The secrets, for `merge`. */
  secrets(): readonly Secret[] {
    return this.#secrets;
  }

  /** Whether `text` contains a secret. */
  leaks(text: string): boolean {
    if (text.length < this.#min) return false;
    for (const n of this.#needles) if (text.includes(n.text)) return true;
    return false;
  }

  /** `text` with every secret replaced by `[redacted:NAME]`. */
  redact(text: string): string {
    if (this.#needles.length === 0 || typeof text !== 'string') return text;
    let out = text;
    for (const n of this.#needles) if (out.includes(n.text)) out = out.split(n.text).join(n.label);
    return out;
  }

  /**
   * A JSON-like value with secrets replaced in every string (keys included). Returns the
   * same object when nothing needed replacing, a redacted copy otherwise.
   */
  redactValue<T>(value: T): T {
    if (this.#needles.length === 0) return value;
    if (typeof value === 'string') return this.redact(value) as T;
    if (typeof value !== 'object' || value === null) return value;
    // Reading is cheap and leaks are rare: look first (no copy, no serialization), copy only then.
    if (!this.#holdsSecret(value)) return value;
    return this.#walk(value, 0, new WeakSet()) as T;
  }

  /** Whether any string in `root` (keys included) holds a secret; iterative, so depth costs no stack. */
  #holdsSecret(root: object): boolean {
    const stack: unknown[] = [root];
    const seen = new WeakSet<object>();
    while (stack.length > 0) {
      const v = stack.pop();
      if (typeof v === 'string') {
        if (this.leaks(v)) return true;
        continue;
      }
      if (typeof v !== 'object' || v === null || seen.has(v)) continue;
      seen.add(v);
      if (Array.isArray(v)) {
        for (const item of v) stack.push(item);
        continue;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        if (this.leaks(safeString(v))) return true;
        continue;
      }
      const o = v as Record<string, unknown>;
      for (const k in o) {
        if (this.leaks(k)) return true;
        stack.push(o[k]);
      }
    }
    return false;
  }

  #walk(value: unknown, depth: number, seen: WeakSet<object>): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (typeof value !== 'object' || value === null) return value;
    // Past the bound nothing is checked, so nothing is shown either.
    if (depth >= MAX_WALK_DEPTH || seen.has(value)) return '[redacted: not checked]';
    seen.add(value);
    if (Array.isArray(value)) return value.map((v) => this.#walk(v, depth + 1, seen));
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const text = safeString(value);
      return this.leaks(text) ? this.redact(text) : value;
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[this.redact(k)] = this.#walk(v, depth + 1, seen);
    return out;
  }

  /**
   * Redacts an error in place (message, stack, `data`, `issues`, causes and aggregated
   * errors) and returns it, so its class and identity survive. Anything else is returned
   * as is, or redacted when it is a string.
   */
  redactError<E>(err: E): E {
    if (this.#needles.length === 0) return err;
    this.#redactErrorIn(err, 0, new WeakSet());
    return typeof err === 'string' ? (this.redact(err) as E) : err;
  }

  #redactErrorIn(err: unknown, depth: number, seen: WeakSet<object>): void {
    if (!(err instanceof Error) || depth > 8 || seen.has(err)) return;
    seen.add(err);
    const e = err as Error & { data?: unknown; issues?: unknown; cause?: unknown; errors?: unknown };
    setOwn(e, 'message', this.redact(e.message));
    if (typeof e.stack === 'string') setOwn(e, 'stack', this.redact(e.stack));
    if (e.data !== undefined) setOwn(e, 'data', this.redactValue(e.data));
    if (e.issues !== undefined) setOwn(e, 'issues', this.redactValue(e.issues));
    if (e.cause !== undefined) {
      if (e.cause instanceof Error) this.#redactErrorIn(e.cause, depth + 1, seen);
      else setOwn(e, 'cause', this.redactValue(e.cause));
    }
    if (Array.isArray(e.errors)) for (const inner of e.errors) this.#redactErrorIn(inner, depth + 1, seen);
  }
}

function setOwn(target: object, key: string, value: unknown): void {
  const own = Object.getOwnPropertyDescriptor(target, key);
  if (own && 'value' in own && own.value === value) return;
  // `readonly` fields (ToolError's `data`) are readonly for TypeScript only; define, do not assign.
  try {
    Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: own?.enumerable ?? false });
  } catch {
    // a frozen error cannot be redacted in place; callers that print it print its message, redacted below
  }
}

function safeString(value: object): string {
  try {
    return String(value);
  } catch {
    return '';
  }
}
