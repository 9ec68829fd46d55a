/**
 * How tool names are spelled inside the sandbox. Shared by the executor (which maps the
 * spellings back to tool IDs) and the type generator (which declares them), so the two agree.
 */

/** Maps `my-ns:get.item` to the JavaScript-safe spelling `my_ns:get_item` used by `tools.my_ns.get_item`. */
export function jsSafeName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_$]/g, '_');
  return /^[0-9]/.test(s) ? `_${s}` : s;
}
