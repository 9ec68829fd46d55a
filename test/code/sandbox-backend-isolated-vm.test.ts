// Untrusted plugin tools on the isolated-vm runtime (the QuickJS case is sandbox-backend.test.ts,
// Docker's is test/runtime/docker/plugins-and-cli.test.ts).
import { afterAll, describe, expect, it } from 'vitest';
import { SandboxBackend } from '../../src/code/sandbox-backend.js';
import { ToolError } from '../../src/model/errors.js';
import { Runner } from '../../src/run/runner.js';

describe('sandbox backend on isolated-vm', () => {
  const runner = new Runner();
  runner.register({ namespace: 'math', name: 'add', handler: async ({ a, b }: { a: number; b: number }) => ({ sum: a + b }) });
  const backend = new SandboxBackend({ runner, runtime: 'isolated-vm', limits: { timeoutMs: 10_000 } });
  runner.use(backend);
  backend.register({ namespace: 'plugin', name: 'sum3', code: 'export default async ({ a, b, c }) => (await run("math:add", { a: (await tools.math.add({ a, b })).sum, b: c })).sum', allowedTools: ['math:*'] });
  backend.register({ namespace: 'plugin', name: 'spin', code: 'export default () => { for (;;) {} }', limits: { timeoutMs: 300 } });
  afterAll(() => backend.dispose());

  it('runs plugin code that calls allowed tools', async () => {
    expect((await runner.run('plugin:sum3', { a: 1, b: 2, c: 3 })).structured).toBe(6);
  });

  it('passes arguments as data: a __proto__ key stays an own property', async () => {
    backend.register({ namespace: 'plugin', name: 'keys', code: 'export default (args) => [Object.keys(args), args.polluted === undefined]' });
    const hostile = JSON.parse('{"__proto__": {"polluted": 1}, "k": 2}') as Record<string, unknown>;
    expect((await runner.run('plugin:keys', hostile)).structured).toEqual([['__proto__', 'k'], true]);
    expect((await runner.run('plugin:sum3', { a: 1, b: 1, c: 1 })).structured).toBe(3);
  });

  it('stops a runaway plugin and keeps working', async () => {
    const err = await runner.run('plugin:spin', {}).catch((e: unknown) => e);
    expect(ToolError.is(err, 'TIMEOUT')).toBe(true);
    expect((await runner.run('plugin:sum3', { a: 1, b: 1, c: 1 })).structured).toBe(3);
  });
});
