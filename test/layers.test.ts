// The layer order of DESIGN.md, enforced on every import under src/: static imports and
// re-exports, `import type`, `typeof import('…')` in types, dynamic `import()` (literal or
// through a constant, a conditional or a function parameter fed by constants) and
// `createRequire` requires. Parsed with the TypeScript compiler (a devDependency), not regexes.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');

/** DESIGN.md "Layers", lowest first. A layer may import its own and lower layers only. */
export const LAYERS = ['model', 'schema', 'index', 'backends', 'run', 'runtime', 'store', 'code', 'config', 'engine', 'server', 'cli'] as const;
const ORDER = LAYERS.join(' < ');
/** The highest layer the root entry may reach: it exports the runner, the index and the executor. */
const ROOT_ENTRY_CEILING = 'code';

/**
 * Dynamic imports whose specifier is not in the source at all, by file and expression text,
 * with the reason they are allowed. Any other unresolvable specifier fails the test: it would
 * be an import this check cannot see.
 */
const UNRESOLVABLE_ALLOWED: Record<string, { expression: string; why: string }[]> = {
  'src/engine/tool-modules.ts': [{ expression: 'pathToFileURL(file).href', why: "the user's tool modules, outside src/" }],
  'src/code/prepare.ts': [{ expression: 'main', why: "amaro's own entry, resolved by name just before, loaded afresh after a WebAssembly trap" }],
};

export interface ImportEdge {
  /** `import`, `import type`, `export from`, `import()`, `typeof import()`, `require()` */
  kind: string;
  specifier: string;
  line: number;
}

export interface Unresolved {
  kind: string;
  expression: string;
  line: number;
}

/** Every import of one source file, with the specifiers of dynamic imports resolved where the file says what they are. */
export function importsOf(fileName: string, text: string): { edges: ImportEdge[]; unresolved: Unresolved[] } {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const edges: ImportEdge[] = [];
  const unresolved: Unresolved[] = [];
  const lineOf = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const requireNames = new Set<string>();
  const all: ts.Node[] = [];
  const collect = (n: ts.Node) => {
    all.push(n);
    ts.forEachChild(n, collect);
  };
  collect(sf);
  const isCreateRequire = (e: ts.Expression) => ts.isCallExpression(e) && ts.isIdentifier(e.expression) && e.expression.text === 'createRequire';
  for (const n of all) {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer && isCreateRequire(n.initializer)) requireNames.add(n.name.text);
  }

  /** The string values an expression can take, or undefined when the file does not say. */
  const valuesOf = (e: ts.Expression, depth = 0): string[] | undefined => {
    if (depth > 5) return undefined;
    if (ts.isStringLiteralLike(e)) return [e.text];
    if (ts.isParenthesizedExpression(e) || ts.isAsExpression(e)) return valuesOf(e.expression, depth + 1);
    if (ts.isConditionalExpression(e)) {
      const a = valuesOf(e.whenTrue, depth + 1);
      const b = valuesOf(e.whenFalse, depth + 1);
      return a && b ? [...a, ...b] : undefined;
    }
    if (ts.isPropertyAccessExpression(e) || ts.isElementAccessExpression(e)) {
      // `entry.module` where `entry` comes from a table of this file: every value the table
      // gives that property (`{ quickjs: { module: './quickjs/index.js' } }`).
      const prop = ts.isPropertyAccessExpression(e) ? e.name.text : ts.isStringLiteralLike(e.argumentExpression) ? e.argumentExpression.text : undefined;
      if (prop === undefined) return undefined;
      const out: string[] = [];
      for (const a of all) {
        if (!ts.isPropertyAssignment(a) || a.name.getText(sf).replace(/^['"]|['"]$/g, '') !== prop) continue;
        const v = valuesOf(a.initializer, depth + 1);
        if (!v) return undefined;
        out.push(...v);
      }
      return out.length > 0 ? out : undefined;
    }
    if (!ts.isIdentifier(e)) return undefined;
    const name = e.text;
    // A parameter of the enclosing function: the values its callers in this file pass.
    for (let p: ts.Node | undefined = e.parent; p; p = p.parent) {
      if (!ts.isFunctionLike(p)) continue;
      const index = p.parameters.findIndex((param) => ts.isIdentifier(param.name) && param.name.text === name);
      if (index === -1) continue;
      const fnName =
        ts.isFunctionDeclaration(p) && p.name
          ? p.name.text
          : p.parent && ts.isVariableDeclaration(p.parent) && ts.isIdentifier(p.parent.name)
            ? p.parent.name.text
            : undefined;
      if (!fnName) return undefined;
      const calls = all.filter((c): c is ts.CallExpression => ts.isCallExpression(c) && ts.isIdentifier(c.expression) && c.expression.text === fnName);
      if (calls.length === 0) return undefined;
      const out: string[] = [];
      for (const c of calls) {
        const arg = c.arguments[index];
        const v = arg ? valuesOf(arg, depth + 1) : undefined;
        if (!v) return undefined;
        out.push(...v);
      }
      return out;
    }
    // A constant of the file.
    for (const d of all) {
      if (ts.isVariableDeclaration(d) && ts.isIdentifier(d.name) && d.name.text === name && d.initializer && (d.parent.flags & ts.NodeFlags.Const) !== 0) {
        return valuesOf(d.initializer, depth + 1);
      }
    }
    return undefined;
  };

  const add = (kind: string, arg: ts.Expression | undefined, at: ts.Node) => {
    const values = arg ? valuesOf(arg) : undefined;
    if (values) for (const specifier of values) edges.push({ kind, specifier, line: lineOf(at) });
    else unresolved.push({ kind, expression: arg ? arg.getText(sf) : '(none)', line: lineOf(at) });
  };

  for (const n of all) {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      const typeOnly = n.importClause?.isTypeOnly === true;
      edges.push({ kind: typeOnly ? 'import type' : 'import', specifier: n.moduleSpecifier.text, line: lineOf(n) });
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      edges.push({ kind: n.isTypeOnly ? 'export type from' : 'export from', specifier: n.moduleSpecifier.text, line: lineOf(n) });
    } else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference)) {
      add('import = require()', n.moduleReference.expression, n);
    } else if (ts.isImportTypeNode(n)) {
      const lit = n.argument;
      if (ts.isLiteralTypeNode(lit) && ts.isStringLiteral(lit.literal)) edges.push({ kind: 'typeof import()', specifier: lit.literal.text, line: lineOf(n) });
      else unresolved.push({ kind: 'typeof import()', expression: lit.getText(sf), line: lineOf(n) });
    } else if (ts.isCallExpression(n)) {
      if (n.expression.kind === ts.SyntaxKind.ImportKeyword) add('import()', n.arguments[0], n);
      else if ((ts.isIdentifier(n.expression) && requireNames.has(n.expression.text)) || isCreateRequire(n.expression)) add('require()', n.arguments[0], n);
    }
  }
  return { edges, unresolved };
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The file a relative specifier names (`./x.js` is `./x.ts` in src/). */
function target(from: string, specifier: string): string {
  const path = resolve(dirname(from), specifier);
  if (path.endsWith('.js') && existsSync(path.slice(0, -3) + '.ts')) return path.slice(0, -3) + '.ts';
  if (existsSync(join(path, 'index.ts'))) return join(path, 'index.ts');
  return path;
}

/** `model`, `runtime`, ... for a file in a layer folder; `entry` for a public entry (a file at src/'s top). */
function layerOf(file: string): string {
  const rel = relative(SRC, file).split(sep);
  return rel.length === 1 ? 'entry' : rel[0]!;
}

/** Every rule an import breaks, as a message naming the file, the import and the rule. */
export function violations(file: string, edge: ImportEdge): string[] {
  const where = `${relative(ROOT, file)}:${edge.line}: ${edge.kind} '${edge.specifier}'`;
  if (!edge.specifier.startsWith('.')) return [];
  const to = target(file, edge.specifier);
  const relTo = relative(ROOT, to);
  if (relTo.startsWith(`runtimes${sep}`)) return [`${where}: src/ never imports runtimes/ (guest code is loaded as text, DESIGN.md "Layers")`];
  if (relative(SRC, to).startsWith('..')) {
    return relTo === 'package.json' ? [] : [`${where}: src/ imports nothing outside src/ but package.json (this names ${relTo})`];
  }
  const from = layerOf(file);
  const into = layerOf(to);
  if (into === 'entry') return [`${where}: a public entry (src/*.ts) is imported by nothing inside src/; import the layer file it re-exports`];
  for (const l of [from, into]) {
    if (l !== 'entry' && !(LAYERS as readonly string[]).includes(l)) return [`${where}: src/${l}/ is not a layer of DESIGN.md (${ORDER}); add it there and to LAYERS in this test`];
  }
  if (from === 'entry') {
    if (into === 'cli') return [`${where}: a public entry never reaches the CLI`];
    if (relative(SRC, file) === 'index.ts' && LAYERS.indexOf(into as never) > LAYERS.indexOf(ROOT_ENTRY_CEILING)) {
      return [`${where}: the root entry exports the runner, the index and the executor (layers up to ${ROOT_ENTRY_CEILING}); ${into} has its own subpath entry`];
    }
    return [];
  }
  if (LAYERS.indexOf(into as never) > LAYERS.indexOf(from as never)) {
    return [`${where}: layer ${from} imports the higher layer ${into} (${ORDER}; lower layers never import higher ones, types included)`];
  }
  return [];
}

describe('layers', () => {
  const files = sourceFiles(SRC);

  it('finds the source files and their imports', () => {
    expect(files.length).toBeGreaterThan(50);
    const engine = importsOf('engine.ts', readFileSync(join(SRC, 'engine', 'engine.ts'), 'utf8'));
    // The engine's lazy executor import goes through a constant: it must be seen.
    expect(engine.edges).toContainEqual(expect.objectContaining({ kind: 'import()', specifier: '../code/executor.js' }));
    expect(engine.edges).toContainEqual(expect.objectContaining({ kind: 'typeof import()', specifier: '../code/executor.js' }));
  });

  it('no file under src/ imports a higher layer, runtimes/, or a public entry', () => {
    const problems: string[] = [];
    for (const file of files) {
      const { edges, unresolved } = importsOf(file, readFileSync(file, 'utf8'));
      for (const edge of edges) problems.push(...violations(file, edge));
      const allowed = UNRESOLVABLE_ALLOWED[relative(ROOT, file).split(sep).join('/')] ?? [];
      for (const u of unresolved) {
        if (!allowed.some((a) => a.expression === u.expression)) {
          problems.push(`${relative(ROOT, file)}:${u.line}: ${u.kind} of ${u.expression}: a specifier this check cannot resolve; use a literal or a constant, or list it in UNRESOLVABLE_ALLOWED with the reason`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("the engine and the config never reach into the CLI (grep -rn \"from '\\.\\./cli\" src/engine src/config)", () => {
    const hits = files
      .filter((f) => /^(engine|config)$/.test(layerOf(f)))
      .flatMap((f) => readFileSync(f, 'utf8').split('\n').map((line, i) => [f, i + 1, line] as const))
      .filter(([, , line]) => /from '\.\.\/cli/.test(line))
      .map(([f, n, line]) => `${relative(ROOT, f)}:${n}: ${line.trim()}`);
    expect(hits).toEqual([]);
  });

  describe('the checker itself', () => {
    const at = (path: string) => join(SRC, path);
    const check = (path: string, text: string) => {
      const { edges, unresolved } = importsOf(path, text);
      return { problems: edges.flatMap((e) => violations(at(path), e)), unresolved };
    };

    it('reports a lower layer importing a higher one, by file, import and rule, types and dynamic imports included', () => {
      const { problems } = check(
        'model/tool.ts',
        [
          "import type { JsonSchema } from '../schema/types.js';",
          "export { Runner } from '../run/runner.js';",
          "const M = '../code/executor.js';",
          'async function load(spec: string) { return import(spec); }',
          'void load(M);',
          "type E = typeof import('../engine/engine.js');",
          "import { createRequire } from 'node:module';",
          "const require = createRequire(import.meta.url);",
          "require(true ? '../cli/util.js' : '../server/http.js');",
        ].join('\n'),
      );
      expect(problems).toEqual([
        "src/model/tool.ts:1: import type '../schema/types.js': layer model imports the higher layer schema (" + ORDER + '; lower layers never import higher ones, types included)',
        expect.stringMatching(/^src\/model\/tool\.ts:2: export from '\.\.\/run\/runner\.js': layer model imports the higher layer run/),
        expect.stringMatching(/^src\/model\/tool\.ts:4: import\(\) '\.\.\/code\/executor\.js': layer model imports the higher layer code/),
        expect.stringMatching(/^src\/model\/tool\.ts:6: typeof import\(\) '\.\.\/engine\/engine\.js': layer model imports the higher layer engine/),
        expect.stringMatching(/^src\/model\/tool\.ts:9: require\(\) '\.\.\/cli\/util\.js': layer model imports the higher layer cli/),
        expect.stringMatching(/^src\/model\/tool\.ts:9: require\(\) '\.\.\/server\/http\.js': layer model imports the higher layer server/),
      ]);
    });

    it('reports imports of runtimes/, of a public entry, and the root entry reaching past the executor', () => {
      expect(check('runtime/prelude.ts', "import '../../runtimes/prelude.js';").problems).toEqual([expect.stringMatching(/src\/ never imports runtimes\//)]);
      expect(check('code/executor.ts', "import { Runner } from '../index.js';").problems).toEqual([expect.stringMatching(/a public entry \(src\/\*\.ts\) is imported by nothing/)]);
      expect(check('index.ts', "export { createEngine } from './engine/engine.js';").problems).toEqual([expect.stringMatching(/the root entry exports the runner, the index and the executor/)]);
      expect(check('server.ts', "export { ToolexecServer } from './server/toolexec-server.js';").problems).toEqual([]);
    });

    it('lets a higher layer import a lower one, and reports a specifier it cannot resolve', () => {
      expect(check('cli/exec.ts', "import type { ExecuteResult } from '../code/types.js';\nimport('../engine/engine.js');").problems).toEqual([]);
      expect(check('engine/x.ts', 'export async function f(s: string) { return import(s + ".js"); }').unresolved).toEqual([{ kind: 'import()', expression: 's + ".js"', line: 1 }]);
      const table = "const RUNTIMES = { a: { module: './a/index.js' }, b: { module: '../cli/main.js' } };\nexport const load = (n: 'a' | 'b') => import(RUNTIMES[n].module);";
      expect(check('runtime/load.ts', table).problems).toEqual([expect.stringMatching(/^src\/runtime\/load\.ts:2: import\(\) '\.\.\/cli\/main\.js': layer runtime imports the higher layer cli/)]);
    });
  });
});
