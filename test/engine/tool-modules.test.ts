// Tool modules are checked at load, before any tool can be called: schemas compiled,
// duplicate IDs refused unless `replace: true`, MCP namespaces kept for their servers, and
// `.ts` modules loaded (types stripped: by Node where it can, else by amaro through a loader
// hook), run through the built CLI as users run it.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkConfig } from '../../src/config/load-config.js';
import { createEngine } from '../../src/engine/engine.js';
import { loadToolModules, ToolModuleError } from '../../src/engine/tool-modules.js';
import { nodeStripsTypes } from '../../src/engine/typescript-modules.js';
import { Runner } from '../../src/run/runner.js';
import { CLI, ROOT } from '../server/helpers.js';

const fixtures = join(ROOT, 'test', 'fixtures', 'engine');
const math = join(ROOT, 'test', 'fixtures', 'cli', 'math-tools.mjs');

async function loadError(paths: string[]): Promise<ToolModuleError> {
  const runner = new Runner();
  try {
    await loadToolModules(paths, runner);
  } catch (e) {
    expect(e).toBeInstanceOf(ToolModuleError);
    return e as ToolModuleError;
  } finally {
    await runner.dispose();
  }
  throw new Error('the modules loaded');
}

function toolexec(args: string[], cwd = ROOT) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('tool modules checked at load', () => {
  it('compiles schemas: a bad one names the module, the tool and the problem', async () => {
    const e = await loadError([join(fixtures, 'bad-input-schema.mjs')]);
    expect(e.message).toMatch(/bad-input-schema\.mjs: tool #0 \(bad:typo\) has an invalid inputSchema: .*type/);
    const out = await loadError([join(fixtures, 'bad-output-schema.mjs')]);
    expect(out.message).toMatch(/bad-output-schema\.mjs: tool #1 \(bad:out\) has an invalid outputSchema: .*minimum/);
  });

  it('refuses a duplicate ID, across modules or within one, naming both places', async () => {
    const across = await loadError([math, join(fixtures, 'math-again.mjs')]);
    expect(across.message).toMatch(/math-again\.mjs: tool #0 \(math:add\) has the ID math:add, like tool #0 \(math:add\) in .*math-tools\.mjs; rename one, or set replace: true/);
    const within = await loadError([join(fixtures, 'twice-in-one.mjs')]);
    expect(within.message).toMatch(/tool #1 \(dup:x\) has the ID dup:x, like tool #0 \(dup:x\) in .*twice-in-one\.mjs/);
  });

  it('lets a later tool replace an earlier one when it says replace: true', async () => {
    const runner = new Runner();
    try {
      await loadToolModules([math, join(fixtures, 'math-replace.mjs')], runner);
      expect((await runner.run('math:add', { a: 1, b: 2 })).structured).toEqual({ sum: 3, replaced: true });
      expect(runner.index.get('math:add')?.tool.outputSchema).toBeUndefined();
    } finally {
      await runner.dispose();
    }
  });

  it("keeps an MCP server's namespace for its tools", async () => {
    const config = checkConfig({ mcpServers: { math: { command: 'never-started' } }, tools: [math] });
    await expect(createEngine(config, { connect: false })).rejects.toThrow(/math-tools\.mjs: tool #0 \(math:add\) uses the namespace "math", which belongs to the MCP server mcpServers\.math/);
    // A disabled server owns nothing.
    const off = checkConfig({ mcpServers: { math: { command: 'never-started', disabled: true } }, tools: [math] });
    const engine = await createEngine(off, { connect: false });
    await engine.close();
  });
});

describe('TypeScript tool modules', () => {
  it(`loads a .ts module that imports another .ts file (${nodeStripsTypes() ? "Node's own type stripping" : 'amaro loader hook'})`, () => {
    const r = toolexec(['run', 'tsmath:mul', '{"a":6,"b":7}', '--tools', join(fixtures, 'ts', 'tools.ts')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ product: 42 });
  });

  it('keeps lines and columns: a stack frame points into the .ts file as written', () => {
    const r = toolexec(['run', 'tsmath:where', '{}', '--tools', join(fixtures, 'ts', 'tools.ts')]);
    expect(r.code).toBe(0);
    // Where `new Error` sits in the file as written, types and all.
    const lines = readFileSync(join(fixtures, 'ts', 'tools.ts'), 'utf8').split('\n');
    const line = lines.findIndex((l) => l.includes("new Error('here')"));
    const column = lines[line]!.indexOf("new Error('here')") + 1;
    expect(JSON.parse(r.stdout).frame).toMatch(new RegExp(`tools\\.ts:${line + 1}:${column}\\)?$`));
  });

  it('says what to do with syntax that cannot be stripped, and with an import missing its extension', () => {
    const e = toolexec(['run', 'ts:color', '{}', '--tools', join(fixtures, 'ts', 'enum.ts')]);
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/enum\.ts: failed to import: TypeScript enum is not supported in strip-only mode.*enum, namespace and parameter properties need a compiler/);
    const n = toolexec(['run', 'ts:x', '{}', '--tools', join(fixtures, 'ts', 'no-extension.ts')]);
    expect(n.code).toBe(2);
    expect(n.stderr).toMatch(/no-extension\.ts: failed to import: .*math.*imports other files by their full name, "\.\/helper\.ts"/);
  });

  it('resolves --tools against the working directory', () => {
    const r = toolexec(['run', 'tsmath:mul', '{"a":2,"b":3}', '--tools', './ts/tools.ts'], fixtures);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ product: 6 });
  });
});
