import { describe, expect, it } from 'vitest';
import { PolicyIndex, ToolPolicy, policyMiddleware } from '../../src/engine/policy.js';
import { InMemoryIndex } from '../../src/index/in-memory-index.js';
import { Runner } from '../../src/run/runner.js';
import { InvalidQueryError, MAX_QUERY_CHARS } from '../../src/index/query.js';

describe('ToolPolicy and PolicyIndex', () => {
  const policy = new ToolPolicy({ allow: ['a:*', 'b:keep'], deny: ['a:secret*'] });
  const inner = new InMemoryIndex();
  const view = new PolicyIndex(inner, policy);
  for (const id of ['a:one', 'a:two', 'a:three', 'a:secret_x', 'b:keep', 'b:drop', 'c:other']) {
    const [namespace, name] = id.split(':') as [string, string];
    inner.register({ namespace, name, description: `tool ${name} shared words` }, { kind: 'local', name: 'local' });
  }

  it('deny wins over allow; no pattern means everything', () => {
    expect(policy.allows('a:one')).toBe(true);
    expect(policy.allows('a:secret_x')).toBe(false);
    expect(policy.allows('b:drop')).toBe(false);
    expect(new ToolPolicy().allows('anything:at_all')).toBe(true);
    expect(new ToolPolicy().open).toBe(true);
  });

  it('hides excluded tools from get, has, list, namespaces and size', () => {
    expect(view.get('a:secret_x')).toBeUndefined();
    expect(view.has('b:drop')).toBe(false);
    expect(view.get('a:one')?.tool.id).toBe('a:one');
    expect(view.list().map((t) => t.id)).toEqual(['a:one', 'a:three', 'a:two', 'b:keep']);
    expect(view.namespaces()).toEqual([
      { namespace: 'a', count: 3 },
      { namespace: 'b', count: 1 },
    ]);
    expect(view.size).toBe(4);
  });

  it('searches and pages over the visible tools only, with cursors bound to the tool set', () => {
    const first = view.search('shared words', { limit: 3 });
    expect(first.total).toBe(4);
    expect(first.items).toHaveLength(3);
    const second = view.search('shared words', { limit: 3, cursor: first.nextCursor! });
    expect(second.items).toHaveLength(1);
    expect(second.nextCursor).toBeUndefined();
    const ids = [...first.items, ...second.items].map((h) => h.id).sort();
    expect(ids).toEqual(['a:one', 'a:three', 'a:two', 'b:keep']);
    expect(() => view.search('shared words', { limit: 3, cursor: 'garbage' })).toThrow(/Malformed search cursor/);
    inner.register({ namespace: 'a', name: 'four' }, { kind: 'local', name: 'local' });
    expect(() => view.search('shared words', { limit: 3, cursor: first.nextCursor! })).toThrow(/Stale search cursor/);
  });

  it('bounds a query itself, before the inner index sees it', () => {
    let innerSearches = 0;
    const counting = new InMemoryIndex();
    const original = counting.search.bind(counting);
    counting.search = (q, o) => {
      innerSearches++;
      return original(q, o);
    };
    const bounded = new PolicyIndex(counting, policy);
    expect(() => bounded.search('w'.repeat(MAX_QUERY_CHARS + 1))).toThrow(InvalidQueryError);
    expect(innerSearches).toBe(0);
    expect(view.search('shared').total).toBeGreaterThan(0);
  });

  it('forwards only visible changes', () => {
    const seen: string[] = [];
    const off = view.onChange((c) => seen.push(c.id));
    inner.register({ namespace: 'a', name: 'secret_y' }, { kind: 'local', name: 'local' });
    inner.register({ namespace: 'a', name: 'five' }, { kind: 'local', name: 'local' });
    off();
    expect(seen).toEqual(['a:five']);
  });
});

describe('policyMiddleware', () => {
  const policy = new ToolPolicy({ deny: ['secret:*'] });
  const runner = new Runner({ middleware: [policyMiddleware(policy)] });
  runner.register({ namespace: 'secret', name: 'feed', handler: async function* () { yield 'leaked'; return 'leaked'; } });
  runner.register({ namespace: 'math', name: 'one', handler: () => 1 });

  it('refuses runs, chains and streams of a hidden tool as TOOL_NOT_FOUND, with the op of the call', async () => {
    await expect(runner.run('secret:feed', {})).rejects.toMatchObject({ code: 'TOOL_NOT_FOUND', op: 'run' });
    await expect(runner.runChain([{ toolId: 'math:one' }, { toolId: 'secret:feed' }])).rejects.toMatchObject({ code: 'TOOL_NOT_FOUND', op: 'chain' });
    const events = [];
    for await (const ev of runner.runStream('secret:feed', {})) events.push(ev);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'error', data: { code: 'TOOL_NOT_FOUND', op: 'stream', message: expect.stringMatching(/not exposed/) } });
  });

  it('refuses an ID the pattern covers whether or not it is registered: the answer says nothing of existence', async () => {
    const known = await runner.run('secret:feed', {}).catch((e: Error) => e.message);
    const unknown = await runner.run('secret:nothing_here', {}).catch((e: Error) => e.message);
    expect(unknown).toBe(String(known).replace('secret:feed', 'secret:nothing_here'));
  });
});
