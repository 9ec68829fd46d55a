// The public surface: what each entry exports, and what importing the root loads. Runs the
// built package (npm test builds first) through its own name, as a user's program would.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const hooks = pathToFileURL(join(root, 'test', 'fixtures', 'root-entry', 'record-loads.mjs')).href;

interface Loaded {
  /** Every URL the ESM loader resolved (node: builtins included). */
  esm: string[];
  /** Every CommonJS module in require.cache (ajv, dockerode and friends are CommonJS). */
  cjs: string[];
  /** Node's own list of the builtins this process loaded (`NativeModule http`, ...). */
  builtins: string[];
  exports: string[];
}

/** Imports `specifier` in a fresh Node process (nothing another test loaded can hide a load) and reports what got loaded. */
function loadIn(specifier: string): Loaded {
  const dir = mkdtempSync(join(tmpdir(), 'toolexec-root-entry-'));
  const file = join(dir, 'resolved.txt');
  const script = `
    import { register, createRequire } from 'node:module';
    import { readFileSync, writeFileSync } from 'node:fs';
    writeFileSync(${JSON.stringify(file)}, '');
    register(${JSON.stringify(hooks)}, import.meta.url, { data: { file: ${JSON.stringify(file)} } });
    const m = await import(${JSON.stringify(specifier)});
    const require = createRequire(import.meta.url);
    console.log(JSON.stringify({
      esm: readFileSync(${JSON.stringify(file)}, 'utf8').split('\\n').filter(Boolean),
      cjs: Object.keys(require.cache),
      builtins: process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length)),
      exports: Object.keys(m).sort(),
    }));
  `;
  try {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout) as Loaded;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SDK_SIDES = /node_modules\/@modelcontextprotocol\/sdk\/dist\/(esm|cjs)\/(server|client)\//;

describe('root entry', () => {
  const loaded = loadIn('toolexec');
  const everything = [...loaded.esm, ...loaded.cjs];

  it('the probe sees loads: importing toolexec/server loads node:http and the SDK server, toolexec/mcp the SDK client', () => {
    // Without this, a probe that saw nothing would pass the checks below.
    const server = loadIn('toolexec/server');
    expect(server.builtins).toContain('http');
    expect(server.esm).toContain('node:http');
    expect(server.esm.some((u) => /\/sdk\/dist\/esm\/server\//.test(u))).toBe(true);
    const mcp = loadIn('toolexec/mcp');
    expect(mcp.esm.some((u) => /\/sdk\/dist\/esm\/client\//.test(u))).toBe(true);
    expect(loaded.esm.some((u) => u.endsWith('/dist/index.js'))).toBe(true);
  });

  it('loads neither node:http nor the MCP SDK server or client', () => {
    expect(loaded.builtins.filter((b) => /^(_?http|https|http2)/.test(b))).toEqual([]);
    expect(loaded.esm.filter((u) => /^node:(http|https|http2)$/.test(u))).toEqual([]);
    expect(everything.filter((u) => SDK_SIDES.test(u))).toEqual([]);
  });

  it('loads neither isolated-vm nor dockerode (nor what dockerode pulls in)', () => {
    expect(everything.filter((u) => /node_modules\/(isolated-vm|dockerode|docker-modem|ssh2)\//.test(u))).toEqual([]);
    expect(everything.filter((u) => /\/dist\/runtime\/(docker|isolated-vm)\//.test(u))).toEqual([]);
  });

  it('loads none of the layers above the executor (config, engine, server, cli)', () => {
    expect(loaded.esm.filter((u) => /\/dist\/(config|engine|server|cli)\//.test(u))).toEqual([]);
  });

  it('exports the runner, the index, the executor and their companions by name, and nothing internal', () => {
    for (const name of [
      'Runner', 'defineTool', 'ToolError', 'TOOL_ERROR_CODES', 'InMemoryIndex', 'parseToolId', 'toolId', 'matchToolPattern',
      'LocalBackend', 'ProviderBackend', 'AjvSchemaValidator', 'Executor', 'EXECUTE_ERROR_CODES', 'DEFAULT_EXECUTE_LIMITS',
      'generateTypes', 'SandboxBackend',
    ]) {
      expect(loaded.exports, name).toContain(name);
    }
    for (const name of [
      'prepareScript', 'WRAPPER_LINE_OFFSET', 'pluginScript', 'compactPrelude', 'loadPrelude', 'encodeCursor', 'decodeCursor',
      'cursorBinding', 'canonicalJson', 'toolIdOf', 'resolveTemplates', 'jsSafeName', 'createEngine', 'ToolexecServer', 'McpBackend',
    ]) {
      expect(loaded.exports, name).not.toContain(name);
    }
  });

  it('names every export in src/index.ts (no export *), and each subpath entry is one file with a header comment', () => {
    for (const entry of ['index', 'mcp', 'engine', 'server', 'docker']) {
      const text = readFileSync(join(root, 'src', `${entry}.ts`), 'utf8');
      expect(text, entry).toMatch(/^\/\*\*\n \* toolexec/);
      expect(text, entry).not.toMatch(/export (type )?\*/);
    }
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    expect(Object.keys(pkg.exports).sort()).toEqual(['.', './docker', './engine', './mcp', './package.json', './server', './store/memory', './store/redis', './store/sqlite']);
  });
});

describe('subpath entries', () => {
  it('toolexec/mcp, toolexec/engine, toolexec/server and toolexec/docker export what they promise', () => {
    expect(loadIn('toolexec/mcp').exports).toEqual(expect.arrayContaining(['McpBackend', 'McpHub', 'McpConnection', 'connectMcpServers', 'parseMcpServers', 'McpConfigError', 'McpConnectionError']));
    expect(loadIn('toolexec/engine').exports).toEqual(expect.arrayContaining(['createEngine', 'loadConfig', 'checkConfig', 'ConfigError', 'ToolPolicy', 'loadToolModules']));
    expect(loadIn('toolexec/server').exports).toEqual(expect.arrayContaining(['ToolexecServer', 'serveStdio', 'serveHttp']));
    expect(loadIn('toolexec/docker').exports).toEqual(['DockerRuntime', 'DockerRuntimeError', 'createDockerRuntime']);
  });

  it('toolexec/engine loads no MCP SDK module until a config lists servers, and toolexec/docker no dockerode until used', () => {
    const engine = loadIn('toolexec/engine');
    expect([...engine.esm, ...engine.cjs].filter((u) => SDK_SIDES.test(u))).toEqual([]);
    const docker = loadIn('toolexec/docker');
    expect([...docker.esm, ...docker.cjs].filter((u) => /node_modules\/(dockerode|docker-modem|ssh2)\//.test(u))).toEqual([]);
  });
});
