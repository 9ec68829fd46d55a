/**
 * What a script finds in the sandbox beyond `run`, `tools`, `searchTools` and `describeTool`
 * (DESIGN.md "The sandbox's standard library"), as one table. The same table writes the
 * "the sandbox" paragraph of the declarations a model reads and the ambient declarations the
 * type checker uses, so both say what the runtimes really have: a test runs each runtime and
 * compares. When a runtime gains one of these globals, change its `runtimes` here (and the
 * test tells you if you forget).
 */
import type { RuntimeName } from '../runtime/types.js';

/** One web-platform global DESIGN.md promises, where it exists today, and its declaration for the checker. */
export interface SandboxGlobal {
  /** The names it puts on `globalThis`. */
  names: readonly string[];
  /** Runtimes that have it today. */
  runtimes: readonly RuntimeName[];
  /** TypeScript declarations for the checker ('' when the ECMAScript lib already has them). */
  declaration: string;
}

const ALL: readonly RuntimeName[] = ['quickjs', 'isolated-vm', 'docker'];

/** The standard library of DESIGN.md beyond ECMAScript itself. */
export const SANDBOX_GLOBALS: readonly SandboxGlobal[] = [
  // ECMA-402. The ECMAScript lib declares it, so a script using it type-checks everywhere.
  { names: ['Intl'], runtimes: ALL, declaration: '' },
  {
    names: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'],
    runtimes: ALL,
    declaration: [
      'declare function setTimeout(handler: (...args: any[]) => void, timeout?: number, ...args: any[]): number;',
      'declare function clearTimeout(id: number | undefined): void;',
      'declare function setInterval(handler: (...args: any[]) => void, timeout?: number, ...args: any[]): number;',
      'declare function clearInterval(id: number | undefined): void;',
    ].join('\n'),
  },
  { names: ['queueMicrotask'], runtimes: ALL, declaration: 'declare function queueMicrotask(callback: () => void): void;' },
  { names: ['structuredClone'], runtimes: ALL, declaration: 'declare function structuredClone<T>(value: T): T;' },
  {
    names: ['URL', 'URLSearchParams'],
    runtimes: ALL,
    declaration: [
      'declare class URLSearchParams { constructor(init?: string | Record<string, string> | [string, string][] | URLSearchParams); readonly size: number; append(name: string, value: string): void; delete(name: string, value?: string): void; get(name: string): string | null; getAll(name: string): string[]; has(name: string, value?: string): boolean; set(name: string, value: string): void; sort(): void; toString(): string; forEach(cb: (value: string, key: string, parent: URLSearchParams) => void): void; keys(): IterableIterator<string>; values(): IterableIterator<string>; entries(): IterableIterator<[string, string]>; [Symbol.iterator](): IterableIterator<[string, string]>; }',
      'declare class URL { constructor(url: string | URL, base?: string | URL); static canParse(url: string | URL, base?: string | URL): boolean; hash: string; host: string; hostname: string; href: string; readonly origin: string; password: string; pathname: string; port: string; protocol: string; search: string; readonly searchParams: URLSearchParams; username: string; toString(): string; toJSON(): string; }',
    ].join('\n'),
  },
  {
    names: ['TextEncoder', 'TextDecoder'],
    runtimes: ALL,
    declaration: [
      'declare class TextEncoder { readonly encoding: "utf-8"; encode(input?: string): Uint8Array; encodeInto(source: string, destination: Uint8Array): { read: number; written: number }; }',
      'declare class TextDecoder { constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean }); readonly encoding: string; readonly fatal: boolean; readonly ignoreBOM: boolean; decode(input?: ArrayBuffer | ArrayBufferView, options?: { stream?: boolean }): string; }',
    ].join('\n'),
  },
  { names: ['atob', 'btoa'], runtimes: ALL, declaration: 'declare function atob(data: string): string;\ndeclare function btoa(data: string): string;' },
  {
    names: ['crypto'],
    runtimes: ALL,
    declaration: 'declare const crypto: { randomUUID(): `${string}-${string}-${string}-${string}-${string}`; getRandomValues<T extends Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array>(array: T): T };',
  },
  { names: ['performance'], runtimes: ALL, declaration: 'declare const performance: { now(): number; readonly timeOrigin: number };' },
  {
    names: ['Event', 'EventTarget', 'CustomEvent', 'AbortController', 'AbortSignal', 'DOMException'],
    runtimes: ALL,
    declaration: [
      'declare class Event { constructor(type: string, init?: { bubbles?: boolean; cancelable?: boolean; composed?: boolean }); readonly type: string; readonly defaultPrevented: boolean; readonly cancelable: boolean; readonly timeStamp: number; readonly target: EventTarget | null; readonly currentTarget: EventTarget | null; preventDefault(): void; stopPropagation(): void; stopImmediatePropagation(): void; }',
      'declare class EventTarget { addEventListener(type: string, listener: ((event: Event) => void) | { handleEvent(event: Event): void } | null, options?: boolean | { once?: boolean; signal?: AbortSignal }): void; removeEventListener(type: string, listener: ((event: Event) => void) | { handleEvent(event: Event): void } | null, options?: boolean | {}): void; dispatchEvent(event: Event): boolean; }',
      'declare class AbortSignal extends EventTarget { readonly aborted: boolean; readonly reason: any; onabort: ((event: Event) => void) | null; throwIfAborted(): void; static abort(reason?: any): AbortSignal; static timeout(milliseconds: number): AbortSignal; static any(signals: AbortSignal[]): AbortSignal; }',
      'declare class AbortController { readonly signal: AbortSignal; abort(reason?: any): void; }',
      'declare class CustomEvent<T = any> extends Event { constructor(type: string, init?: { bubbles?: boolean; cancelable?: boolean; composed?: boolean; detail?: T }); readonly detail: T; }',
      'declare class DOMException extends Error { constructor(message?: string, options?: string | { name?: string; cause?: unknown }); readonly name: string; readonly message: string; readonly code: number; }',
    ].join('\n'),
  },
];

/** Never in the sandbox, in any runtime (DESIGN.md), with what to do instead. */
export const ABSENT_GLOBALS: Readonly<Record<string, string>> = {
  require: 'there are no modules; tools are reached with run()',
  process: 'there is no process; the script sees only its tools',
  Buffer: 'Node.js APIs are not available',
  WebAssembly: 'WebAssembly is not available',
  fetch: 'there is no network access; call tools with run()',
  XMLHttpRequest: 'there is no network access; call tools with run()',
  WebSocket: 'there is no network access; call tools with run()',
};

/**
 * Where a runtime still has one of `ABSENT_GLOBALS`, against DESIGN.md. The declarations keep
 * calling it never available (a script must not rely on it, and the checker rejects it); the
 * runtime test lists it here so that the gap stays visible until the runtime closes it.
 */
export const KNOWN_DEVIATIONS: Readonly<Record<string, readonly RuntimeName[]>> = {
  // The Docker agent's vm context keeps V8's WebAssembly object.
  WebAssembly: ['docker'],
};

/** The captured console, the one host-like global every runtime has. */
const CONSOLE_DECLARATION =
  'declare const console: { log(...data: any[]): void; info(...data: any[]): void; warn(...data: any[]): void; error(...data: any[]): void; debug(...data: any[]): void };';

/** Whether every global of `g` exists in `runtime` (or, without one, in every runtime). */
function present(g: SandboxGlobal, runtime?: RuntimeName): boolean {
  return runtime === undefined ? ALL.every((r) => g.runtimes.includes(r)) : g.runtimes.includes(runtime);
}

/** Ambient declarations of what `runtime` offers beyond ECMAScript: for the type checker. */
export function sandboxLibDeclarations(runtime: RuntimeName): string {
  const parts = [CONSOLE_DECLARATION];
  for (const g of SANDBOX_GLOBALS) if (present(g, runtime) && g.declaration) parts.push(g.declaration);
  return `${parts.join('\n')}\n`;
}

/** Why `name` is missing in `runtime`, when it is a global a model may expect; else undefined. */
export function missingGlobalHint(name: string, runtime: RuntimeName): string | undefined {
  if (ABSENT_GLOBALS[name]) return ABSENT_GLOBALS[name];
  const g = SANDBOX_GLOBALS.find((x) => x.names.includes(name));
  if (!g || present(g, runtime)) return undefined;
  return g.runtimes.length > 0 ? `${name} is not available in the ${runtime} runtime (it is in ${g.runtimes.join(', ')})` : `${name} is not available in the sandbox`;
}

const code = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(', ');

/**
 * The "the sandbox" paragraph of the declarations: what a script can use, what it cannot,
 * and that nothing survives an execution. Comment lines, ready to put in a `.d.ts` text.
 */
export function sandboxParagraph(): string {
  const everywhere = SANDBOX_GLOBALS.filter((g) => present(g));
  const some = SANDBOX_GLOBALS.filter((g) => !present(g) && g.runtimes.length > 0);
  const none = SANDBOX_GLOBALS.filter((g) => g.runtimes.length === 0);
  const lines = [
    `The sandbox: ECMAScript 2023 built-ins (JSON, Math, Date, RegExp, Map, Set, Promise, typed arrays) and \`console\`${everywhere.length ? `, plus ${code(everywhere.flatMap((g) => g.names))}` : ''}.`,
    ...some.map((g) => `${code(g.names)}: only on ${g.runtimes.join(' and ')}.`),
    ...(none.length ? [`Not available: ${code(none.flatMap((g) => g.names))}.`] : []),
    `Never available: \`import\` and \`require\` (no modules: reach tools with run()), \`process\`, the file system, \`WebAssembly\`, and the network (no \`fetch\`) unless the server grants it.`,
    'Every execution starts from nothing: no variable, global or module state survives between executions.',
  ];
  return lines.map((l) => `// ${l}`).join('\n');
}
