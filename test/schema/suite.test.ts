/**
 * The official JSON-Schema-Test-Suite (draft2020-12 and draft7, with `optional/` and
 * `optional/format/`) against `AjvSchemaValidator`, compared with plain ajv on the same cases.
 *
 * Cases we knowingly fail are listed by name in `known-failures.json`: everything else must
 * pass, and everything listed must still fail (so the list cannot rot). To refresh the list
 * after an upgrade: `UPDATE_KNOWN_FAILURES=1 npx vitest run test/schema/suite.test.ts`.
 *
 * The suite lives outside the repo (`../shared/testdata/JSON-Schema-Test-Suite`); CI always
 * has it. Without it this file skips, and says so.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, test } from 'vitest';
import { AjvSchemaValidator } from '../../src/schema/validator.js';
import type { JsonSchema } from '../../src/model/json.js';
import {
  KNOWN_FAILURES_FILE,
  SUITE_DIR,
  SUITE_DRAFTS,
  loadDraft,
  loadRemotes,
  reasonFor,
  runGroups,
  suiteAvailable,
  type SuiteDraft,
  type SuiteGroup,
  type SuiteOutcome,
} from './suite-lib.js';

const require = createRequire(import.meta.url);
const available = suiteAvailable();
const update = process.env.UPDATE_KNOWN_FAILURES === '1';

if (!available) {
  console.warn(`JSON-Schema-Test-Suite skipped: ${SUITE_DIR} not found (clone the repo next to a shared/ copy to run it)`);
}

interface KnownFailures {
  $comment?: string;
  failures: Record<string, string>;
}

function readKnown(): KnownFailures {
  if (!existsSync(KNOWN_FAILURES_FILE)) return { failures: {} };
  return JSON.parse(readFileSync(KNOWN_FAILURES_FILE, 'utf8')) as KnownFailures;
}

/** Plain ajv as a user would set it up for this draft: strict off, ajv-formats, remotes. */
function plainAjv(draft: SuiteDraft, remotes: Record<string, unknown>) {
  const mod = require(draft === 'draft7' ? 'ajv' : 'ajv/dist/2020');
  const Cls = mod.default ?? mod;
  const ajv = new Cls({ strict: false, logger: false });
  const addFormats = require('ajv-formats');
  (addFormats.default ?? addFormats)(ajv);
  for (const [uri, doc] of Object.entries(remotes)) {
    try {
      ajv.addSchema(doc, uri, undefined, false);
    } catch {
      /* duplicate id */
    }
  }
  return ajv as { compile(s: unknown): (v: unknown) => boolean; removeSchema(s: unknown): void };
}

const reason = available ? SUITE_DIR : `skipped: ${SUITE_DIR} not found`;

describe.skipIf(!available)(`JSON-Schema-Test-Suite (${reason})`, () => {
  const results = new Map<SuiteDraft, { groups: SuiteGroup[]; ours: SuiteOutcome; ajv: SuiteOutcome }>();
  const known = readKnown();

  beforeAll(() => {
    const remotes = loadRemotes();
    for (const draft of SUITE_DRAFTS) {
      const groups = loadDraft(draft);
      const validator = new AjvSchemaValidator({
        defaultDraft: draft === 'draft7' ? 'draft-07' : '2020-12',
        remotes: remotes as Record<string, JsonSchema>,
      });
      const ours = runGroups(groups, (schema) => {
        const check = validator.compile(schema as JsonSchema);
        return (value) => check(value).valid;
      });
      const ajv = plainAjv(draft, remotes);
      const base = runGroups(groups, (schema) => {
        try {
          return ajv.compile(schema);
        } finally {
          // Several groups reuse one $id; plain ajv would refuse the second otherwise.
          if (typeof schema === 'object' && schema !== null) ajv.removeSchema(schema);
        }
      });
      results.set(draft, { groups, ours, ajv: base });
      const pct = (o: SuiteOutcome) => ((100 * o.passed) / o.total).toFixed(1);
      // The same figures without optional/ (the spec's required behaviour only).
      const requiredTotal = groups.filter((g) => !g.file.includes('/optional/')).reduce((n, g) => n + g.cases.length, 0);
      const requiredFailed = (o: SuiteOutcome) => o.failures.filter((n) => !n.includes('/optional/')).length;
      console.log(
        `JSON-Schema-Test-Suite ${draft}: toolexec ${ours.passed}/${ours.total} (${pct(ours)}%), plain ajv ${base.passed}/${base.total} (${pct(base)}%); ` +
          `without optional/: toolexec ${requiredTotal - requiredFailed(ours)}/${requiredTotal}, plain ajv ${requiredTotal - requiredFailed(base)}/${requiredTotal}`,
      );
    }
    if (update) {
      const failures: Record<string, string> = {};
      for (const draft of SUITE_DRAFTS) {
        for (const name of results.get(draft)!.ours.failures) failures[name] = known.failures[name] ?? reasonFor(name);
      }
      const out: KnownFailures = {
        $comment:
          'JSON-Schema-Test-Suite cases AjvSchemaValidator knowingly fails, with the reason. test/schema/suite.test.ts asserts that every other case passes and that each listed case still fails. Regenerate: UPDATE_KNOWN_FAILURES=1 npx vitest run test/schema/suite.test.ts',
        failures,
      };
      writeFileSync(KNOWN_FAILURES_FILE, JSON.stringify(out, null, 2) + '\n');
      known.failures = failures;
    }
  });

  for (const draft of SUITE_DRAFTS) {
    describe(draft, () => {
      test('every case not listed in known-failures.json passes', () => {
        const { ours } = results.get(draft)!;
        const unexpected = ours.failures.filter((n) => !(n in known.failures));
        expect(unexpected).toEqual([]);
      });

      test('every listed failure of this draft exists and still fails', () => {
        const { groups, ours } = results.get(draft)!;
        const names = new Set(groups.flatMap((g) => g.cases.map((c) => c.name)));
        const failing = new Set(ours.failures);
        const listed = Object.keys(known.failures).filter((n) => n.startsWith(`${draft}/`));
        expect(listed.filter((n) => !names.has(n)), 'listed cases missing from the suite').toEqual([]);
        expect(listed.filter((n) => !failing.has(n)), 'listed cases that now pass: remove them from known-failures.json').toEqual([]);
      });

      test('passes at least as many cases as plain ajv', () => {
        const { ours, ajv } = results.get(draft)!;
        expect(ours.passed).toBeGreaterThanOrEqual(ajv.passed);
      });
    });
  }

  test('known-failures.json names only cases of the drafts we run', () => {
    const bad = Object.keys(known.failures).filter((n) => !SUITE_DRAFTS.some((d) => n.startsWith(`${d}/`)));
    expect(bad).toEqual([]);
  });
});
