// The examples in the README's MCP-client section are checked: every JSON config parses with the parser
// toolexec uses, and the example script runs against the real upstream servers.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfig, loadConfig } from '../../src/config/load-config.js';
import { parseMcpServers } from '../../src/backends/mcp/config.js';
import { createEngine } from '../../src/engine/engine.js';
import { CLI, ROOT, writeServeConfig } from './helpers.js';

// The section from its heading to the next level-2 heading: other README code blocks are not this page's.
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const sectionStart = readme.indexOf('## Use toolexec from an MCP client');
const sectionEnd = readme.indexOf('\n## ', sectionStart + 3);
const doc = readme.slice(sectionStart, sectionEnd === -1 ? undefined : sectionEnd);
/** The fenced code blocks of the page with the given info string (`""` for bare fences). */
function blocks(lang: string): string[] {
  const out: string[] = [];
  let current: { lang: string; lines: string[] } | undefined;
  for (const line of doc.split('\n')) {
    const fence = /^```(\S*)$/.exec(line);
    if (fence && !current) current = { lang: fence[1]!, lines: [] };
    else if (fence && current) {
      if (current.lang === lang) out.push(current.lines.join('\n') + '\n');
      current = undefined;
    } else current?.lines.push(line);
  }
  return out;
}

describe('README: Use toolexec from an MCP client', () => {
  it('its toolexec.config.json example is a valid config', () => {
    const [config] = blocks('json');
    const c = checkConfig(JSON.parse(config!), { dir: '/home/me/.toolexec' });
    expect(c.mcpServers.map((s) => s.name)).toEqual(['memory', 'everything']);
    expect(c.deny).toContain('memory:delete_*');
  });

  it('its client configs are valid mcpServers entries', () => {
    const clients = blocks('json').slice(1);
    expect(clients).toHaveLength(2);
    for (const text of clients) {
      const [server] = parseMcpServers(JSON.parse(text).mcpServers);
      expect(server!.name).toBe('toolexec');
    }
  });

  it('its config error example is what toolexec prints', () => {
    const shown = blocks('').find((b) => b.startsWith('toolexec: toolexec.config.json'))!;
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-docs-'));
    writeFileSync(join(dir, 'toolexec.config.json'), JSON.stringify({ mcpServers: { memory: { command: 'npx', args: '-y @modelcontextprotocol/server-memory' } }, limit: {} }));
    const r = spawnSync(process.execPath, [CLI, 'serve'], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(shown);
  });

  it('its example script runs against server-memory and server-everything', async () => {
    const [script] = blocks('js');
    const engine = await createEngine(loadConfig(writeServeConfig()), { onServerError: 'throw' });
    try {
      const r = await engine.execute(script!);
      expect(r.error).toBeUndefined();
      expect(r.value).toEqual(['The sum of 20 and 22 is 42.']);
      expect(r.logs.map((l) => l.message)).toEqual(['stored 1 entity']);
    } finally {
      await engine.close();
    }
  });
});

describe('README: Running the server', () => {
  const start = readme.indexOf('## Running the server');
  const end = readme.indexOf('\n## ', start + 3);
  const section = readme.slice(start, end);
  const rows = (header: string) =>
    section
      .slice(section.indexOf(header))
      .split('\n')
      .slice(2)
      .filter((l, i, all) => l.startsWith('|') && all.slice(0, i).every((p) => p.startsWith('|')))
      .map((l) => l.split('|').map((c) => c.trim()).slice(1, -1));

  it('its serve example is a valid config holding exactly the defaults the code uses', async () => {
    const json = /```json\n([\s\S]*?)```/.exec(section)![1]!;
    const config = checkConfig(JSON.parse(json));
    const http = await import('../../src/server/http.js');
    const admission = await import('../../src/server/admission.js');
    const server = await import('../../src/server/toolexec-server.js');
    expect(config.serve).toEqual({
      maxConcurrentExecutions: admission.DEFAULT_MAX_CONCURRENT_EXECUTIONS,
      maxQueuedExecutions: admission.DEFAULT_MAX_QUEUED_EXECUTIONS,
      maxExecutionsPerSession: admission.DEFAULT_MAX_EXECUTIONS_PER_SESSION,
      maxSessions: http.DEFAULT_MAX_SESSIONS,
      maxSessionsPerClient: http.DEFAULT_MAX_SESSIONS_PER_CLIENT,
      sessionIdleMs: http.DEFAULT_SESSION_IDLE_MS,
      unusedSessionIdleMs: http.DEFAULT_UNUSED_SESSION_IDLE_MS,
      maxResultBytes: server.DEFAULT_MAX_RESULT_BYTES,
    });
    // The key table documents every key, with the same defaults.
    const { CONFIG_SERVE_KEYS } = await import('../../src/config/schema.js');
    const table = rows('| key | default | meaning |');
    expect(table.map((r) => r[0]!.replace(/`/g, ''))).toEqual([...CONFIG_SERVE_KEYS]);
    for (const [key, def] of table) expect(Number(def!.replace(/,/g, '')), key).toBe((config.serve as Record<string, number>)[key!.replace(/`/g, '')]);
  });

  it('its ceilings table is the server\'s', async () => {
    const { SERVE_DEFAULT_MAX_LIMITS } = await import('../../src/server/toolexec-server.js');
    const table = rows('| limit | ceiling without a config value | why |');
    const parse = (v: string) => (v.endsWith('MiB') ? Number(v.replace(' MiB', '')) * 1024 * 1024 : v.endsWith('KiB') ? Number(v.replace(' KiB', '')) * 1024 : Number(v.replace(/,/g, '')));
    expect(Object.fromEntries(table.map((r) => [r[0]!.replace(/`/g, ''), parse(r[1]!)]))).toEqual(SERVE_DEFAULT_MAX_LIMITS);
  });

  it('its start-up summary is what a default server prints', () => {
    const shown = /```\n(toolexec: upstream[\s\S]*?)```/.exec(section)![1]!.split('\n');
    const r = spawnSync(process.execPath, [CLI, 'serve', '--tools', join(ROOT, 'test', 'fixtures', 'server', 'tools.mjs')], { cwd: ROOT, encoding: 'utf8', input: '', timeout: 20_000 });
    // The execute_code line does not depend on the upstream servers: it must match exactly.
    const line = shown.find((l) => l.startsWith('toolexec: execute_code:'))!;
    expect(r.stderr.split('\n')).toContain(line);
  });
});
