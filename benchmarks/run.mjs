// Runs every benchmark script in this folder one after another (each in its own process,
// so one engine's JIT state or leftovers cannot colour another's figures).
// Usage: npm run bench [-- name-filter...]
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.mjs'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
let failed = 0;
for (const f of files) {
  const r = spawnSync(process.execPath, ['--no-node-snapshot', '--expose-gc', join(here, f)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`benchmark ${f} failed with exit code ${r.status}`);
  }
}
console.log(`\n${files.length - failed} benchmarks completed, ${failed} failed; JSON in benchmarks/results/`);
process.exit(failed ? 1 : 0);
