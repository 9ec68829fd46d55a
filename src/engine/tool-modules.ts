/**
 * Loading tool modules (`--tools ./tools.mjs`): ES modules whose default export is an array
 * of tool definitions with handlers. Every mistake is reported with the module and the
 * tool's position so a user can find it.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import { ToolError } from '../model/errors.js';
import type { Tool } from '../model/tool.js';
import type { LocalToolDefinition, Runner } from '../run/runner.js';

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

/** Imports one module and returns its tool definitions, checked for shape. */
export async function importToolModule(path: string, cwd = process.cwd()): Promise<LocalToolDefinition[]> {
  const file = resolve(cwd, path);
  if (!existsSync(file)) throw new ToolModuleError(path, `file not found (looked at ${file})`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    throw new ToolModuleError(path, `failed to import: ${(e as Error).message}`, { cause: e });
  }
  let list = mod.default ?? mod.tools;
  if (typeof list === 'function') list = await (list as () => unknown)();
  if (!Array.isArray(list)) {
    throw new ToolModuleError(path, `the default export must be an array of tool definitions, got ${list === undefined ? 'nothing' : typeof list}`);
  }
  list.forEach((def, i) => {
    const label = `tool #${i}${def && typeof def === 'object' && typeof def.name === 'string' ? ` (${def.namespace ? `${def.namespace}:` : ''}${def.name})` : ''}`;
    if (!def || typeof def !== 'object') throw new ToolModuleError(path, `${label} must be an object`);
    if (typeof def.name !== 'string') throw new ToolModuleError(path, `${label} needs a string "name"`);
    if (typeof def.handler !== 'function') throw new ToolModuleError(path, `${label} needs a "handler" function`);
  });
  return list as LocalToolDefinition[];
}

/** Imports modules and registers their tools (schemas in the index, handlers locally). */
export async function loadToolModules(paths: readonly string[], runner: Runner, cwd = process.cwd()): Promise<Tool[]> {
  const tools: Tool[] = [];
  for (const path of paths) {
    const defs = await importToolModule(path, cwd);
    defs.forEach((def, i) => {
      try {
        tools.push(runner.register(def));
      } catch (e) {
        const why = e instanceof ToolError || e instanceof Error ? e.message : String(e);
        throw new ToolModuleError(path, `tool #${i} (${def.name}): ${why}`, { cause: e });
      }
    });
  }
  return tools;
}
