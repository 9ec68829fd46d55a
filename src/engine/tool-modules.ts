/**
 * Loading tool modules (`--tools ./tools.mjs`, `tools` in the config): ES modules (`.mjs`,
 * `.js`, `.ts`, `.mts`) whose default export is an array of tool definitions with handlers.
 * Everything is checked at load, before any tool can be called: the shape of each
 * definition, its schemas (compiled with the runner's validator), and that no two tools
 * share an ID (unless the later one says `replace: true`) or take the namespace of an MCP
 * server. Every mistake names the module and the tool so a user can find it.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import { ToolError } from '../model/errors.js';
import { toolIdOf } from '../model/tool-id.js';
import type { Tool } from '../model/tool.js';
import type { LocalToolDefinition, Runner } from '../run/runner.js';
import { enableTypeScriptModules, nodeStripsTypes, TYPESCRIPT_MODULE } from './typescript-modules.js';

export class ToolModuleError extends Error {
  override readonly name = 'ToolModuleError';
  readonly code = 'TOOL_MODULE';
  constructor(
    readonly module: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${module}: ${message}`, options);
  }
}

/** A tool definition in a module: a local definition, plus `replace` to override an earlier tool of the same ID. */
export interface ToolModuleDefinition extends LocalToolDefinition {
  /** This tool replaces one of the same ID loaded before it (from an earlier module); without it, a second ID is an error. */
  replace?: boolean;
}

/** Options of `loadToolModules`. */
export interface LoadToolModulesOptions {
  /** What relative module paths are resolved against (default `process.cwd()`). */
  cwd?: string;
  /**
   * Namespaces that belong to MCP servers (namespace → how to name the server in messages,
   * e.g. `mcpServers.memory`): a module tool may not use them, since the server's tools
   * would collide with it at any refresh.
   */
  reservedNamespaces?: ReadonlyMap<string, string>;
}

function label(def: unknown, i: number): string {
  const d = def as { name?: unknown; namespace?: unknown } | null;
  return `tool #${i}${d && typeof d === 'object' && typeof d.name === 'string' ? ` (${typeof d.namespace === 'string' && d.namespace ? `${d.namespace}:` : ''}${d.name})` : ''}`;
}

/** Imports one module and returns its tool definitions, checked for shape. */
export async function importToolModule(path: string, cwd = process.cwd()): Promise<ToolModuleDefinition[]> {
  const file = resolve(cwd, path);
  if (!existsSync(file)) throw new ToolModuleError(path, `file not found (looked at ${file})`);
  const typescript = TYPESCRIPT_MODULE.test(file);
  let mod: Record<string, unknown>;
  try {
    if (typescript) await enableTypeScriptModules();
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    throw new ToolModuleError(path, `failed to import: ${importFailure(e, typescript)}`, { cause: e });
  }
  let list = mod.default ?? mod.tools;
  if (typeof list === 'function') list = await (list as () => unknown)();
  if (!Array.isArray(list)) {
    throw new ToolModuleError(path, `the default export must be an array of tool definitions, got ${list === undefined ? 'nothing' : typeof list}`);
  }
  list.forEach((def, i) => {
    const l = label(def, i);
    if (!def || typeof def !== 'object') throw new ToolModuleError(path, `${l} must be an object`);
    if (typeof def.name !== 'string') throw new ToolModuleError(path, `${l} needs a string "name"`);
    if (typeof def.handler !== 'function') throw new ToolModuleError(path, `${l} needs a "handler" function`);
    if (def.replace !== undefined && typeof def.replace !== 'boolean') throw new ToolModuleError(path, `${l}: "replace" must be a boolean, got ${typeof def.replace}`);
  });
  return list as ToolModuleDefinition[];
}

/** The reason an import failed, with the hint a TypeScript module usually needs. */
function importFailure(e: unknown, typescript: boolean): string {
  const err = e as { message?: unknown; code?: unknown };
  const message = String(err?.message ?? e);
  if (!typescript) return message;
  if (err?.code === 'ERR_MODULE_NOT_FOUND' || err?.code === 'ERR_UNSUPPORTED_DIR_IMPORT') {
    return `${message} (a TypeScript module imports other files by their full name, "./helper.ts", as Node requires)`;
  }
  if (err?.code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX') {
    return `${message} (types are stripped, not compiled: enum, namespace and parameter properties need a compiler; rewrite them or compile the module to .js)`;
  }
  if (err?.code === 'ERR_UNKNOWN_FILE_EXTENSION' && !nodeStripsTypes()) {
    return `${message} (this Node (${process.versions.node}) cannot strip types; use Node 22.18 or later, or install amaro)`;
  }
  return message;
}

/**
 * Imports modules and registers their tools (schemas in the index, handlers locally), in
 * order. Throws `ToolModuleError` for the first problem: an unusable definition or schema,
 * a duplicate ID without `replace: true`, a namespace an MCP server owns.
 */
export async function loadToolModules(paths: readonly string[], runner: Runner, options: LoadToolModulesOptions | string = {}): Promise<Tool[]> {
  const opts: LoadToolModulesOptions = typeof options === 'string' ? { cwd: options } : options;
  const cwd = opts.cwd ?? process.cwd();
  const tools: Tool[] = [];
  /** Where each ID loaded here came from, for the duplicate message. */
  const origin = new Map<string, string>();
  for (const path of paths) {
    const defs = await importToolModule(path, cwd);
    defs.forEach((def, i) => {
      const where = `${label(def, i)}`;
      const { replace, ...definition } = def;
      let id: string;
      try {
        id = toolIdOf(definition);
      } catch (e) {
        throw new ToolModuleError(path, `${where}: ${(e as Error).message}`, { cause: e });
      }
      const owner = definition.namespace !== undefined ? opts.reservedNamespaces?.get(definition.namespace) : undefined;
      if (owner !== undefined) {
        throw new ToolModuleError(path, `${where} uses the namespace ${JSON.stringify(definition.namespace)}, which belongs to the MCP server ${owner}; give the tool another namespace`);
      }
      const earlier = origin.get(id) ?? (runner.local.has(id) ? 'a tool registered before the modules' : undefined);
      if (earlier !== undefined && replace !== true) {
        throw new ToolModuleError(path, `${where} has the ID ${id}, like ${earlier}; rename one, or set replace: true on this one to override the earlier tool`);
      }
      for (const which of ['inputSchema', 'outputSchema'] as const) {
        const schema = definition[which];
        if (schema === undefined) continue;
        try {
          runner.validator.compile(schema);
        } catch (e) {
          throw new ToolModuleError(path, `${where} has an invalid ${which}: ${(e as Error).message}`, { cause: e });
        }
      }
      try {
        tools.push(runner.register(definition));
      } catch (e) {
        const why = e instanceof ToolError || e instanceof Error ? e.message : String(e);
        throw new ToolModuleError(path, `${where}: ${why}`, { cause: e });
      }
      origin.set(id, `${where} in ${path}`);
    });
  }
  return tools;
}
