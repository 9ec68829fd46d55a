// The Docker runtime behind the other entry points: untrusted plugin tools (SandboxBackend)
// and `toolexec exec --runtime docker`. Skips with the reason when Docker is unavailable;
// docker-runtime.test.ts fails instead under TOOLEXEC_REQUIRE_DOCKER=1.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { SandboxBackend } from '../../../src/code/sandbox-backend.js';
import { ToolError } from '../../../src/model/errors.js';
import { Runner } from '../../../src/run/runner.js';
import { ourContainers, probeDocker } from './helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const probe = await probeDocker();
if (!probe.available) console.warn(`[docker plugins and CLI] skipped: ${probe.reason}`);

describe.skipIf(!probe.available)('docker: plugins and CLI', () => {
  const runner = new Runner();
  runner.register({ namespace: 'math', name: 'add', handler: async ({ a, b }: { a: number; b: number }) => ({ sum: a + b }) });
  runner.register({ namespace: 'secret', name: 'read', handler: async () => ({ secret: 'hunter2' }) });
  const backend = new SandboxBackend({ runner, runtime: 'docker', limits: { timeoutMs: 20_000 } });
  runner.use(backend);
  backend.register({
    namespace: 'plugin',
    name: 'sum3',
    code: 'export default async ({ a, b, c }) => {\n  const ab = await tools.math.add({ a, b });\n  return (await run("math:add", { a: ab.sum, b: c })).sum;\n}',
    allowedTools: ['math:*'],
  });
  backend.register({ namespace: 'plugin', name: 'snoop', code: 'export default async () => run("secret:read", {})', allowedTools: ['math:*'] });
  backend.register({ namespace: 'plugin', name: 'netcat', code: 'export default async () => { try { require("net"); return "loaded"; } catch (e) { return [typeof process, e.message]; } }' });
  afterAll(async () => {
    await backend.dispose();
    expect(await ourContainers()).toEqual([]);
  });

  it('runs a plugin tool in a container, calling the tools it is allowed', async () => {
    const r = await runner.run('plugin:sum3', { a: 1, b: 2, c: 3 });
    expect(r.structured).toBe(6);
    expect(r.backend.kind).toBe('sandbox');
  });

  it('refuses the tools a plugin is not allowed to call', async () => {
    const err = await runner.run('plugin:snoop', {}).catch((e: unknown) => e);
    expect(ToolError.is(err, 'EXECUTION')).toBe(true);
    expect((err as ToolError).message).toMatch(/TOOL_NOT_ALLOWED/);
  });

  it('gives plugin code no Node module loader', async () => {
    // `require` is the prelude's stub, which only says that there are no modules.
    expect((await runner.run('plugin:netcat', {})).structured).toEqual(['undefined', expect.stringMatching(/^require\("net"\) is not available in the sandbox/)]);
  });

  it('toolexec exec --runtime docker runs the seed journey', () => {
    const r = spawnSync(process.execPath, ['dist/cli/main.js', 'exec', 'examples/orchestrate.js', '--tools', 'examples/tools.mjs', '--runtime', 'docker', '--json'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.ok).toBe(true);
    expect(result.stats.runtime).toBe('docker');
    expect(result.toolCalls.map((c: { toolId: string }) => c.toolId)).toContain('github:create_issue');
  });
});
