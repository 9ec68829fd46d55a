// Shared by the secret tests: every output a test captures is kept, and at the end none may hold
// the secret in any of its forms (as is, URL-encoded, JSON-escaped, base64).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';

export function secretForms(secret: string): string[] {
  return [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1), Buffer.from(secret).toString('base64')];
}

export class Captured {
  readonly items: { what: string; text: string }[] = [];

  /** Keeps `value` (as text) under the name `what`, and returns the text. */
  capture(what: string, value: unknown): string {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    this.items.push({ what, text });
    return text;
  }

  /** Fails naming the first output that shows one of `forms`. */
  expectNone(forms: readonly string[], noun = 'the secret'): void {
    expect(this.items.length).toBeGreaterThan(0);
    for (const { what, text } of this.items) {
      for (const form of forms) expect(text.includes(form), `${what} shows ${noun}:\n${text}`).toBe(false);
    }
  }
}

/** Writes `obj` as toolexec.config.json in a new temporary folder; returns its path. */
export function writeConfig(obj: Record<string, unknown>, prefix = 'toolexec-secrets-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const file = join(dir, 'toolexec.config.json');
  writeFileSync(file, JSON.stringify(obj, null, 2));
  return file;
}
