/**
 * The far sides of every runtime boundary live as plain JavaScript files under `runtimes/`
 * (DESIGN.md "Layers": guest code is loaded as text or run by path, never imported by `src/`):
 *
 *   runtimes/prelude.js              the guest prelude, the same text in every sandbox
 *   runtimes/<name>/...              what runs on the far side of runtime <name>'s boundary
 *
 * `src/runtime/` and `dist/runtime/` are both one level below the package root's `src`/`dist`,
 * so the same relative URL finds `runtimes/` from either.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = new URL('../../runtimes/', import.meta.url);

/** Absolute path of a file under `runtimes/` (e.g. `quickjs/worker.js`). */
export function guestPath(relative: string): string {
  return fileURLToPath(new URL(relative, ROOT));
}

/** Absolute path of the prelude. */
export const PRELUDE_PATH = guestPath('prelude.js');

/** The filename the prelude is evaluated under in every runtime (stack frames are dropped by it). */
export const PRELUDE_FILENAME = 'toolexec-prelude.js';

let cached: string | undefined;

/**
 * The prelude's source text (read once per process), without its comment lines and
 * indentation: QuickJS compiles every byte of it for every fresh context, and the comments were
 * a third of the file. Only whole-line `//` comments go, which is safe for this file (it has no
 * multi-line string holding such a line: the formatter source in it is code too).
 */
export function loadPrelude(): string {
  cached ??= compactPrelude(readFileSync(PRELUDE_PATH, 'utf8'));
  return cached;
}

/** Removes whole-line `//` comments, blank lines and leading indentation. */
export function compactPrelude(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trimStart())
    .filter((line) => line.length > 0 && !line.startsWith('//'))
    .join('\n');
}

let servicesBundle: { services: string; stdlib: Record<string, string> } | undefined;

/**
 * The far-side services (`runtimes/services.js`) and the standard library's sources
 * (`runtimes/stdlib/*.js`) as text, for a far side that cannot read them from this package
 * (the Docker agent gets them in its init message). Read once per process.
 */
export function loadServicesBundle(): { services: string; stdlib: Record<string, string> } {
  if (!servicesBundle) {
    const services = readFileSync(guestPath('services.js'), 'utf8');
    const names = /const STDLIB = \[([^\]]*)\]/.exec(services)?.[1]?.match(/'[a-z0-9]+'/g)?.map((n) => n.slice(1, -1)) ?? [];
    const stdlib: Record<string, string> = {};
    for (const name of names) stdlib[name] = readFileSync(guestPath(`stdlib/${name}.js`), 'utf8');
    servicesBundle = { services, stdlib };
  }
  return servicesBundle;
}
