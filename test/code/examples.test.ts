import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Executor } from '../../src/code/executor.js';
import { Runner } from '../../src/run/runner.js';
// @ts-expect-error plain JavaScript tool module
import exampleTools from '../../examples/tools.mjs';

const script = readFileSync(new URL('../../examples/orchestrate.js', import.meta.url), 'utf8');

describe('examples/orchestrate.js (the seed journey)', () => {
  const runner = new Runner();
  for (const tool of exampleTools) runner.register(tool);
  const executor = new Executor({ runner, runtime: 'quickjs' });
  afterAll(() => executor.dispose());

  it('creates an issue, checks its title, labels it and returns it', async () => {
    const r = await executor.execute(script, { allowedTools: ['github:*'] });
    expect(r.error).toBeUndefined();
    expect(r.value).toMatchObject({ title: 'Login fails with a bug in the session cookie', labels: ['bug', 'needs-triage'], state: 'open' });
    expect(r.toolCalls.map((c) => [c.toolId, c.ok])).toEqual([
      ['github:create_issue', true],
      ['github:add_labels', true],
    ]);
    expect(r.logs.map((l) => l.message)).toEqual([
      expect.stringMatching(/^created #\d+: Login fails/),
      expect.stringMatching(/^labelled #\d+: bug, needs-triage$/),
    ]);
  });
});
