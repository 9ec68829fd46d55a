/**
 * Access to the guest prelude (`runtimes/prelude.js`), the same text for every runtime.
 * It is read as text, never imported: it runs inside the sandbox, not in the host.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of the prelude; `src/runtime/` and `dist/runtime/` are both two levels below the package root. */
export const PRELUDE_PATH = fileURLToPath(new URL('../../runtimes/prelude.js', import.meta.url));

let cached: string | undefined;

/** The prelude's source text (read once per process). */
export function loadPrelude(): string {
  cached ??= readFileSync(PRELUDE_PATH, 'utf8');
  return cached;
}
