// The README's "Secrets, paths and checks" examples: its config is a valid config that expands
// as the text says, and its error is what the CLI prints when the variable is not set.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import { CLI, ROOT } from '../server/helpers.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const start = readme.indexOf('\n### Values from the environment\n');
const section = readme.slice(start, readme.indexOf('\n### ', start + 5));

/** The first fenced block of the section with the given info string (`''` for a bare fence). */
function block(lang: string): string {
  let current: { lang: string; lines: string[] } | undefined;
  for (const line of section.split('\n')) {
    const fence = /^```(\S*)$/.exec(line);
    if (fence && !current) current = { lang: fence[1]!, lines: [] };
    else if (fence && current) {
      if (current.lang === lang) return current.lines.join('\n');
      current = undefined;
    } else current?.lines.push(line);
  }
  throw new Error(`no ${lang || 'bare'} block in the section`);
}

/** The README's config written to a directory with the files it names. */
function writeExample(): string {
  const dir = mkdtempSync(join(tmpdir(), 'toolexec-readme-'));
  mkdirSync(join(dir, 'servers'));
  writeFileSync(join(dir, 'local.env'), 'LOCAL_DB_PASSWORD=hunter2-but-longer\n');
  writeFileSync(join(dir, 'toolexec.config.json'), block('json'));
  return dir;
}

describe('README: Values from the environment', () => {
  it('its config expands ${VAR}, defaults, envFile and paths as described', () => {
    const dir = writeExample();
    const c = loadConfig(join(dir, 'toolexec.config.json'), { env: { GITHUB_TOKEN: 'ghp_exampletoken123', SEARCH_API_KEY: 'search-key-456789', HOME: '/home/me' } });
    const [github, search, local] = c.mcpServers;
    expect(github).toMatchObject({ env: { GITHUB_PERSONAL_ACCESS_TOKEN: 'ghp_exampletoken123' }, cwd: dir });
    expect(search).toMatchObject({ url: 'https://mcp.example.com/mcp?region=eu', headers: { Authorization: 'Bearer search-key-456789' } });
    expect(local).toMatchObject({ command: join(dir, 'servers', 'local.mjs'), env: { LOCAL_DB_PASSWORD: 'hunter2-but-longer' }, inheritEnv: ['NODE_OPTIONS'] });
    expect(c.mcpServers.flatMap((s) => s.secrets ?? []).map((s) => s.name).sort()).toEqual(['GITHUB_TOKEN', 'LOCAL_DB_PASSWORD', 'SEARCH_API_KEY']);
  });

  it('its error is what toolexec prints when GITHUB_TOKEN is not set', () => {
    const dir = writeExample();
    const env: Record<string, string | undefined> = { ...process.env, SEARCH_API_KEY: 'search-key-456789', GITHUB_TOKEN: undefined };
    const r = spawnSync(process.execPath, [CLI, 'tools', '--config', 'toolexec.config.json'], { cwd: dir, env, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`${block('')}\n`);
  });
});
