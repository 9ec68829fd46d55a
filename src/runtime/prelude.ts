/**
 * Access to the guest prelude (`runtimes/prelude.js`), the same text for every runtime.
 * It is read as text, never imported: it runs inside the sandbox, not in the host.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of the prelude; `src/runtime/` and `dist/runtime/` are both two levels below the package root. */
export const PRELUDE_PATH = fileURLToPath(new URL('../../runtimes/prelude.js', import.meta.url));

let cached: string | undefined;

/**
 * The prelude's source text (read once per process), without its comment lines and
 * indentation: QuickJS compiles every byte of it for every execution, and the comments were
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
