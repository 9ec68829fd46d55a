/**
 * Type errors before side effects: the TypeScript compiler checks a script against the
 * declarations of the tools it may call (`generateTypes`) and the globals of its runtime, and
 * the execution stops with `TYPE_ERROR` before any tool runs.
 *
 * The compiler is an optional peer dependency, loaded only when a check is asked for. It runs
 * in a worker thread because a script (and the tool schemas) are hostile input: type-level
 * computation can take unbounded time and memory, so each check has a deadline, the worker a
 * heap cap, and a check that overruns either gets the worker killed; the next check gets a new
 * one. Between checks the worker keeps a language service whose lib files and declarations
 * stay parsed, so a warm check costs only the script's own work.
 *
 * What is reported, for JavaScript and TypeScript alike: unknown names and globals (a
 * `require`, `process`, `fetch` without egress), tool IDs and `tools.*` members that do not exist or
 * are not allowed, missing or wrong arguments, properties a typed result does not have, calls of
 * things that are not functions. What is not: implicit `any`, possibly-`undefined` values, unused
 * code: noise a model would chase instead of its real mistakes.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { ToolIndex } from '../index/types.js';
import { matchToolPattern } from '../model/tool-id.js';
import type { RuntimeName } from '../runtime/types.js';
import { missingGlobalHint, sandboxLibDeclarations } from './sandbox-globals.js';
import { generateTypes } from './typegen.js';
import type { ExecuteError, TypeDiagnostic } from './types.js';

/** Options of `new TypeChecker()`. */
export interface TypeCheckerOptions {
  /** Where TypeScript is: a module specifier or path, resolved from toolexec (default `typescript`). */
  typescript?: string;
  /** Idle time after which the worker (and its parsed lib files) is let go (default 5 minutes). */
  idleMs?: number;
  /** Heap cap of the checker's worker, in megabytes (default 512). */
  memoryMb?: number;
  /** Most diagnostics reported for one script (default 20). */
  maxDiagnostics?: number;
}

/** One check to run. */
export interface TypeCheckRequest {
  /** The script as the user wrote it. */
  script: string;
  /** Check it as TypeScript (else as JavaScript, with JSDoc types honoured). */
  typescript: boolean;
  /** Declarations of the tools (from `generateTypes`). */
  declarations: string;
  /** Ambient declarations of the runtime's globals (from `sandboxLibDeclarations`). */
  lib: string;
  /** Deadline of the check (default 30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** What a check found. */
export interface TypeCheckResult {
  diagnostics: TypeDiagnostic[];
  /** Diagnostics beyond `maxDiagnostics`, not reported. */
  omitted: number;
  /** Time the check took in the worker (excluding the wait for a free worker). */
  durationMs: number;
  /** Whether this check started the worker (and so parsed the lib files). */
  cold: boolean;
}

/** A check that could not give an answer: why, as an execute error code. */
export class TypeCheckError extends Error {
  override readonly name = 'TypeCheckError';
  constructor(
    readonly code: 'TIMEOUT' | 'CANCELLED' | 'MEMORY_LIMIT' | 'RUNTIME_UNAVAILABLE' | 'SANDBOX_CRASHED',
    message: string,
  ) {
    super(message);
  }
}

const DEFAULT_IDLE_MS = 5 * 60_000;
const DEFAULT_MEMORY_MB = 512;
const DEFAULT_MAX_DIAGNOSTICS = 20;
const DEFAULT_TIMEOUT_MS = 30_000;
/** Time a new checker may take to load TypeScript and parse its lib files. */
const START_TIMEOUT_MS = 60_000;
const MAX_MESSAGE_CHARS = 600;

interface WorkerConfig {
  typescriptPath: string;
  maxDiagnostics: number;
  maxMessageChars: number;
}

interface WorkerReply {
  id: number;
  ok: boolean;
  diagnostics?: TypeDiagnostic[];
  omitted?: number;
  durationMs?: number;
  message?: string;
}

/**
 * The worker's program, serialized with `Function.prototype.toString` (so it must not refer to
 * anything outside itself) and run with `eval: true`: the same code then works from `src/`
 * under the test runner and from `dist/`.
 */
function checkerWorker(require: NodeJS.Require, config: WorkerConfig): void {
  const { parentPort } = require('node:worker_threads') as typeof import('node:worker_threads');
  const path = require('node:path') as typeof import('node:path');
  const ts = require(config.typescriptPath) as typeof import('typescript');
  const libDir = path.dirname(ts.getDefaultLibFilePath({}));
  const ROOT = '/toolexec/';
  const HEAD = 'async function __toolexec_script() {\n';
  const TAIL = '\n}\n';
  const files = new Map<string, { text: string; version: number }>();
  const libs = new Map<string, string | undefined>();
  // Only our virtual files and TypeScript's own lib files exist for the compiler: a
  // `/// <reference path="/etc/passwd" />` in a script finds nothing.
  const readLib = (fileName: string): string | undefined => {
    if (libs.has(fileName)) return libs.get(fileName);
    const dir = path.dirname(fileName);
    const base = path.basename(fileName);
    const text = dir === libDir && /^lib\.[a-z0-9.]+\.d\.ts$/i.test(base) ? ts.sys.readFile(fileName) : undefined;
    libs.set(fileName, text);
    return text;
  };
  const options: import('typescript').CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    // So that `import("x")` is judged as a missing module (which the host explains), not as a
    // compiler setting.
    module: ts.ModuleKind.ESNext,
    lib: ['lib.es2023.d.ts'],
    types: [],
    noEmit: true,
    allowJs: true,
    checkJs: true,
    noResolve: true,
    skipLibCheck: true,
    strict: false,
    noImplicitAny: false,
    strictNullChecks: false,
    strictFunctionTypes: true,
    strictBindCallApply: true,
    useUnknownInCatchVariables: false,
    allowUnreachableCode: true,
    allowUnusedLabels: true,
    noErrorTruncation: false,
  };
  let roots: string[] = [];
  const host: import('typescript').LanguageServiceHost = {
    getCompilationSettings: () => options,
    getScriptFileNames: () => roots,
    getScriptVersion: (f) => String(files.get(f)?.version ?? 0),
    getScriptSnapshot: (f) => {
      const text = files.get(f)?.text ?? readLib(f);
      return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
    },
    getCurrentDirectory: () => ROOT,
    getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
    fileExists: (f) => files.has(f) || readLib(f) !== undefined,
    readFile: (f) => files.get(f)?.text ?? readLib(f),
    directoryExists: (d) => d === ROOT.slice(0, -1) || d === libDir,
    getDirectories: () => [],
    resolveModuleNameLiterals: (literals) => literals.map(() => ({ resolvedModule: undefined })),
    resolveTypeReferenceDirectiveReferences: (refs) => refs.map(() => ({ resolvedTypeReferenceDirective: undefined })),
  };
  const service = ts.createLanguageService(host, ts.createDocumentRegistry());

  /** The innermost node starting at `pos`, with its ancestors (innermost last). */
  const pathAt = (root: import('typescript').Node, pos: number): import('typescript').Node[] => {
    const path: import('typescript').Node[] = [];
    let node: import('typescript').Node | undefined = root;
    while (node) {
      path.push(node);
      let next: import('typescript').Node | undefined;
      ts.forEachChild(node, (child) => {
        if (next === undefined && child.getStart() <= pos && pos < child.getEnd()) next = child;
      });
      node = next;
    }
    return path;
  };
  // What plain JavaScript does on purpose and the checker would call an error: adding a
  // property to an object (`report.done = true`), and arithmetic or comparison on values it
  // coerces (`new Date() - start`). A model writing JavaScript means these; TypeScript keeps them.
  const ASSIGNMENTS = new Set([ts.SyntaxKind.EqualsToken, ts.SyntaxKind.PlusEqualsToken, ts.SyntaxKind.MinusEqualsToken, ts.SyntaxKind.BarBarEqualsToken, ts.SyntaxKind.QuestionQuestionEqualsToken]);
  const isJavaScriptIdiom = (file: import('typescript').SourceFile, code: number, pos: number): boolean => {
    if (code === 2362 || code === 2363 || code === 2365) return true;
    if (code !== 2339) return false;
    const path = pathAt(file, pos);
    const name = path.at(-1);
    const access = path.at(-2);
    const parent = path.at(-3);
    return (
      !!name && !!access && !!parent && ts.isPropertyAccessExpression(access) && access.name === name &&
      ts.isBinaryExpression(parent) && parent.left === access && ASSIGNMENTS.has(parent.operatorToken.kind)
    );
  };
  const put = (name: string, text: string) => {
    const f = files.get(name);
    if (f && f.text === text) return;
    files.set(name, { text, version: (f?.version ?? 0) + 1 });
  };

  parentPort!.on('message', (msg: { id: number; script: string; typescript: boolean; declarations: string; lib: string }) => {
    const t0 = performance.now();
    try {
      // Inside a function, top-level `return` and `await` are what they are at run time; the
      // user's line N is line N + 1 of this file. A hashbang line stays a line.
      const body = msg.script.startsWith('#!') ? `//${msg.script.slice(2)}` : msg.script;
      const scriptName = `${ROOT}${msg.typescript ? 'script.ts' : 'script.js'}`;
      put(`${ROOT}sandbox.d.ts`, msg.lib);
      put(`${ROOT}tools.d.ts`, msg.declarations);
      put(scriptName, HEAD + body + TAIL);
      roots = [`${ROOT}sandbox.d.ts`, `${ROOT}tools.d.ts`, scriptName];
      const userLines = body.split('\n').length;
      const source = msg.typescript ? undefined : service.getProgram()?.getSourceFile(scriptName);
      const found = [...service.getSyntacticDiagnostics(scriptName), ...service.getSemanticDiagnostics(scriptName)].filter(
        (d) => d.category === ts.DiagnosticCategory.Error && !(source && d.start !== undefined && isJavaScriptIdiom(source, d.code, d.start)),
      );
      const diagnostics = found.slice(0, config.maxDiagnostics).map((d) => {
        let text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
        if (text.length > config.maxMessageChars) text = `${text.slice(0, config.maxMessageChars - 1)}…`;
        const out: { line?: number; column?: number; message: string; code: string } = { message: text, code: `TS${d.code}` };
        if (d.file && d.start !== undefined) {
          const lc = d.file.getLineAndCharacterOfPosition(d.start);
          if (lc.line >= 1 && lc.line <= userLines) {
            out.line = lc.line;
            out.column = lc.character + 1;
          }
        }
        return out;
      });
      parentPort!.postMessage({ id: msg.id, ok: true, diagnostics, omitted: found.length - diagnostics.length, durationMs: performance.now() - t0 });
    } catch (e) {
      parentPort!.postMessage({ id: msg.id, ok: false, message: String((e as Error)?.stack ?? e) });
    }
  });
  // Parse and bind the lib files now, so that "ready" means warm: the first check's deadline
  // is then the script's alone.
  put(`${ROOT}warm.ts`, 'export {};');
  roots = [`${ROOT}warm.ts`];
  service.getSemanticDiagnostics(`${ROOT}warm.ts`);
  parentPort!.postMessage({ ready: true });
}

interface Pending {
  id: number;
  request: TypeCheckRequest;
  resolve: (r: TypeCheckResult) => void;
  reject: (e: unknown) => void;
  cold?: boolean;
  /** Sent to the worker (from then on only killing the worker stops it). */
  posted?: boolean;
  timer?: NodeJS.Timeout;
  onAbort?: () => void;
}

/**
 * A warm TypeScript checker: one worker thread, checks one at a time in arrival order. Share
 * one (`sharedTypeChecker()`) so that every executor benefits from the parsed lib files.
 */
export class TypeChecker {
  readonly #options: Required<Omit<TypeCheckerOptions, 'typescript'>> & { typescript: string };
  #worker: Worker | undefined;
  #ready: Promise<void> | undefined;
  #typescriptPath: string | undefined;
  #queue: Pending[] = [];
  #current: Pending | undefined;
  #seq = 0;
  #idle: NodeJS.Timeout | undefined;
  /** The worker has loaded TypeScript and parsed its lib files. */
  #started = false;
  #closed = false;

  constructor(options: TypeCheckerOptions = {}) {
    this.#options = {
      typescript: options.typescript ?? 'typescript',
      idleMs: options.idleMs ?? DEFAULT_IDLE_MS,
      memoryMb: options.memoryMb ?? DEFAULT_MEMORY_MB,
      maxDiagnostics: options.maxDiagnostics ?? DEFAULT_MAX_DIAGNOSTICS,
    };
  }

  /** Whether a worker is up (the next check is warm). */
  get warm(): boolean {
    return this.#started;
  }

  /**
   * Checks one script. Resolves with the diagnostics (none: the script type-checks); rejects
   * with a `TypeCheckError` when there is no answer (TypeScript missing, deadline, cancelled,
   * the checker ran out of memory).
   */
  check(request: TypeCheckRequest): Promise<TypeCheckResult> {
    if (this.#closed) return Promise.reject(new TypeCheckError('SANDBOX_CRASHED', 'The type checker has been closed'));
    if (request.signal?.aborted) return Promise.reject(new TypeCheckError('CANCELLED', 'The type check was cancelled before it started'));
    return new Promise<TypeCheckResult>((resolve, reject) => {
      const p: Pending = { id: ++this.#seq, request, resolve, reject };
      if (request.signal) {
        p.onAbort = () => {
          if (this.#current === p && p.posted) void this.#kill(new TypeCheckError('CANCELLED', 'The type check was cancelled'));
          else if (this.#current === p) {
            // Still waiting for the worker to start: it starts on for the next check.
            this.#current = undefined;
            this.#settle(p, new TypeCheckError('CANCELLED', 'The type check was cancelled before it started'));
            this.#pump();
          } else {
            this.#queue = this.#queue.filter((q) => q !== p);
            reject(new TypeCheckError('CANCELLED', 'The type check was cancelled before it started'));
          }
        };
        request.signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.#queue.push(p);
      this.#pump();
    });
  }

  /** Starts the worker and loads TypeScript ahead of the first check. */
  async warmUp(): Promise<void> {
    await this.#start();
    this.#armIdle();
  }

  /** Stops the worker; pending checks fail. */
  async close(): Promise<void> {
    this.#closed = true;
    const err = new TypeCheckError('SANDBOX_CRASHED', 'The type checker was closed');
    for (const p of this.#queue.splice(0)) this.#settle(p, err);
    await this.#kill(err);
  }

  #resolveTypescript(): string {
    if (this.#typescriptPath) return this.#typescriptPath;
    try {
      this.#typescriptPath = createRequire(import.meta.url).resolve(this.#options.typescript);
    } catch {
      throw new TypeCheckError(
        'RUNTIME_UNAVAILABLE',
        `Type checking needs TypeScript, which is not installed (looked for ${JSON.stringify(this.#options.typescript)}): run \`npm install typescript\` next to toolexec, or run without typecheck`,
      );
    }
    return this.#typescriptPath;
  }

  #start(): Promise<void> {
    if (this.#ready) return this.#ready;
    let typescriptPath: string;
    try {
      typescriptPath = this.#resolveTypescript();
    } catch (e) {
      return Promise.reject(e);
    }
    const config: WorkerConfig = { typescriptPath, maxDiagnostics: this.#options.maxDiagnostics, maxMessageChars: MAX_MESSAGE_CHARS };
    const source = [
      '"use strict";',
      'var __name = function (f) { return f; };',
      // Whatever the compiler might print must stay out of our stdout (an MCP stdio stream).
      // Silenced here rather than captured: a worker's piped stdio would keep the process alive.
      'for (const k of ["log", "info", "warn", "error", "debug", "trace"]) console[k] = function () {};',
      'process.stdout.write = function () { return true; };',
      `(${checkerWorker.toString()})(require, ${JSON.stringify(config)});`,
    ].join('\n');
    const worker = new Worker(source, {
      eval: true,
      name: 'toolexec-typecheck',
      resourceLimits: { maxOldGenerationSizeMb: this.#options.memoryMb, maxYoungGenerationSizeMb: 32 },
    });
    this.#worker = worker;
    this.#ready = new Promise<void>((resolve, reject) => {
      const startTimer = setTimeout(() => {
        void this.#kill(new TypeCheckError('SANDBOX_CRASHED', `The type checker did not start within ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
      const onFirst = (m: { ready?: boolean }) => {
        if (m?.ready) {
          clearTimeout(startTimer);
          this.#started = true;
          // Nothing but a check in progress may keep the process alive.
          worker.unref();
          worker.off('message', onFirst);
          worker.on('message', (reply: WorkerReply) => this.#onReply(worker, reply));
          resolve();
        }
      };
      worker.on('message', onFirst);
      worker.once('error', (e: Error & { code?: string }) => {
        clearTimeout(startTimer);
        const err =
          e?.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? new TypeCheckError('MEMORY_LIMIT', `The type checker ran out of memory (its heap is capped at ${this.#options.memoryMb} MB)`)
            : new TypeCheckError('SANDBOX_CRASHED', `The type checker failed: ${e?.message ?? e}`);
        reject(err);
        this.#lost(worker, err);
      });
      worker.once('exit', () => {
        clearTimeout(startTimer);
        const err = new TypeCheckError('SANDBOX_CRASHED', 'The type checker stopped');
        reject(err);
        this.#lost(worker, err);
      });
    });
    // A rejection here is reported to the check that waits on it.
    this.#ready.catch(() => {});
    return this.#ready;
  }

  #pump(): void {
    if (this.#current || this.#queue.length === 0) return;
    const p = this.#queue.shift()!;
    this.#current = p;
    clearTimeout(this.#idle);
    p.cold = !this.#started;
    const timeoutMs = p.request.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#start().then(
      () => {
        if (this.#current !== p || !this.#worker) return;
        // The deadline is the script's: loading TypeScript and its lib files (bounded by the
        // start deadline) is the checker's own cost, not something a script can stretch.
        p.timer = setTimeout(() => {
          if (this.#current === p) void this.#kill(new TypeCheckError('TIMEOUT', `The type check did not finish within ${timeoutMs} ms`));
        }, timeoutMs);
        this.#worker.ref();
        p.posted = true;
        const { script, typescript, declarations, lib } = p.request;
        this.#worker.postMessage({ id: p.id, script, typescript, declarations, lib });
      },
      (e) => {
        if (this.#current !== p) return;
        this.#current = undefined;
        this.#settle(p, e);
        this.#pump();
      },
    );
  }

  #onReply(worker: Worker, reply: WorkerReply): void {
    const p = this.#current;
    if (worker !== this.#worker || !p || reply.id !== p.id) return;
    this.#current = undefined;
    worker.unref();
    if (reply.ok) this.#settle(p, undefined, { diagnostics: reply.diagnostics ?? [], omitted: reply.omitted ?? 0, durationMs: reply.durationMs ?? 0, cold: p.cold ?? false });
    else this.#settle(p, new TypeCheckError('SANDBOX_CRASHED', `The type checker failed: ${String(reply.message).split('\n')[0]}`));
    this.#armIdle();
    this.#pump();
  }

  #settle(p: Pending, error: unknown, result?: TypeCheckResult): void {
    clearTimeout(p.timer);
    if (p.onAbort) p.request.signal?.removeEventListener('abort', p.onAbort);
    if (error) p.reject(error);
    else p.resolve(result!);
  }

  #armIdle(): void {
    clearTimeout(this.#idle);
    if (this.#current || this.#queue.length) return;
    this.#idle = setTimeout(() => void this.#kill(undefined), this.#options.idleMs);
    this.#idle.unref();
  }

  /** The worker died or was killed: the check in progress fails with `error`; the queue goes on with a new worker. */
  #lost(worker: Worker, error: TypeCheckError): void {
    if (worker !== this.#worker) return;
    this.#worker = undefined;
    this.#ready = undefined;
    this.#started = false;
    const p = this.#current;
    this.#current = undefined;
    if (p) this.#settle(p, error);
    if (!this.#closed) this.#pump();
  }

  async #kill(error: TypeCheckError | undefined): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    this.#lost(worker, error ?? new TypeCheckError('SANDBOX_CRASHED', 'The type checker was stopped'));
    await worker.terminate().catch(() => {});
  }
}

let shared: TypeChecker | undefined;

/** The process-wide checker every executor uses unless it is given one. */
export function sharedTypeChecker(): TypeChecker {
  shared ??= new TypeChecker();
  return shared;
}

// ------------------------------------------------------------------ the executor's hook

/** What the executor hands over before an execution starts. */
export interface ScriptCheck {
  script: string;
  typescript: boolean;
  index: ToolIndex;
  /** Allow-lists the tool must pass (each one that is present). */
  allowedTools: (readonly string[] | undefined)[];
  runtime: string;
  timeoutMs: number;
  /** Whether the execution has an `input` (then a global the script may read). */
  input?: boolean;
  /** Whether the execution has granted egress (then `fetch`, `Headers` and `Response` exist). */
  egress?: boolean;
  signal?: AbortSignal;
  checker?: TypeChecker;
}

/** `fetch` as runtimes/stdlib/fetch.js defines it under an egress policy (no streams, no Blob or FormData). */
const FETCH_DECLARATION = [
  'type HeadersInit = Headers | [string, string][] | Record<string, string>;',
  'declare class Headers { constructor(init?: HeadersInit); append(name: string, value: string): void; delete(name: string): void; get(name: string): string | null; getSetCookie(): string[]; has(name: string): boolean; set(name: string, value: string): void; forEach(cb: (value: string, key: string, parent: Headers) => void, thisArg?: any): void; entries(): IterableIterator<[string, string]>; keys(): IterableIterator<string>; values(): IterableIterator<string>; [Symbol.iterator](): IterableIterator<[string, string]>; }',
  'type FetchBody = string | ArrayBuffer | ArrayBufferView | { toString(): string } | null;',
  'declare class Response { constructor(body?: FetchBody, init?: { status?: number; statusText?: string; headers?: HeadersInit }); readonly status: number; readonly ok: boolean; readonly statusText: string; readonly headers: Headers; readonly url: string; readonly redirected: boolean; readonly type: string; readonly bodyUsed: boolean; text(): Promise<string>; json(): Promise<any>; arrayBuffer(): Promise<ArrayBuffer>; bytes(): Promise<Uint8Array>; clone(): Response; static json(data: unknown, init?: { status?: number; statusText?: string; headers?: HeadersInit }): Response; static error(): Response; static redirect(url: string, status?: number): Response; }',
  'declare function fetch(input: string | { href: string } | { url: string }, init?: { method?: string; headers?: HeadersInit; body?: FetchBody; redirect?: "follow" | "manual" | "error"; signal?: any }): Promise<Response>;',
  '',
].join('\n');

/** The `input` global of an execution that has one: any JSON value, so not checked further. */
const INPUT_DECLARATION = '/** The execution\'s input (a JSON value). */\ndeclare const input: any;\n';

/**
 * Checks a script before it runs: `error` is `TYPE_ERROR` with the diagnostics in the user's
 * coordinates, or why no check could be made; absent when the script type-checks.
 */
export async function checkScript(input: ScriptCheck): Promise<{ error?: ExecuteError; durationMs: number; cold?: boolean }> {
  const t0 = performance.now();
  const lists = input.allowedTools.filter((l): l is readonly string[] => l !== undefined);
  const allowed = (id: string) => lists.every((l) => l.some((p) => matchToolPattern(p, id)));
  const tools = input.index.list().filter((t) => allowed(t.id));
  const declarations = generateTypes(input.index, (t) => allowed(t.id), { docs: false });
  const runtime = input.runtime as RuntimeName;
  let result: TypeCheckResult;
  try {
    result = await (input.checker ?? sharedTypeChecker()).check({
      script: input.script,
      typescript: input.typescript,
      declarations,
      lib: sandboxLibDeclarations(runtime) + (input.input ? INPUT_DECLARATION : '') + (input.egress ? FETCH_DECLARATION : ''),
      timeoutMs: input.timeoutMs,
      ...(input.signal ? { signal: input.signal } : {}),
    });
  } catch (e) {
    const err = e instanceof TypeCheckError ? e : new TypeCheckError('SANDBOX_CRASHED', `The type checker failed: ${(e as Error)?.message ?? e}`);
    return { error: { code: err.code, message: err.message }, durationMs: performance.now() - t0 };
  }
  const durationMs = performance.now() - t0;
  if (result.diagnostics.length === 0) return { durationMs, cold: result.cold };
  const ids = tools.map((t) => t.id);
  const diagnostics = result.diagnostics.map((d) => explain(d, runtime, ids));
  const first = diagnostics[0]!;
  const count = diagnostics.length + result.omitted;
  const lines = diagnostics.map((d) => `${d.line !== undefined ? `line ${d.line}, column ${d.column}: ` : ''}${d.message} (${d.code})`);
  if (result.omitted) lines.push(`… and ${result.omitted} more`);
  const error: ExecuteError = {
    code: 'TYPE_ERROR',
    message: `The script does not type-check (${count} error${count === 1 ? '' : 's'}); nothing ran:\n${lines.join('\n')}`,
    diagnostics,
  };
  if (first.line !== undefined) {
    error.line = first.line;
    error.column = first.column!;
  }
  return { error, durationMs, cold: result.cold };
}

/** Replaces the compiler's advice where it would mislead a model in the sandbox. */
function explain(d: TypeDiagnostic, runtime: RuntimeName, ids: string[]): TypeDiagnostic {
  // 2304 "Cannot find name", 2580/2591 "... Do you need to install type definitions for node?"
  const name = /^Cannot find name '([^']+)'/.exec(d.message)?.[1];
  if (name && ['TS2304', 'TS2580', 'TS2591', 'TS2552', 'TS2582', 'TS2583', 'TS2584'].includes(d.code)) {
    const hint = missingGlobalHint(name, runtime);
    if (hint) return { ...d, message: `Cannot find name '${name}': ${hint}` };
    // The compiler's advice (install @types/node, add 'dom' to lib) is about a project; here
    // the name is just not there.
    if (d.code !== 'TS2304' && d.code !== 'TS2552') return { ...d, message: `Cannot find name '${name}': it is not available in the sandbox` };
  }
  // In JavaScript, `require("fs")` is an import to the checker; in the sandbox it is nothing.
  if (d.code === 'TS2307' || d.code === 'TS2792') {
    const module = /^Cannot find module '([^']*)'/.exec(d.message)?.[1];
    if (module !== undefined) return { ...d, message: `Cannot use module '${module}': ${missingGlobalHint('require', runtime)}` };
  }
  // A literal ID no declared tool has, at run()'s first parameter (typed `ToolId`, which the
  // compiler spells out when it is a short union).
  const bad = /^Argument of type '"([^"]*)"' is not assignable to parameter of type '(ToolId|never|"[^']*)'/.exec(d.message);
  const id = bad && !ids.includes(bad[1]!) && (bad[2] === 'ToolId' || bad[2] === 'never' || ids.some((x) => bad[2]!.includes(JSON.stringify(x)))) ? bad[1] : undefined;
  if (id !== undefined) {
    const near = closest(id, ids);
    return { ...d, message: `No tool "${id}" is available to this script${near ? `; did you mean "${near}"?` : ''}` };
  }
  return d;
}

function closest(id: string, ids: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const norm = (s: string) => s.toLowerCase().replace(/[-.]/g, '_');
  for (const candidate of ids) {
    const d = editDistance(norm(id), norm(candidate), bestD);
    if (d < bestD) {
      bestD = d;
      best = candidate;
    }
  }
  return bestD <= Math.max(2, Math.floor(id.length / 4)) ? best : undefined;
}

/** Levenshtein distance, giving up (Infinity) past `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return Infinity;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      rowMin = Math.min(rowMin, cur[j]!);
    }
    if (rowMin >= limit) return Infinity;
    prev = cur;
  }
  return prev[b.length]!;
}
