/**
 * Runtime options are checked once, by name: every runtime takes the same lifecycle options
 * (`PoolOptions`, meaning the same everywhere) plus its own, and anything else is a mistake
 * reported with the closest known name.
 */
import type { PoolOptions } from './types.js';
import { POOL_OPTION_NAMES } from './supervisor.js';
import { closestName } from '../model/did-you-mean.js';

/** Names earlier versions used, and what they are called now. */
const RENAMED: Record<string, string> = {
  warmProcesses: 'minIdle',
  maxProcesses: 'maxWorkers',
  terminateGraceMs: 'graceMs',
  maxExecutionsPerProcess: 'maxJobsPerWorker',
  pool: 'minIdle and maxWorkers (pool.size and pool.maxSize)',
};

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
    const near = closestName(key, known);
    problems.push(near ? `unknown option "${key}" (did you mean "${near}"?)` : `unknown option "${key}"`);
  }
  if (problems.length > 0) throw new TypeError(`${name} runtime: ${problems.join('; ')}. Known options: ${known.join(', ')}`);
}

/** The lifecycle options out of a runtime's options object. */
export function poolOptionsOf(options: PoolOptions): PoolOptions {
  const out: PoolOptions = {};
  for (const key of POOL_OPTION_NAMES) if (options[key] !== undefined) out[key] = options[key];
  return out;
}
