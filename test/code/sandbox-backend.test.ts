import { afterAll, describe, expect, it } from 'vitest';
import { SandboxBackend, pluginScript } from '../../src/code/sandbox-backend.js';
import { Executor } from '../../src/code/executor.js';
import { preparationCount } from '../../src/code/prepare.js';
import { ToolError } from '../../src/model/errors.js';
import { Runner } from '../../src/run/runner.js';

describe('sandbox backend (untrusted plugin tools)', () => {
  const runner = new Runner();
  runner.register({ namespace: 'math', name: 'add', inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] }, handler: async ({ a, b }: { a: number; b: number }) => ({ sum: a + b }) });
  runner.register({ namespace: 'secret', name: 'read', handler: async () => ({ secret: 'hunter2' }) });
  const backend = new SandboxBackend({ runner, limits: { timeoutMs: 5000 } });
  runner.use(backend);
  afterAll(async () => {
    await backend.dispose();
  });

  backend.register({
    namespace: 'plugin',
    name: 'double',
    description: 'Doubles n',
    inputSchema: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] },
    outputSchema: { type: 'object', properties: { doubled: { type: 'number' } }, required: ['doubled'] },
    code: 'export default async (args: { n: number }) => ({ doubled: args.n * 2 });',
  });
  backend.register({
    namespace: 'plugin',
    name: 'sum3',
    code: 'export default async function sum3({ a, b, c }) {\n  const ab = await tools.math.add({ a, b });\n  return (await run("math:add", { a: ab.sum, b: c })).sum;\n}',
    allowedTools: ['math:*'],
  });
  backend.register({ namespace: 'plugin', name: 'snoop', code: 'export default async () => run("secret:read", {})' });
  backend.register({ namespace: 'plugin', name: 'spin', code: 'export default () => { while (true) {} }', limits: { timeoutMs: 300 } });
  backend.register({ namespace: 'plugin', name: 'thrower', code: 'export default async () => {\n  null.x;\n}' });

  it('runs plugin code through the runner, with schemas enforced', async () => {
    const r = await runner.run('plugin:double', { n: 21 });
    expect(r.structured).toEqual({ doubled: 42 });
    expect(r.backend).toEqual({ kind: 'sandbox', name: 'sandbox' });
    await expect(runner.run('plugin:double', { n: 'x' })).rejects.toMatchObject({ code: 'INPUT_VALIDATION' });
  });

  it('lets a plugin call the tools it is allowed', async () => {
    expect((await runner.run('plugin:sum3', { a: 1, b: 2, c: 3 })).structured).toBe(6);
  });

  it('refuses tools a plugin is not allowed to call', async () => {
    const err = await runner.run('plugin:snoop', {}).catch((e: unknown) => e);
    expect(ToolError.is(err, 'EXECUTION')).toBe(true);
    expect((err as ToolError).message).toMatch(/TOOL_NOT_ALLOWED/);
  });

  it('stops a runaway plugin at its limit and keeps working', async () => {
    const err = await runner.run('plugin:spin', {}).catch((e: unknown) => e);
    expect(ToolError.is(err, 'TIMEOUT')).toBe(true);
    expect((await runner.run('plugin:double', { n: 1 })).structured).toEqual({ doubled: 2 });
  });

  it('reports a plugin crash with its line', async () => {
    const err = (await runner.run('plugin:thrower', {}).catch((e: unknown) => e)) as ToolError;
    expect(err.code).toBe('EXECUTION');
    expect(err.message).toMatch(/RUNTIME_ERROR at line 2/);
  });

  it('refuses bad plugin code at registration', () => {
    expect(() => backend.register({ name: 'nodefault', code: 'const x = 1;' })).toThrow(/exactly one `export default`/);
    expect(() => backend.register({ name: 'broken', code: 'export default async () => {' })).toThrow(/SyntaxError/);
    expect(() => backend.register({ name: 'imports', code: 'import fs from "fs";\nexport default () => fs' })).toThrow(/cannot use import/);
  });

  it('passes arguments as data: a __proto__ key stays an own property, never a prototype', async () => {
    // The schema forbids isAdmin: true and allows any object under any other key.
    backend.register({
      namespace: 'plugin',
      name: 'whoami',
      inputSchema: { type: 'object', properties: { isAdmin: { const: false } }, additionalProperties: { type: 'object' } },
      code: 'export default async (args) => ({ admin: args.isAdmin === true, own: Object.keys(args), plain: Object.getPrototypeOf(args) === Object.prototype })',
    });
    const hostile = JSON.parse('{"__proto__": {"isAdmin": true}}') as Record<string, unknown>;
    expect((await runner.run('plugin:whoami', hostile)).structured).toEqual({ admin: false, own: ['__proto__'], plain: true });
    await expect(runner.run('plugin:whoami', { isAdmin: true })).rejects.toMatchObject({ code: 'INPUT_VALIDATION' });
    expect((await runner.run('plugin:double', { n: 5 })).structured).toEqual({ doubled: 10 });
  });

  it('prepares a plugin once, whatever its arguments', async () => {
    const before = preparationCount();
    backend.register({ namespace: 'plugin', name: 'square', code: 'export default ({ n }) => n * n' });
    const results = [];
    for (let n = 1; n <= 6; n++) results.push((await runner.run('plugin:square', { n })).structured);
    expect(results).toEqual([1, 4, 9, 16, 25, 36]);
    expect(preparationCount() - before).toBe(1);
  });

  it('is callable from scripts like any other tool', async () => {
    const executor = new Executor({ runner });
    try {
      const r = await executor.execute('(await tools.plugin.double({ n: 4 })).doubled');
      expect(r.value).toBe(8);
    } finally {
      await executor.dispose();
    }
  });

  it('builds scripts that keep the plugin line numbers', () => {
    expect(pluginScript('export default (a) => a')).toBe('const __toolexec_plugin_main = (a) => a\n;return await __toolexec_plugin_main(globalThis.input);');
  });
});
