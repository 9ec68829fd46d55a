// docs/scaling.md: its readiness probe, run as the Deployment would run it against a real
// `toolexec serve --http --stateless`, and its toolexec.config.json, which must load (with the
// certificate files it names) into the engines the text describes.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import { ROOT, startServeHttp, stopProcess, TOOLS_FIXTURE } from '../server/helpers.js';

const doc = readFileSync(join(ROOT, 'docs', 'scaling.md'), 'utf8');

/** The readiness probe's script: the YAML folded block (`>-`) under `readinessProbe`, lines joined by spaces. */
function probeScript(): string {
  const lines = doc.slice(doc.indexOf('readinessProbe:')).split('\n');
  const start = lines.findIndex((l) => l.trim() === '- >-');
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('                  ')) break;
    body.push(line.trim());
  }
  return body.join(' ');
}

describe('docs/scaling.md', () => {
  it('its readiness probe passes against a stateless replica and fails with a wrong token', async () => {
    const token = 'probe-token-1234567890';
    const serve = await startServeHttp(['--stateless', '--tools', TOOLS_FIXTURE], { TOOLEXEC_TOKEN: token });
    try {
      const script = probeScript().replace('http://127.0.0.1:3000/mcp', serve.url);
      expect(script).toContain(serve.url);
      const run = (t: string) => spawnSync(process.execPath, ['-e', script], { env: { ...process.env, TOOLEXEC_TOKEN: t }, encoding: 'utf8', timeout: 20_000 });
      const ok = run(token);
      expect(ok.stderr).toBe('');
      expect(ok.status).toBe(0);
      expect(run('not-the-token-at-all').status).toBe(1);
    } finally {
      await stopProcess(serve.child);
    }
  });

  it('its toolexec.config.json loads: two TLS engines, gVisor, relative certificate paths', () => {
    const json = /```json\n(\{\n  "runtime": "docker"[\s\S]*?)```/.exec(doc)![1]!;
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-scaling-doc-'));
    mkdirSync(join(dir, 'docker'));
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, 'docker', f), '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
    writeFileSync(join(dir, 'toolexec.config.json'), json);
    const c = loadConfig(join(dir, 'toolexec.config.json'));
    expect(c.runtime).toBe('docker');
    expect(c.docker).toMatchObject({ runtime: 'runsc', minIdle: 2 });
    expect(c.docker?.engines?.map((e) => [e.name, e.host, e.tls?.ca, e.weight])).toEqual([
      ['sandbox-1', 'tcp://sandbox-1.internal:2376', join(dir, 'docker', 'ca.pem'), undefined],
      ['sandbox-2', 'tcp://sandbox-2.internal:2376', join(dir, 'docker', 'ca.pem'), 2],
    ]);
  });
});

describe('README: Sandbox hosts: many Docker engines', () => {
  it('its config loads with ${VAR} hosts and certificates next to the file', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const at = readme.indexOf('### Sandbox hosts: many Docker engines');
    const json = /```json\n([\s\S]*?)```/.exec(readme.slice(at))![1]!;
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-readme-engines-'));
    mkdirSync(join(dir, 'certs'));
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, 'certs', f), '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
    writeFileSync(join(dir, 'toolexec.config.json'), json);
    const c = loadConfig(join(dir, 'toolexec.config.json'), { env: { SANDBOX_1: '10.0.0.11', SANDBOX_2: '10.0.0.12' } });
    expect(c.docker?.engines?.map((e) => [e.name, e.host ?? e.socketPath, e.weight ?? 1, e.runtime ?? c.docker?.runtime])).toEqual([
      ['sandbox-1', 'tcp://10.0.0.11:2376', 1, 'runsc'],
      ['sandbox-2', 'tcp://10.0.0.12:2376', 2, 'runsc'],
      ['local', '/var/run/docker.sock', 1, 'runc'],
    ]);
    // The typo the text quotes is reported the way it says.
    const typo = json.replace('"host": "tcp://${SANDBOX_2}', '"hots": "tcp://${SANDBOX_2}');
    writeFileSync(join(dir, 'toolexec.config.json'), typo);
    expect(() => loadConfig(join(dir, 'toolexec.config.json'), { env: { SANDBOX_1: 'a', SANDBOX_2: 'b' } })).toThrow(/docker\.engines\[1\] \("sandbox-2"\): unknown key "hots" \(did you mean "host"\?\)/);
  });
});
