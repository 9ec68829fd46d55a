// What toolexec tells the MCP servers it connects to: its own name and version, read from
// its package.json (not a number written into the source that a release forgets to bump).
import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runner } from '../../../src/run/runner.js';
import { DEFAULT_CLIENT_INFO } from '../../../src/backends/mcp/connection.js';
import { connectMcpServers, type McpServersHandle } from '../../../src/backends/mcp/hub.js';
import { parseMcpServers } from '../../../src/backends/mcp/config.js';
import { FIXTURE_SERVER, fixtureStdio } from './helpers.js';

const ROOT = join(FIXTURE_SERVER, '..', '..', '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

describe('MCP clientInfo', () => {
  let handle: McpServersHandle | undefined;
  afterAll(() => handle?.close());

  it('an upstream server sees the package name and version', async () => {
    const runner = new Runner();
    handle = await connectMcpServers(parseMcpServers({ fx: fixtureStdio() }), { runner, index: runner.index, onServerError: 'throw' });
    const { structured } = await runner.run('fx:pid', {});
    expect((structured as { client: unknown }).client).toEqual({ name: pkg.name, version: pkg.version });
    expect(DEFAULT_CLIENT_INFO).toEqual({ name: pkg.name, version: pkg.version });
  });

  it('follows the installed package.json: a copy of the build with another version announces that version', () => {
    // The build (npm test builds first) next to a package.json with a version no source file
    // contains; node_modules is the real one, linked.
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-version-'));
    cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'toolexec', version: '0.0.0-version-probe', type: 'module' }));
    const script = `
      const { Runner } = await import(${JSON.stringify(join(dir, 'dist', 'run', 'runner.js'))});
      const { connectMcpServers, parseMcpServers } = await import(${JSON.stringify(join(dir, 'dist', 'mcp.js'))});
      const runner = new Runner();
      const handle = await connectMcpServers(parseMcpServers({ fx: ${JSON.stringify(fixtureStdio())} }), { runner, index: runner.index, onServerError: 'throw' });
      const { structured } = await runner.run('fx:pid', {});
      console.log(JSON.stringify(structured.client));
      await handle.close();
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    rmSync(dir, { recursive: true, force: true });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ name: 'toolexec', version: '0.0.0-version-probe' });
  });
});
