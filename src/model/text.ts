/**
 * Text that comes from a guest or an upstream is bounded before the host keeps or prints it; a
 * cut is always said, so nobody mistakes a cut message for a whole one.
 */

/** Cuts `text` to `max` characters, saying how much was left out. */
export function capText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters cut)`;
}
