// The sandbox table (what the declarations and the type checker say a script has) against
// what each runtime really has: a global the table lists for a runtime must be there, one it
// does not list must not be, and the never-available ones are absent everywhere.
import { afterAll, describe, expect, it } from 'vitest';
import { Executor } from '../../src/code/executor.js';
import { ABSENT_GLOBALS, KNOWN_DEVIATIONS, SANDBOX_GLOBALS, sandboxLibDeclarations, sandboxParagraph } from '../../src/code/sandbox-globals.js';
import type { RuntimeName } from '../../src/runtime/types.js';
import { Runner } from '../../src/run/runner.js';
import { probeDocker } from '../runtime/docker/helpers.js';
import { typecheck } from './tsc.js';

// `require` is there in every runtime as a stub that says there are no modules: probed by calling it.
const names = [...SANDBOX_GLOBALS.flatMap((g) => g.names), ...Object.keys(ABSENT_GLOBALS).filter((n) => n !== 'require')];
const probeScript = `const out = Object.fromEntries(${JSON.stringify(names)}.map((n) => [n, typeof globalThis[n] !== 'undefined']));
try { require('fs'); out.require = true; } catch (e) { out.require = !/not available in the sandbox/.test(String(e && e.message)); }
return out;`;

const docker = await probeDocker();
const executors: Executor[] = [];
afterAll(async () => {
  for (const e of executors) await e.dispose();
});

function expected(runtime: RuntimeName): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const g of SANDBOX_GLOBALS) for (const n of g.names) out[n] = g.runtimes.includes(runtime);
  for (const n of Object.keys(ABSENT_GLOBALS)) out[n] = KNOWN_DEVIATIONS[n]?.includes(runtime) ?? false;
  return out;
}

describe.each([
  ['quickjs', true],
  ['isolated-vm', true],
  ['docker', docker.available],
] as const)('the %s runtime has what the table says', (runtime, available) => {
  it.skipIf(!available)('present and absent globals', { timeout: 60_000 }, async () => {
    const executor = new Executor({ runner: new Runner(), runtime });
    executors.push(executor);
    const r = await executor.execute(probeScript);
    expect(r.error).toBeUndefined();
    expect(r.value).toEqual(expected(runtime));
  });
});

describe('the sandbox paragraph and the checker lib', () => {
  it('the paragraph names every global of the table, once, in the right sentence', () => {
    const text = sandboxParagraph();
    for (const g of SANDBOX_GLOBALS) {
      for (const n of g.names) expect(text).toContain(`\`${n}\``);
      if (g.runtimes.length === 0) expect(text).toMatch(new RegExp(`Not available: [^\\n]*\`${g.names[0]}\``));
    }
    expect(text.split('\n').every((l) => l.startsWith('// '))).toBe(true);
  });

  it('every declaration is valid TypeScript, whichever globals a runtime has', () => {
    const all = SANDBOX_GLOBALS.map((g) => g.declaration).join('\n');
    expect(typecheck(all, 'const u = new URL("https://x.test/a?b=1"); const s: string | null = u.searchParams.get("b"); void s; void setTimeout(() => 0, 1); void new TextEncoder().encode("x"); void AbortSignal.timeout(5);')).toEqual([]);
    // Each runtime's lib on its own (their globals declared under distinct names, so one program checks all three).
    const libs = (['quickjs', 'isolated-vm', 'docker'] as const).map((r) => `declare namespace lib_${r.replace('-', '_')} {\n${sandboxLibDeclarations(r).replace(/^declare /gm, '')}}`).join('\n');
    expect(typecheck(libs, 'lib_quickjs.console.log(1);')).toEqual([]);
  });
});
