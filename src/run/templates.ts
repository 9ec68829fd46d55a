/**
 * Chain argument templates: `{{prev.number}}`, `{{steps.0.id}}`, `{{steps[1].items[0].name}}`.
 * A template that is the whole string keeps the referenced value's type; one embedded in
 * longer text is interpolated (objects as JSON).
 */
import { ToolError } from '../model/errors.js';

const WHOLE = /^\{\{\s*([^{}]+?)\s*\}\}$/;
const EMBEDDED = /\{\{\s*([^{}]+?)\s*\}\}/g;

export interface TemplateScope {
  prev: unknown;
  steps: unknown[];
}

function parsePath(expr: string): (string | number)[] {
  const parts: (string | number)[] = [];
  const re = /([A-Za-z_$][\w$-]*)|\[(\d+)\]|\.(\d+)|\[\s*["']([^"']*)["']\s*\]/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(expr)) !== null) {
    const gap = expr.slice(last, m.index);
    if (gap !== '' && gap !== '.') throw new Error(`cannot parse ${JSON.stringify(expr)} near ${JSON.stringify(gap)}`);
    if (m[1] !== undefined) parts.push(/^\d+$/.test(m[1]) ? Number(m[1]) : m[1]);
    else if (m[2] !== undefined) parts.push(Number(m[2]));
    else if (m[3] !== undefined) parts.push(Number(m[3]));
    else parts.push(m[4]!);
    last = re.lastIndex;
  }
  if (last !== expr.length) throw new Error(`cannot parse ${JSON.stringify(expr)} near ${JSON.stringify(expr.slice(last))}`);
  return parts;
}

function lookup(expr: string, scope: TemplateScope, where: string): unknown {
  let path: (string | number)[];
  try {
    path = parsePath(expr);
  } catch (e) {
    throw new ToolError('INPUT_VALIDATION', `Template {{${expr}}} at ${where}: ${(e as Error).message}`, { op: 'chain' });
  }
  const root = path.shift();
  let value: unknown;
  if (root === 'prev') value = scope.prev;
  else if (root === 'steps') value = scope.steps;
  else throw new ToolError('INPUT_VALIDATION', `Template {{${expr}}} at ${where}: must start with "prev" or "steps"`, { op: 'chain' });
  let walked = String(root);
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.prototype.hasOwnProperty.call(value, key)) {
      throw new ToolError('INPUT_VALIDATION', `Template {{${expr}}} at ${where}: ${walked} has no ${typeof key === 'number' ? `index ${key}` : `property ${JSON.stringify(key)}`}`, { op: 'chain' });
    }
    value = (value as Record<string | number, unknown>)[key];
    walked += typeof key === 'number' ? `[${key}]` : `.${key}`;
  }
  return value;
}

/** Resolves every template in `value` (deeply); `where` is a JSON-pointer-ish location for errors. */
export function resolveTemplates(value: unknown, scope: TemplateScope, where = 'args'): unknown {
  if (typeof value === 'string') {
    if (!value.includes('{{')) return value;
    const whole = WHOLE.exec(value);
    if (whole) return lookup(whole[1]!, scope, where);
    return value.replace(EMBEDDED, (_, expr: string) => {
      const v = lookup(expr, scope, where);
      return typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveTemplates(v, scope, `${where}[${i}]`));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveTemplates(v, scope, `${where}.${k}`);
    return out;
  }
  return value;
}
