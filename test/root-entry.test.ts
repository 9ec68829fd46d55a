import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('root entry', () => {
  it('importing toolexec loads neither isolated-vm nor dockerode nor typescript', () => {
    // A fresh process, so nothing another test imported can hide a regression.
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      await import('toolexec');
      const loaded = Object.keys(require.cache).filter((k) => /node_modules\\/(isolated-vm|dockerode|docker-modem|ssh2|typescript)\\//.test(k));
      console.log(JSON.stringify(loaded));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it('exposes the public API by name', async () => {
    const api = await import('../src/index.js');
    for (const name of ['Runner', 'ToolError', 'InMemoryIndex', 'parseToolId', 'toolId', 'defineTool', 'LocalBackend', 'ProviderBackend']) {
      expect(api, name).toHaveProperty(name);
    }
  });
});
