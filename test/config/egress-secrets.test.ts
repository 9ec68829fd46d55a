// Granted egress from a config file, run as users run it (the built CLI: exec and serve with the
// SDK's client): a credential bound to an origin through `${VAR}` is sent by the host, and never
// appears in anything toolexec prints or returns, even when the upstream echoes it back in its
// body and headers. Every stdout, stderr and result is captured and grepped for it at the end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CLI, ROOT } from '../server/helpers.js';
import { startHttpServer, type TestHttpServer } from '../code/egress-servers.js';
import { loadConfig } from '../../src/config/load-config.js';
import { Captured, secretForms, writeConfig } from './secret-capture.js';
import { resolveEgressPolicy } from '../../src/code/egress-policy.js';

const SECRET = `eg-${randomBytes(12).toString('hex')}/+=`;
const FORMS = secretForms(SECRET);
const LABEL = '[redacted:TOOLEXEC_TEST_EGRESS_TOKEN]';
const env = { ...process.env, TOOLEXEC_TEST_EGRESS_TOKEN: SECRET };

const captured = new Captured();
const capture = (what: string, value: unknown) => captured.capture(what, value);

const config = (obj: Record<string, unknown>) => writeConfig(obj, 'toolexec-egress-');

/** The CLI as a child process; asynchronous, because the HTTP server it fetches from lives in this process. */
async function toolexec(args: string[], input?: string) {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(input ?? '');
  const [code] = (await once(child, 'close')) as [number | null];
  const what = `toolexec ${args.join(' ')}`;
  return { code, stdout: capture(`${what} (stdout)`, stdout), stderr: capture(`${what} (stderr)`, stderr) };
}

let server: TestHttpServer;
const egress = () => ({
  allow: [{ origin: server.origin, methods: ['GET', 'POST'], headers: { Authorization: 'Bearer ${TOOLEXEC_TEST_EGRESS_TOKEN}' } }],
  allowAddresses: ['127.0.0.1'],
});

beforeAll(async () => {
  server = await startHttpServer();
});

afterAll(async () => {
  await server?.close();
  captured.expectNone(FORMS, 'the credential');
});

describe('credentials bound to an origin never appear in output', { timeout: 120_000 }, () => {
  it('toolexec exec --json: the host sends the credential; value, logs and ledger hold only its label', async () => {
    const file = config({ egress: egress() });
    const script = [
      `const res = await fetch("${server.origin}/echo", { method: "POST", body: "hi" });`,
      'const body = await res.json();',
      'console.log(body.headers.authorization, res.headers.get("x-echo-authorization"));',
      'let denied; try { await fetch("http://127.0.0.1:1/"); } catch (e) { denied = e.code; }',
      'return { auth: body.headers.authorization, denied };',
    ].join('\n');
    const r = await toolexec(['exec', '-', '--config', file, '--json'], script);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.value).toEqual({ auth: `Bearer ${LABEL}`, denied: 'EGRESS_DENIED' });
    expect(result.logs.map((l: { message: string }) => l.message)).toEqual([`Bearer ${LABEL} Bearer ${LABEL}`]);
    expect(result.toolCalls.map((c: { kind?: string; args: unknown }) => [c.kind, c.args])).toEqual([
      ['fetch', { method: 'POST', url: `${server.origin}/echo` }],
      ['fetch', { method: 'GET', url: 'http://127.0.0.1:1/' }],
    ]);
    expect(server.seen.at(-1)!.headers.authorization).toBe(`Bearer ${SECRET}`);
  });

  it('a missing variable is a config error naming it; a bad policy names its key', async () => {
    const missing = await toolexec(['exec', '-', '--config', config({ egress: { allow: [{ origin: 'https://a.example', headers: { 'x-key': '${TOOLEXEC_TEST_UNSET_EGRESS}' } }] } })], '1');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('egress.allow[0].headers.x-key refers to ${TOOLEXEC_TEST_UNSET_EGRESS}, which is not set in the environment');
    const bad = await toolexec(['exec', '-', '--config', config({ egress: { allow: ['https://a.example/path'], maxRedirect: 2 } })], '1');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown key egress\.maxRedirect/);
    expect(bad.stderr).toMatch(/egress\.allow\[0\]\.origin must be an origin without a path/);
  });

  it('toolexec serve over stdio: execute_code fetches, the description says where, stderr stays clean', async () => {
    const file = config({ egress: egress() });
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'serve', '--config', file, '--verbose=args'], env: env as Record<string, string>, stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const client = new Client({ name: 'egress-secrets-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const tools = await client.listTools();
      capture('serve: tools/list', tools);
      const description = tools.tools.find((t) => t.name === 'execute_code')!.description!;
      expect(description).toContain(`\`fetch(url, init)\` is available`);
      expect(description).toContain(`${server.origin} (GET, POST; the server adds Authorization)`);
      const code = capture(
        'serve: execute_code',
        await client.callTool({ name: 'execute_code', arguments: { script: `const b = await (await fetch("${server.origin}/echo")).json(); console.log(b.headers.authorization); return b.headers` } }),
      );
      expect(code).toContain(`Bearer ${LABEL}`);
    } finally {
      await client.close();
    }
    capture('serve: stderr', stderr);
    expect(stderr).toMatch(/execute_code ok/);
  });
});

describe('README: Granted egress', () => {
  it('its config loads: ${GITHUB_TOKEN} expanded into the header, kept as a secret, the policy sound', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf('\n## Granted egress: `fetch` in scripts\n');
    const json = /```json\n([\s\S]*?)```/.exec(readme.slice(start))![1]!;
    const c = loadConfig(config(JSON.parse(json)), { env: { GITHUB_TOKEN: 'ghp_readme_example_1234' } });
    expect(c.egress?.allow[1]).toEqual({ origin: 'https://api.github.com', methods: ['GET', 'POST'], headers: { Authorization: 'Bearer ghp_readme_example_1234' } });
    expect(c.egress?.secrets).toEqual([{ name: 'GITHUB_TOKEN', value: 'ghp_readme_example_1234' }]);
    expect(resolveEgressPolicy(c.egress!).redactor.redact('Bearer ghp_readme_example_1234')).toBe('Bearer [redacted:GITHUB_TOKEN]');
  });
});
