/**
 * Importing `.ts` tool modules. Node strips types itself from 22.18 and 23.6 on
 * (`process.features.typescript`); on older lines (20, early 22) toolexec registers a small
 * module loader hook that strips them with amaro, the stripper Node itself uses: types become
 * whitespace, so every line and column in a stack trace is the one in the file. The hook is
 * registered once, on the first `.ts` module, and handles the `.ts` files that module imports
 * too. Either way only erasable syntax is accepted (no `enum`, `namespace`, parameter
 * properties), and imports name their files in full (`./helper.ts`), as Node requires.
 */
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';

/** File names handled as TypeScript (ES modules). */
export const TYPESCRIPT_MODULE = /\.m?ts$/i;

/** Whether this Node strips types without help. */
export function nodeStripsTypes(): boolean {
  const f = (process.features as { typescript?: unknown }).typescript;
  return f === 'strip' || f === 'transform';
}

// The hook runs on the loader thread, so it is plain JavaScript handed over as a data: URL
// (no file to find next to the build output, and the same text under vitest and in dist).
const HOOKS = String.raw`
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
let transformSync;
export async function initialize(data) {
  const amaro = await import(data.amaroUrl);
  transformSync = (amaro.default ?? amaro).transformSync;
}
export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !/\.m?ts$/i.test(new URL(url).pathname)) return nextLoad(url, context);
  const path = fileURLToPath(url);
  const source = await readFile(path, 'utf8');
  let code;
  try {
    code = transformSync(source, { mode: 'strip-only', filename: path }).code;
  } catch (e) {
    // amaro throws either an object (message, startLine, startColumn from 0) or swc's report
    // as a string: the message, then a code frame with the position.
    const text = typeof e === 'string' ? e : String(e?.message ?? e);
    const lines = text.split('\n');
    const first = (lines.find((l) => l.trim() !== '') ?? 'invalid TypeScript').trim().replace(/^x /, '');
    let where = path;
    if (typeof e === 'object' && e !== null && typeof e.startLine === 'number') {
      where += ':' + e.startLine + ':' + ((typeof e.startColumn === 'number' ? e.startColumn : 0) + 1);
    } else {
      const caret = lines.findIndex((l) => /^\s*:\s*\^/.test(l));
      const numbered = caret > 0 ? /^\s*(\d+) \|/.exec(lines[caret - 1]) : null;
      if (numbered) where += ':' + numbered[1] + ':' + (lines[caret].indexOf('^') - lines[caret].indexOf(':') - 1);
    }
    const err = new SyntaxError(first + ' (' + where + ')');
    err.code = /not supported in strip-only mode/.test(first) ? 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX' : 'ERR_INVALID_TYPESCRIPT_SYNTAX';
    throw err;
  }
  return { format: 'module', source: code, shortCircuit: true };
}
`;

let enabled: Promise<void> | undefined;

/**
 * Makes `import()` of `.ts` files work in this process: nothing to do where Node strips types
 * itself, else the amaro hook is registered (once). Rejects with an install hint when amaro
 * is missing.
 */
export function enableTypeScriptModules(): Promise<void> {
  if (nodeStripsTypes()) return Promise.resolve();
  enabled ??= (async () => {
    let amaroUrl: string;
    try {
      amaroUrl = pathToFileURL(createRequire(import.meta.url).resolve('amaro')).href;
    } catch {
      throw new Error(`loading a .ts tool module on Node ${process.versions.node} needs the amaro package (npm install amaro), or Node 22.18 or later, which strips types itself`);
    }
    register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, { parentURL: import.meta.url, data: { amaroUrl } });
  })();
  enabled.catch(() => {
    enabled = undefined;
  });
  return enabled;
}
