/**
 * Loads the official JSON-Schema-Test-Suite (kept outside the repo, in `../shared/testdata`)
 * and runs it against a validator factory. Shared by the suite test and its update mode.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** `<repo>/../shared/testdata/JSON-Schema-Test-Suite`. */
export const SUITE_DIR = resolve(here, '../../../shared/testdata/JSON-Schema-Test-Suite');
export const KNOWN_FAILURES_FILE = join(here, 'known-failures.json');

export const SUITE_DRAFTS = ['draft2020-12', 'draft7'] as const;
export type SuiteDraft = (typeof SUITE_DRAFTS)[number];

export interface SuiteCase {
  /** `<draft>/<file> | <group description> | <test description>`, unique. */
  name: string;
  data: unknown;
  valid: boolean;
}
export interface SuiteGroup {
  file: string;
  description: string;
  schema: unknown;
  cases: SuiteCase[];
}

export function suiteAvailable(): boolean {
  return existsSync(join(SUITE_DIR, 'tests')) && existsSync(join(SUITE_DIR, 'remotes'));
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.json')) out.push(p);
  }
  return out;
}

/** Every remote document, keyed by the URI the suite serves it at. */
export function loadRemotes(): Record<string, unknown> {
  const remotes: Record<string, unknown> = {};
  const root = join(SUITE_DIR, 'remotes');
  for (const file of walk(root)) {
    remotes[`http://localhost:1234/${relative(root, file).split('\\').join('/')}`] = JSON.parse(readFileSync(file, 'utf8'));
  }
  return remotes;
}

/** The groups of one draft: required tests, `optional/`, and `optional/format/`. */
export function loadDraft(draft: SuiteDraft): SuiteGroup[] {
  const root = join(SUITE_DIR, 'tests', draft);
  const seen = new Map<string, number>();
  const groups: SuiteGroup[] = [];
  for (const file of walk(root)) {
    const rel = `${draft}/${relative(root, file).split('\\').join('/')}`;
    const content = JSON.parse(readFileSync(file, 'utf8')) as { description: string; schema: unknown; tests: { description: string; data: unknown; valid: boolean }[] }[];
    for (const g of content) {
      const cases = g.tests.map((t) => {
        let name = `${rel} | ${g.description} | ${t.description}`;
        const n = (seen.get(name) ?? 0) + 1;
        seen.set(name, n);
        if (n > 1) name += ` #${n}`;
        return { name, data: t.data, valid: t.valid };
      });
      groups.push({ file: rel, description: g.description, schema: g.schema, cases });
    }
  }
  return groups;
}

/** Compiles a group's schema; the returned function answers "valid?" per value. */
export type GroupCompiler = (schema: unknown) => (value: unknown) => boolean;

export interface SuiteOutcome {
  total: number;
  passed: number;
  /** Names of failing cases (a group that does not compile fails all its cases). */
  failures: string[];
}

export function runGroups(groups: SuiteGroup[], compile: GroupCompiler): SuiteOutcome {
  let total = 0;
  let passed = 0;
  const failures: string[] = [];
  for (const g of groups) {
    let check: ((v: unknown) => boolean) | undefined;
    try {
      check = compile(g.schema);
    } catch {
      check = undefined;
    }
    for (const c of g.cases) {
      total++;
      let ok = false;
      if (check) {
        try {
          ok = check(c.data) === c.valid;
        } catch {
          ok = false;
        }
      }
      if (ok) passed++;
      else failures.push(c.name);
    }
  }
  return { total, passed, failures };
}

/** Why we expect a case to fail: the default reason written by update mode (edit freely). */
export function reasonFor(name: string): string {
  const [path = '', group = ''] = name.split(' | ');
  const file = path.replace(/^draft[^/]+\//, '');
  if (file === 'format.json' && path.startsWith('draft2020-12/')) return 'by design: toolexec asserts "format" under 2020-12 too (the suite expects annotation-only)';
  if (file === 'dynamicRef.json' || file === 'optional/dynamicRef.json') return 'ajv: incomplete $dynamicRef / $dynamicAnchor scoping';
  if (file.startsWith('unevaluated')) return 'ajv: unevaluated* does not see every annotation source (contains, if without then/else, $dynamicRef, nested items)';
  if (file === 'enum.json' && group === 'empty enum') return 'ajv refuses to compile an empty enum';
  if (file === 'ref.json') return 'ajv: relative/URN $ref resolution with nested $id';
  if (file === 'optional/cross-draft.json') return 'ajv applies one dialect per schema; a $ref into another draft is read in the referrer\'s dialect';
  if (file === 'optional/float-overflow.json') return 'JavaScript numbers: 1e308 * 2 overflows';
  if (file === 'optional/unknownKeyword.json') return 'ajv treats an $id inside an unknown keyword as an identifier';
  if (file === 'vocabulary.json') return 'ajv ignores $vocabulary';
  if (file === 'optional/content.json') return 'ajv does not assert contentMediaType / contentEncoding';
  if (file === 'properties.json' || file === 'required.json') return 'ajv: property names that exist on Object.prototype';
  const format = /^optional\/format\/(.+)\.json$/.exec(file)?.[1];
  if (format === 'idn-hostname' || format === 'idn-email' || format === 'iri' || format === 'iri-reference') return `ajv-formats has no "${format}" format; unknown formats are ignored`;
  if (format) return `ajv-formats: the "${format}" check differs from the RFC on this input`;
  return 'known ajv limitation';
}
