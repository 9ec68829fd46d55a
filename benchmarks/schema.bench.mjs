// The schema layer: a compiled validator call against raw ajv, the cache-hit paths of
// validate(schema, value) (same object; equal content from another object), the cost of an
// invalid value (issues + message), and a real compile. Build first: npx tsc -p tsconfig.build.json
import { createRequire } from 'node:module';
import { AjvSchemaValidator, defaultValidator } from '../dist/schema/validator.js';
import { measureSync, report, summarize } from './lib.mjs';

const require = createRequire(import.meta.url);

// A typical MCP tool input schema.
const schema = {
  type: 'object',
  properties: {
    owner: { type: 'string', minLength: 1 },
    repo: { type: 'string', minLength: 1 },
    title: { type: 'string', maxLength: 256 },
    body: { type: 'string' },
    labels: { type: 'array', items: { type: 'string' }, maxItems: 10 },
    assignee: { type: 'string', format: 'email' },
    priority: { enum: ['low', 'medium', 'high'] },
    milestone: { type: 'integer', minimum: 1 },
  },
  required: ['owner', 'repo', 'title'],
  additionalProperties: false,
};
const valid = { owner: 'acme', repo: 'rockets', title: 'Fins fall off', labels: ['bug', 'p1'], assignee: 'wile@acme.com', priority: 'high', milestone: 3 };
const invalid = { ...valid, milestone: 0 };

// Raw ajv, configured exactly like ours, so the difference is the wrapper alone.
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;
const ajv = new Ajv2020({ strict: false, allErrors: true, ownProperties: true, logger: false });
addFormats(ajv);
const raw = ajv.compile(schema);

const check = defaultValidator.compile(schema);
if (!check(valid).valid || check(invalid).valid || !raw(valid) || raw(invalid)) throw new Error('benchmark fixtures are wrong');

// Cases are measured interleaved (one sample of each per round) so that load changes on a
// shared machine hit every case alike and the ratios stay meaningful.
function interleaved(cases, { rounds = 40, batch = 20_000, warmup = 3 } = {}) {
  for (const [, fn] of cases) for (let w = 0; w < warmup; w++) for (let j = 0; j < batch; j++) fn();
  const perOp = cases.map(() => []);
  for (let r = 0; r < rounds; r++) {
    cases.forEach(([, fn], i) => {
      const t0 = performance.now();
      for (let j = 0; j < batch; j++) fn();
      perOp[i].push(((performance.now() - t0) * 1000) / batch);
    });
  }
  return cases.map(([name], i) => summarize(name, perOp[i]));
}

const rows = interleaved([
  ['raw ajv validate (valid)', () => raw(valid)],
  ['compiled validator (valid)', () => check(valid)],
  ['validate(schema, value), same schema object (valid)', () => defaultValidator.validate(schema, valid)],
  ['raw ajv validate (invalid)', () => raw(invalid)],
  ['compiled validator (invalid: issues + message)', () => check(invalid)],
]);

// Equal content from a new object each call (e.g. a schema re-sent by an MCP server):
// identity miss, canonical-text hit. Clones are made outside the timed part.
{
  const text = JSON.stringify(schema);
  const perOp = [];
  for (let s = 0; s < 40; s++) {
    const clones = Array.from({ length: 500 }, () => JSON.parse(text));
    const t0 = performance.now();
    for (const c of clones) defaultValidator.validate(c, valid);
    perOp.push(((performance.now() - t0) * 1000) / clones.length);
  }
  rows.push(summarize('validate(schema, value), equal schema from a new object (text-cache hit)', perOp));
}

// A real compile on a warm engine: distinct schemas (the bound changes each time).
{
  const v = new AjvSchemaValidator({ cacheSize: 10 });
  v.compile(schema);
  let n = 0;
  rows.push(measureSync('compile a new schema (cache miss)', () => v.compile({ ...schema, properties: { ...schema.properties, milestone: { type: 'integer', minimum: ++n } } }), { samples: 20, batch: 20, warmup: 1 }));
}

report('schema', rows, {
  ratios: [
    ['compiled / raw ajv (valid)', 'compiled validator (valid)', 'raw ajv validate (valid)'],
    ['validate cache hit / compiled (valid)', 'validate(schema, value), same schema object (valid)', 'compiled validator (valid)'],
    ['compiled / raw ajv (invalid)', 'compiled validator (invalid: issues + message)', 'raw ajv validate (invalid)'],
  ],
});
