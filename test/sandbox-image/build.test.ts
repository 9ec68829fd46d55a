// The sandbox image's content hash (sandbox-image/build.mjs) depends on what goes into the
// image, not on where the checkout lives: two copies of the tree at different paths hash the
// same, and a changed guest file changes it. Only the hash is computed; nothing is built.
import { describe, expect, it } from 'vitest';
import { appendFileSync, cpSync, existsSync, mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../server/helpers.js';

interface BuildModule {
  imageFiles(nodeBin: string, libs: string[]): { dest: string; src: string }[];
  contentHash(files: { dest: string; src: string }[]): string;
  sharedLibraries(bin: string): string[];
}

/** A copy of what build.mjs reads, at a path of its own. */
function copyTree(name: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), `toolexec-image-${name}-`)), 'deeper', name);
  for (const f of ['sandbox-image', 'runtimes', 'package.json']) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
  return dir;
}

async function hashOf(tree: string): Promise<string> {
  const m = (await import(pathToFileURL(join(tree, 'sandbox-image', 'build.mjs')).href)) as BuildModule;
  const node = realpathSync(process.execPath);
  return m.contentHash(m.imageFiles(node, m.sharedLibraries(node)));
}

describe('sandbox image content hash', { skip: process.platform !== 'linux' ? 'the offline image is built on Linux only' : false }, () => {
  it('is the same for two copies of the tree at different paths, and changes with the content', async () => {
    const a = copyTree('a');
    const b = copyTree('somewhere-else');
    const [ha, hb, hroot] = await Promise.all([hashOf(a), hashOf(b), hashOf(ROOT)]);
    expect(ha).toMatch(/^[0-9a-f]{16}$/);
    expect(hb).toBe(ha);
    expect(hroot).toBe(ha);
    const changed = copyTree('changed');
    appendFileSync(join(changed, 'runtimes', 'docker', 'agent.js'), '\n// changed\n');
    expect(await hashOf(changed)).not.toBe(ha);
    // Importing the script computes nothing and builds nothing.
    expect(existsSync(join(a, '.tmp'))).toBe(false);
  });
});
