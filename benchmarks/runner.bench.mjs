// runner.run on a local tool with input and output validation on, against calling the
// handler and the compiled ajv validators directly, in the same process and run.
import { Runner } from '../dist/run/runner.js';
import { defaultValidator } from '../dist/schema/validator.js';
import { measure, report } from './lib.mjs';

const inputSchema = { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'], additionalProperties: false };
const outputSchema = { type: 'object', properties: { sum: { type: 'number' } }, required: ['sum'] };
const handler = async ({ a, b }) => ({ sum: a + b });

const runner = new Runner();
runner.register({ namespace: 'math', name: 'add', inputSchema, outputSchema, handler });
const bare = new Runner({ validateInput: false, validateOutput: false });
bare.local.register('math:add', handler);

const checkIn = defaultValidator.compile(inputSchema);
const checkOut = defaultValidator.compile(outputSchema);
const args = { a: 2, b: 3 };
const batch = 2000;
const opts = { samples: 40, batch, warmup: 5 };

const rows = [];
rows.push(await measure('handler only', () => handler(args), opts));
rows.push(await measure('handler + compiled validators', async () => {
  if (!checkIn(args).valid) throw new Error('bad');
  const out = await handler(args);
  if (!checkOut(out).valid) throw new Error('bad');
  return out;
}, opts));
rows.push(await measure('runner.run (validation on)', () => runner.run('math:add', args), opts));
rows.push(await measure('runner.run (unindexed, no validation)', () => bare.run('math:add', args), opts));

const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
const overhead = byName['runner.run (validation on)'].medianUs - byName['handler + compiled validators'].medianUs;
report('runner', rows, {
  ratios: [['runner.run / handler+validators', 'runner.run (validation on)', 'handler + compiled validators']],
  notes: [`runner overhead over handler + validation: ${overhead.toFixed(3)} µs per call (aim: ≤ 2 µs)`],
});
