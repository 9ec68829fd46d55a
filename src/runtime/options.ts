/**
 * Runtime options are checked once, by name: every runtime takes the same lifecycle options
 * (`PoolOptions`, meaning the same everywhere) plus its own, and anything else is a mistake
 * reported with the closest known name.
 */
import type { PoolOptions } from './types.js';
import { POOL_OPTION_NAMES } from './supervisor.js';

/** Names earlier versions used, and what they are called now. */
const RENAMED: Record<string, string> = {
  warmProcesses: 'minIdle',
  maxProcesses: 'maxWorkers',
  terminateGraceMs: 'graceMs',
  maxExecutionsPerProcess: 'maxJobsPerWorker',
  pool: 'minIdle and maxWorkers (pool.size and pool.maxSize)',
};

/** Edit distance, for did-you-mean hints on short option names. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** Throws a `TypeError` naming every unknown option of runtime `name`, with what was meant. */
export function checkRuntimeOptions(name: string, options: Record<string, unknown>, own: readonly string[]): void {
  if (options === null || typeof options !== 'object') throw new TypeError(`${name} runtime: options must be an object`);
  const known = [...POOL_OPTION_NAMES, ...own];
  const problems: string[] = [];
  for (const key of Object.keys(options)) {
    if (known.includes(key) || options[key] === undefined) continue;
    const renamed = RENAMED[key];
    if (renamed) {
      problems.push(`"${key}" is now ${renamed}`);
      continue;
    }
    const near = known.map((k) => [k, distance(key, k)] as const).sort((x, y) => x[1] - y[1])[0];
    problems.push(near && near[1] <= Math.max(2, Math.floor(key.length / 3)) ? `unknown option "${key}" (did you mean "${near[0]}"?)` : `unknown option "${key}"`);
  }
  if (problems.length > 0) throw new TypeError(`${name} runtime: ${problems.join('; ')}. Known options: ${known.join(', ')}`);
}

/** The lifecycle options out of a runtime's options object. */
export function poolOptionsOf(options: PoolOptions): PoolOptions {
  const out: PoolOptions = {};
  for (const key of POOL_OPTION_NAMES) if (options[key] !== undefined) out[key] = options[key];
  return out;
}
