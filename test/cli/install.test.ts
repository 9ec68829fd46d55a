// The README's install instructions and client config, executed as written: `npm install -g .`
// from the checkout (into a temporary prefix), then the client config's command started as an
// MCP stdio server with the SDK's client, finding its config in the user config directory.
//
// The packed-tarball route (`npm pack && npm install -g ./toolexec-<version>.tgz`) fetches every
// dependency from the registry again (minutes here): it runs with TOOLEXEC_TEST_PACK=1.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { EVERYTHING_BIN, ROOT, TOOLS_FIXTURE } from '../server/helpers.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The fenced blocks (with the given info string) of the README section under `heading`. */
function blocks(heading: string, lang: string): string[] {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`README has no heading ${JSON.stringify(heading)}`);
  const level = heading.split(' ')[0]!;
  const end = readme.indexOf(`\n${level} `, start + heading.length + 2);
  const out: string[] = [];
  let current: string[] | undefined;
  let currentLang = '';
  for (const line of readme.slice(start, end === -1 ? undefined : end).split('\n')) {
    const fence = /^```(\S*)$/.exec(line);
    if (fence && !current) [current, currentLang] = [[], fence[1]!];
    else if (fence && current) {
      if (currentLang === lang) out.push(current.join('\n'));
      current = undefined;
    } else current?.push(line);
  }
  return out;
}

const temp: string[] = [];
function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `toolexec-${name}-`));
  temp.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

/** Runs one README shell line (`cmd args...  # comment`) in `cwd`, with npm installing globally into `prefix`. */
function sh(line: string, cwd: string, prefix: string, env: Record<string, string> = {}) {
  const [cmd, ...args] = line.replace(/\s+#.*$/, '').trim().split(/\s+/);
  const r = spawnSync(cmd!, args, { cwd, encoding: 'utf8', timeout: 900_000, env: { ...process.env, npm_config_prefix: prefix, npm_config_fund: 'false', npm_config_audit: 'false', ...env } });
  expect(r.status, `${line}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

/** The client config of the README, started as a client starts it, listing tools and finding one. */
async function startAsTheClientDoes(bin: string): Promise<void> {
  const [clientConfig] = blocks('### 2. Add toolexec to the client', 'json');
  const entry = JSON.parse(clientConfig!).mcpServers.toolexec as { command: string; args: string[] };
  expect(entry.command).toBe('toolexec');
  // Where the README says the config goes: ~/.config/toolexec/toolexec.config.json.
  const home = tempDir('home');
  mkdirSync(join(home, '.config', 'toolexec'), { recursive: true });
  writeFileSync(
    join(home, '.config', 'toolexec', 'toolexec.config.json'),
    JSON.stringify({ mcpServers: { everything: { command: process.execPath, args: [EVERYTHING_BIN, 'stdio'] } }, tools: [TOOLS_FIXTURE], deny: ['secret:*'] }),
  );
  const transport = new StdioClientTransport({
    command: entry.command,
    args: entry.args,
    // A client's directory of its own choosing, and the installed command on its PATH.
    cwd: tempDir('client-cwd'),
    env: { PATH: `${bin}${delimiter}${process.env.PATH}`, HOME: home },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const client = new Client({ name: 'install-test', version: '1.0.0' });
  try {
    await client.connect(transport);
  } catch (e) {
    throw new Error(`${entry.command} ${entry.args.join(' ')} did not start: ${(e as Error).message}\n${stderr}`);
  }
  try {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['describe_tool', 'execute_code', 'list_namespaces', 'run_chain', 'run_tool', 'search_tools']);
    const found = (await client.callTool({ name: 'search_tools', arguments: { query: '', limit: 100 } })) as { structuredContent: { items: { id: string }[] } };
    const ids = found.structuredContent.items.map((i) => i.id);
    expect(ids).toContain('math:add');
    expect(ids).toContain('everything:get-sum');
  } finally {
    await client.close();
  }
}

describe('README: install the toolexec command', { timeout: 1_200_000 }, () => {
  const [install] = blocks('## Install the `toolexec` command', 'sh');
  const lines = install!.split('\n').filter((l) => l.trim() !== '');

  it('shows the install from a checkout, not npx -y toolexec', () => {
    expect(lines.map((l) => l.replace(/\s+#.*$/, ''))).toEqual(['git clone <this repository> toolexec && cd toolexec', 'npm install', 'npm install -g .', 'toolexec --version']);
    expect(readme).not.toMatch(/npx -y toolexec/);
  });

  it('npm install -g . from the checkout, then the client config as written', async () => {
    // This checkout is the clone, and `npm install` (with its prepare build) already ran for the suite.
    expect(existsSync(join(ROOT, 'dist', 'cli', 'main.js'))).toBe(true);
    const prefix = tempDir('prefix');
    // Without the prepare build: it already ran (the README's `npm install`), and running it
    // again here would rewrite dist/ under the test files importing it at the same moment.
    sh(lines[2]!, ROOT, prefix, { npm_config_ignore_scripts: 'true' });
    const bin = join(prefix, 'bin');
    const version = spawnSync('toolexec', ['--version'], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH}` } });
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    await startAsTheClientDoes(bin);
  });

  it.skipIf(process.env.TOOLEXEC_TEST_PACK !== '1')('npm pack (runs the prepare build) and a global install of the tarball (TOOLEXEC_TEST_PACK=1: fetches every dependency)', async () => {
    // A copy of the sources without dist/: the tarball's dist/ comes from the prepare build.
    const copy = tempDir('clone');
    for (const f of ['src', 'runtimes', 'sandbox-image', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md']) cpSync(join(ROOT, f), join(copy, f), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    const prefix = tempDir('prefix');
    const packed = sh('npm pack', copy, prefix);
    const tarball = packed.stdout.trim().split('\n').pop()!;
    expect(existsSync(join(copy, 'dist', 'cli', 'main.js'))).toBe(true);
    sh(`npm install -g --prefer-offline ./${tarball}`, copy, prefix);
    rmSync(copy, { recursive: true, force: true });
    await startAsTheClientDoes(join(prefix, 'bin'));
  });
});
