// The real TypeScript compiler over declarations and a script, for the declaration tests.
import ts from 'typescript';

/**
 * Type-checks `script` against the declarations with the real TypeScript compiler, strict, as a
 * TypeScript user pasting them into a project would; returns the diagnostics.
 */
export function typecheck(decls: string, script: string): string[] {
  const files: Record<string, string> = { 'decls.d.ts': decls, 'script.ts': `export {};\n${script}` };
  const options: ts.CompilerOptions = { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, lib: ['lib.es2023.d.ts'], types: [] };
  const host = ts.createCompilerHost(options);
  const orig = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => (name in files ? ts.createSourceFile(name, files[name]!, lang) : orig(name, lang, ...rest));
  host.fileExists = (name) => name in files || ts.sys.fileExists(name);
  host.readFile = (name) => files[name] ?? ts.sys.readFile(name);
  const program = ts.createProgram(Object.keys(files), options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
    return `${d.file?.fileName ?? ''}${where ? `:${where.line}` : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}
