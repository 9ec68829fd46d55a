import { it } from 'vitest';
import { Executor } from '../../src/code/executor.js';
import { Runner } from '../../src/run/runner.js';
import { STDLIB_CASES } from '../code/stdlib-cases.js';
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
it('diff', async () => {
  const ex = new Executor({ runner: new Runner(), runtime: (process.env.RT ?? 'quickjs') as 'quickjs' });
  for (const [name, script] of Object.entries(STDLIB_CASES)) {
    if (process.env.ONLY && !name.includes(process.env.ONLY)) continue;
    const r = await ex.execute(script);
    const node = JSON.parse(JSON.stringify(await new AsyncFunction(script)()));
    const walk = (a: any, b: any, path: string) => {
      if (JSON.stringify(a) === JSON.stringify(b)) return;
      if (a && b && typeof a === 'object' && typeof b === 'object') { for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) walk(a[k], b[k], path + '.' + k); return; }
      console.log(name.slice(0, 20), path, 'sandbox:', JSON.stringify(a), 'node:', JSON.stringify(b));
    };
    if (r.error) console.log(name, r.error); else walk(r.value, node, '');
  }
  await ex.dispose();
}, 60000);
