import { describe, expect, test, vi } from 'vitest';
import { InMemoryIndex, InvalidCursorError, tokenize, MAX_SEARCH_LIMIT } from '../../src/index/in-memory-index.js';
import type { IndexChange } from '../../src/index/types.js';
import type { BackendDescriptor } from '../../src/model/backend.js';
import { ToolError } from '../../src/model/errors.js';
import type { ToolDefinition } from '../../src/model/tool.js';

const LOCAL: BackendDescriptor = { kind: 'local', name: 'local' };
const PROVIDER: BackendDescriptor = { kind: 'provider', name: 'acme' };
const MCP = (tool: string, name = 'github'): BackendDescriptor => ({ kind: 'mcp', name, tool });

function captureError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

function recorder(index: InMemoryIndex) {
  const changes: IndexChange[] = [];
  index.onChange((c) => changes.push(c));
  return changes;
}

const CATALOG: ToolDefinition[] = [
  { namespace: 'github', name: 'create_issue', title: 'Create issue', description: 'Open a new issue in a GitHub repository', tags: ['vcs', 'write'] },
  { namespace: 'github', name: 'list_issues', description: 'List open issues of a repository', tags: ['vcs', 'read'] },
  { namespace: 'github', name: 'get_pull_request', description: 'Fetch a pull request with its review comments', tags: ['vcs', 'read'] },
  { namespace: 'jira', name: 'createTicket', title: 'Create ticket', description: 'File a ticket in a Jira project', tags: ['tracker', 'write'] },
  { namespace: 'slack', name: 'post_message', description: 'Post a message to a channel; mentions create notifications', tags: ['chat', 'write'] },
  { namespace: 'weather', name: 'forecast', description: 'Seven-day weather forecast for a city', tags: ['read'] },
  { namespace: 'fs', name: 'read.file', description: 'Read a text file from the workspace', tags: ['read'] },
  { namespace: 'math', name: 'add', description: 'Add two numbers', tags: ['math'] },
  { name: 'echo', description: 'Echo the input back' },
];

function catalog(): InMemoryIndex {
  const index = new InMemoryIndex();
  index.registerMany(CATALOG.map((tool) => ({ tool, backend: tool.namespace === 'github' ? MCP(tool.name) : LOCAL })));
  return index;
}

describe('register', () => {
  test('returns the frozen tool with its canonical ID; extra fields such as handlers are dropped', () => {
    const index = new InMemoryIndex();
    const def = { namespace: 'math', name: 'add', version: '1.0.0', description: 'Add', tags: ['math'], handler: () => 1 } as ToolDefinition;
    const tool = index.register(def, LOCAL);
    expect(tool).toEqual({ id: 'math:add:1.0.0', namespace: 'math', name: 'add', version: '1.0.0', description: 'Add', tags: ['math'] });
    expect(Object.isFrozen(tool)).toBe(true);
    expect(Object.isFrozen(tool.tags)).toBe(true);
    expect(index.has('math:add:1.0.0')).toBe(true);
    expect(index.size).toBe(1);
    // Mutating the caller's definition afterwards does not reach the index.
    def.tags!.push('x');
    expect(index.get('math:add:1.0.0')!.tool.tags).toEqual(['math']);
  });

  test.each([
    ['an empty name', { name: '' }, /name must not be empty/],
    ['a bad character', { namespace: 'ns', name: 'a b' }, /contains " "/],
    ['a colon in the name', { name: 'a:b' }, /contains ":"/],
    ['a version without namespace', { name: 'a', version: '1' }, /a version needs a namespace/],
    ['a bad tag', { name: 'a', tags: ['-x'] }, /tag "-x" must start with a letter or digit/],
    ['too long a name', { name: 'x'.repeat(129) }, /maximum is 128/],
  ])('%s throws INVALID_TOOL_ID naming the problem', (_label, def, message) => {
    const index = new InMemoryIndex();
    const err = captureError(() => index.register(def as ToolDefinition, LOCAL));
    expect(ToolError.is(err, 'INVALID_TOOL_ID')).toBe(true);
    expect((err as Error).message).toMatch(message);
    expect(index.size).toBe(0);
  });

  test('a definition that is not an object throws INVALID_TOOL_ID', () => {
    expect(ToolError.is(captureError(() => new InMemoryIndex().register(null as never, LOCAL)), 'INVALID_TOOL_ID')).toBe(true);
  });

  test.each([
    ['no backend at all', [], /at least one backend descriptor is required/],
    ['a non-object', 'local', /invalid backend descriptor: expected an object/],
    ['an unknown kind', { kind: 'ftp', name: 'x' }, /kind "ftp" is not one of local, provider, mcp, sandbox/],
    ['a missing name', { kind: 'local' }, /a local backend needs a non-empty string "name"/],
    ['an mcp backend without tool', { kind: 'mcp', name: 'gh' }, /an mcp backend needs a non-empty string "tool"/],
    ['a bad entry in a list', [LOCAL, { kind: 'provider', name: '' }], /invalid backend descriptor #1: a provider backend needs/],
  ])('%s throws a TypeError naming it', (_label, backend, message) => {
    const err = captureError(() => new InMemoryIndex().register({ namespace: 'a', name: 'b' }, backend as never));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(/^Tool a:b: /);
    expect((err as Error).message).toMatch(message);
  });

  test('several backends at once, duplicates collapse', () => {
    const index = new InMemoryIndex();
    index.register({ name: 'echo' }, [MCP('echo'), LOCAL, { kind: 'local', name: 'local' }]);
    expect(index.get('echo')!.backends).toEqual([MCP('echo'), LOCAL]);
  });
});

describe('re-registration', () => {
  const def: ToolDefinition = { namespace: 'gh', name: 'create_issue', description: 'Create an issue' };

  test('merge (default): the same definition adds the backend', () => {
    const index = new InMemoryIndex();
    const changes = recorder(index);
    index.register(def, MCP('create_issue'));
    index.register({ ...def }, LOCAL);
    expect(index.get('gh:create_issue')!.backends).toEqual([MCP('create_issue'), LOCAL]);
    expect(changes).toEqual([
      { type: 'registered', id: 'gh:create_issue', backend: MCP('create_issue') },
      { type: 'registered', id: 'gh:create_issue', backend: LOCAL },
    ]);
  });

  test('merging the same backend twice is idempotent: no event, no new revision', () => {
    const index = new InMemoryIndex();
    index.register(def, LOCAL);
    const changes = recorder(index);
    const rev = index.revision;
    const first = index.get('gh:create_issue');
    index.register({ ...def }, { ...LOCAL });
    expect(changes).toEqual([]);
    expect(index.revision).toBe(rev);
    expect(index.get('gh:create_issue')).toBe(first);
  });

  test('definitions compare by content, not key order', () => {
    const index = new InMemoryIndex();
    index.register({ name: 'a', inputSchema: { type: 'object', properties: { x: { type: 'string' } } } }, LOCAL);
    expect(() => index.register({ inputSchema: { properties: { x: { type: 'string' } }, type: 'object' }, name: 'a' }, PROVIDER)).not.toThrow();
  });

  test('merge with a different definition throws, naming the fix', () => {
    const index = new InMemoryIndex();
    index.register(def, LOCAL);
    const err = captureError(() => index.register({ ...def, description: 'Something else' }, PROVIDER));
    expect(ToolError.is(err, 'INVALID_TOOL_ID')).toBe(true);
    expect((err as Error).message).toMatch(/already registered with a different definition; pass \{ replaceDefinition: true \}/);
    expect(index.get('gh:create_issue')!.backends).toEqual([LOCAL]);
  });

  test('merge with replaceDefinition keeps the new definition and both backends, and reindexes it', () => {
    const index = new InMemoryIndex();
    index.register(def, LOCAL);
    const changes = recorder(index);
    index.register({ ...def, description: 'Open a ticket about a bug' }, PROVIDER, { replaceDefinition: true });
    const entry = index.get('gh:create_issue')!;
    expect(entry.tool.description).toBe('Open a ticket about a bug');
    expect(entry.backends).toEqual([LOCAL, PROVIDER]);
    expect(changes).toEqual([
      { type: 'updated', id: 'gh:create_issue' },
      { type: 'registered', id: 'gh:create_issue', backend: PROVIDER },
    ]);
    expect(index.search('bug').items.map((h) => h.id)).toEqual(['gh:create_issue']);
  });

  test('replace drops the old entry (definition and backends)', () => {
    const index = new InMemoryIndex();
    index.register(def, [LOCAL, MCP('create_issue')]);
    const changes = recorder(index);
    index.register({ ...def, description: 'v2' }, PROVIDER, { onConflict: 'replace' });
    const entry = index.get('gh:create_issue')!;
    expect(entry.backends).toEqual([PROVIDER]);
    expect(entry.tool.description).toBe('v2');
    expect(changes).toEqual([
      { type: 'unregistered', id: 'gh:create_issue', backend: LOCAL },
      { type: 'unregistered', id: 'gh:create_issue', backend: MCP('create_issue') },
      { type: 'updated', id: 'gh:create_issue' },
      { type: 'registered', id: 'gh:create_issue', backend: PROVIDER },
    ]);
    expect(index.unregisterBackend(LOCAL)).toEqual([]);
  });

  test('error refuses any existing ID', () => {
    const index = new InMemoryIndex();
    index.register(def, LOCAL);
    const err = captureError(() => index.register(def, LOCAL, { onConflict: 'error' }));
    expect(ToolError.is(err, 'INVALID_TOOL_ID')).toBe(true);
    expect((err as Error).message).toMatch(/already registered \(onConflict: "error"\)/);
  });

  test('an unknown onConflict is a TypeError', () => {
    expect(() => new InMemoryIndex().register(def, LOCAL, { onConflict: 'overwrite' as never })).toThrow(TypeError);
  });

  test('a changed descriptor for the same kind+name replaces it in place', () => {
    const index = new InMemoryIndex();
    index.register(def, [{ kind: 'provider', name: 'acme' }, LOCAL]);
    index.register(def, { kind: 'provider', name: 'acme', providerToolId: 'acme.issue' });
    expect(index.get('gh:create_issue')!.backends).toEqual([{ kind: 'provider', name: 'acme', providerToolId: 'acme.issue' }, LOCAL]);
  });
});

describe('registerMany', () => {
  test('registers every entry and returns the tools in order', () => {
    const index = catalog();
    expect(index.size).toBe(CATALOG.length);
    expect(index.get('github:create_issue')!.backend).toEqual(MCP('create_issue'));
  });

  test('checks everything first: a bad entry leaves the index unchanged', () => {
    const index = new InMemoryIndex();
    const changes = recorder(index);
    expect(() =>
      index.registerMany([
        { tool: { name: 'ok' }, backend: LOCAL },
        { tool: { name: 'bad name' }, backend: LOCAL },
      ]),
    ).toThrow(ToolError);
    expect(() =>
      index.registerMany([
        { tool: { name: 'ok' }, backend: LOCAL },
        { tool: { name: 'ok2' }, backend: { kind: 'nope' } as never },
      ]),
    ).toThrow(TypeError);
    expect(index.size).toBe(0);
    expect(changes).toEqual([]);
  });

  test('conflicts inside one batch follow the same rules', () => {
    const index = new InMemoryIndex();
    expect(() =>
      index.registerMany([
        { tool: { name: 'a', description: 'one' }, backend: LOCAL },
        { tool: { name: 'a', description: 'two' }, backend: PROVIDER },
      ]),
    ).toThrow(/different definition/);
    expect(index.size).toBe(0);
    const tools = index.registerMany([
      { tool: { name: 'a', description: 'one' }, backend: MCP('a') },
      { tool: { name: 'a', description: 'one' }, backend: LOCAL },
    ]);
    expect(tools.map((t) => t.id)).toEqual(['a', 'a']);
    expect(index.get('a')!.backends).toEqual([MCP('a'), LOCAL]);
    expect(() =>
      new InMemoryIndex().registerMany(
        [
          { tool: { name: 'a' }, backend: MCP('a') },
          { tool: { name: 'a' }, backend: LOCAL },
        ],
        { onConflict: 'error' },
      ),
    ).toThrow(/already registered/);
  });

  test('accepts any iterable', () => {
    const index = new InMemoryIndex();
    function* gen() {
      yield { tool: { name: 'x' }, backend: LOCAL };
      yield { tool: { name: 'y' }, backend: LOCAL };
    }
    expect(index.registerMany(gen())).toHaveLength(2);
  });
});

describe('unregister', () => {
  test('one backend: the tool stays while another backend remains, and goes with the last', () => {
    const index = new InMemoryIndex();
    index.register({ name: 'echo' }, [LOCAL, MCP('echo')]);
    const changes = recorder(index);
    expect(index.unregister('echo', { kind: 'local', name: 'local' })).toBe(true);
    expect(index.get('echo')!.backends).toEqual([MCP('echo')]);
    expect(index.get('echo')!.backend).toEqual(MCP('echo'));
    expect(index.unregister('echo', { kind: 'local', name: 'local' })).toBe(false);
    expect(index.unregister('echo', { kind: 'mcp', name: 'github' })).toBe(true);
    expect(index.has('echo')).toBe(false);
    expect(changes).toEqual([
      { type: 'unregistered', id: 'echo', backend: LOCAL },
      { type: 'unregistered', id: 'echo', backend: MCP('echo') },
      { type: 'unregistered', id: 'echo' },
    ]);
    expect(index.search('echo').total).toBe(0);
  });

  test('the whole tool', () => {
    const index = catalog();
    const changes = recorder(index);
    expect(index.unregister('math:add')).toBe(true);
    expect(index.unregister('math:add')).toBe(false);
    expect(index.unregister('no:such')).toBe(false);
    expect(changes).toEqual([{ type: 'unregistered', id: 'math:add' }]);
    expect(index.size).toBe(CATALOG.length - 1);
    expect(index.search('add numbers').items.map((h) => h.id)).not.toContain('math:add');
  });

  test('unregisterBackend removes that backend everywhere and returns the IDs touched', () => {
    const index = catalog();
    index.register(CATALOG[0]!, LOCAL); // github:create_issue also local
    expect(index.unregisterBackend({ kind: 'mcp', name: 'github' })).toEqual(['github:create_issue', 'github:get_pull_request', 'github:list_issues']);
    expect(index.has('github:create_issue')).toBe(true);
    expect(index.get('github:create_issue')!.backends).toEqual([LOCAL]);
    expect(index.has('github:list_issues')).toBe(false);
    expect(index.namespaces().find((n) => n.namespace === 'github')).toEqual({ namespace: 'github', count: 1 });
    expect(index.unregisterBackend({ kind: 'mcp', name: 'github' })).toEqual([]);
  });
});

describe('get and backend selection', () => {
  test('default order: local > provider > mcp, whatever the registration order', () => {
    const index = new InMemoryIndex();
    index.register({ name: 't' }, MCP('t'));
    expect(index.get('t')!.backend).toEqual(MCP('t'));
    index.register({ name: 't' }, PROVIDER);
    expect(index.get('t')!.backend).toEqual(PROVIDER);
    index.register({ name: 't' }, LOCAL);
    expect(index.get('t')!.backend).toEqual(LOCAL);
    expect(index.get('t')!.backends).toEqual([MCP('t'), PROVIDER, LOCAL]);
  });

  test('within a kind the first registered wins', () => {
    const index = new InMemoryIndex();
    index.register({ name: 't' }, [MCP('t', 'b'), MCP('t', 'a')]);
    expect(index.get('t')!.backend).toEqual(MCP('t', 'b'));
  });

  test('get returns undefined for an unknown ID (also an unparsable one) and caches its answer', () => {
    const index = catalog();
    expect(index.get('nope')).toBeUndefined();
    expect(index.get('a b c')).toBeUndefined();
    expect(index.get('math:add')).toBe(index.get('math:add'));
    expect(Object.isFrozen(index.get('math:add')!.backends)).toBe(true);
  });

  test('a custom selector is consulted on every get', () => {
    let prefer: 'mcp' | 'local' = 'mcp';
    const selectBackend = vi.fn((backends: readonly BackendDescriptor[]) => backends.find((b) => b.kind === prefer));
    const index = new InMemoryIndex({ selectBackend });
    index.register({ name: 't', description: 'x' }, [LOCAL, MCP('t')]);
    expect(index.get('t')!.backend).toEqual(MCP('t'));
    prefer = 'local';
    expect(index.get('t')!.backend).toEqual(LOCAL);
    expect(selectBackend).toHaveBeenCalledWith([LOCAL, MCP('t')], expect.objectContaining({ id: 't' }));
  });

  test('a selector that refuses every backend makes get throw NO_BACKEND', () => {
    const index = new InMemoryIndex({ selectBackend: () => undefined });
    index.register({ name: 't' }, [LOCAL, MCP('t')]);
    const err = captureError(() => index.get('t'));
    expect(ToolError.is(err, 'NO_BACKEND')).toBe(true);
    expect((err as ToolError).toolId).toBe('t');
    expect((err as Error).message).toBe('No acceptable backend for tool t among local:local, mcp:github');
  });

  test('a non-function selector is refused', () => {
    expect(() => new InMemoryIndex({ selectBackend: 'local' as never })).toThrow(TypeError);
  });
});

describe('list and namespaces', () => {
  test('list sorts by ID and filters by namespace, tags (all required) and backend kind', () => {
    const index = catalog();
    expect(index.list().map((t) => t.id)).toEqual([...CATALOG.map((t) => (t.namespace ? `${t.namespace}:${t.name}` : t.name))].sort());
    expect(index.list({ namespace: 'github' }).map((t) => t.id)).toEqual(['github:create_issue', 'github:get_pull_request', 'github:list_issues']);
    expect(index.list({ namespace: '' }).map((t) => t.id)).toEqual(['echo']);
    expect(index.list({ tags: ['vcs', 'read'] }).map((t) => t.id)).toEqual(['github:get_pull_request', 'github:list_issues']);
    expect(index.list({ tags: [] })).toHaveLength(CATALOG.length);
    expect(index.list({ backendKind: 'mcp' })).toHaveLength(3);
    expect(index.list({ backendKind: 'provider' })).toEqual([]);
    expect(index.list({ namespace: 'github', tags: ['write'], backendKind: 'mcp' }).map((t) => t.id)).toEqual(['github:create_issue']);
  });

  test('list and the empty-query listing follow changes (no stale order)', () => {
    const index = catalog();
    expect(index.search('', { limit: 1 }).items[0]!.id).toBe('echo');
    index.register({ name: 'aaa' }, LOCAL);
    expect(index.list()[0]!.id).toBe('aaa');
    expect(index.search('', { limit: 1 }).items[0]!.id).toBe('aaa');
    index.unregister('aaa');
    expect(index.list()[0]!.id).toBe('echo');
    const listed = index.list();
    listed.pop();
    expect(index.list()).toHaveLength(CATALOG.length);
  });

  test('bad filters are TypeErrors', () => {
    expect(() => catalog().list({ backendKind: 'ftp' as never })).toThrow(/backendKind filter "ftp"/);
    expect(() => catalog().list({ tags: 'vcs' as never })).toThrow(/tags filter/);
  });

  test('namespaces with counts, sorted; tools without a namespace count under ""', () => {
    expect(catalog().namespaces()).toEqual([
      { namespace: '', count: 1 },
      { namespace: 'fs', count: 1 },
      { namespace: 'github', count: 3 },
      { namespace: 'jira', count: 1 },
      { namespace: 'math', count: 1 },
      { namespace: 'slack', count: 1 },
      { namespace: 'weather', count: 1 },
    ]);
    expect(new InMemoryIndex().namespaces()).toEqual([]);
  });
});

describe('change events', () => {
  test('unsubscribe stops delivery', () => {
    const index = new InMemoryIndex();
    const seen: IndexChange[] = [];
    const off = index.onChange((c) => seen.push(c));
    index.register({ name: 'a' }, LOCAL);
    off();
    off();
    index.register({ name: 'b' }, LOCAL);
    expect(seen).toEqual([{ type: 'registered', id: 'a', backend: LOCAL }]);
  });

  test('the same function subscribed twice gets each change twice and can leave once', () => {
    const index = new InMemoryIndex();
    const fn = vi.fn();
    const off1 = index.onChange(fn);
    index.onChange(fn);
    index.register({ name: 'a' }, LOCAL);
    expect(fn).toHaveBeenCalledTimes(2);
    off1();
    index.register({ name: 'b' }, LOCAL);
    expect(fn).toHaveBeenCalledTimes(3);
  });

  test('a throwing listener does not break registration or other listeners', () => {
    const onListenerError = vi.fn();
    const index = new InMemoryIndex({ onListenerError });
    index.onChange(() => {
      throw new Error('boom');
    });
    const other = vi.fn();
    index.onChange(other);
    expect(() => index.register({ name: 'a' }, LOCAL)).not.toThrow();
    expect(index.has('a')).toBe(true);
    expect(other).toHaveBeenCalledTimes(1);
    expect(onListenerError).toHaveBeenCalledWith(expect.objectContaining({ message: 'boom' }), { type: 'registered', id: 'a', backend: LOCAL });
  });

  test('a listener sees the index already changed', () => {
    const index = new InMemoryIndex();
    let sawIt = false;
    index.onChange((c) => {
      if (c.type === 'registered') sawIt = index.has(c.id) && index.search('alpha').total === 1;
    });
    index.register({ name: 'alpha' }, LOCAL);
    expect(sawIt).toBe(true);
  });
});

describe('tokenize', () => {
  test('splits on separators and camelCase', () => {
    expect(tokenize('create_issue')).toEqual(['create', 'issue']);
    expect(tokenize('createIssue')).toEqual(['create', 'Issue']);
    expect(tokenize('get-PRComments.v2')).toEqual(['get', 'PR', 'Comments', 'v2']);
    expect(tokenize('github:list_issues')).toEqual(['github', 'list', 'issues']);
    expect(tokenize('  ')).toEqual([]);
  });
});

describe('search', () => {
  const ids = (index: InMemoryIndex, q: string, opts = {}) => index.search(q, opts).items.map((h) => h.id);

  test('split identifiers: "create issue" finds create_issue first', () => {
    expect(ids(catalog(), 'create issue')[0]).toBe('github:create_issue');
    expect(ids(catalog(), 'create_issue')[0]).toBe('github:create_issue');
    expect(ids(catalog(), 'github:create_issue')[0]).toBe('github:create_issue');
  });

  test('camelCase names are split: "ticket" finds createTicket', () => {
    expect(ids(catalog(), 'ticket')[0]).toBe('jira:createTicket');
  });

  test('dotted names are split', () => {
    expect(ids(catalog(), 'read file')[0]).toBe('fs:read.file');
  });

  test('prefix matching', () => {
    expect(ids(catalog(), 'forec')[0]).toBe('weather:forecast');
    expect(ids(catalog(), 'pul')).toContain('github:get_pull_request');
  });

  test('fuzzy matching for longer terms', () => {
    expect(ids(catalog(), 'forcast')[0]).toBe('weather:forecast');
    expect(ids(catalog(), 'isues')).toContain('github:list_issues');
    // Short terms are not fuzzed: "ad" must not match "add" by typo (only by prefix).
    expect(ids(catalog(), 'xdd')).toEqual([]);
  });

  test('field boosts: a name hit outranks a description hit', () => {
    // "create" is in create_issue/createTicket names, and in slack's description.
    const r = ids(catalog(), 'create');
    expect(r.indexOf('slack:post_message')).toBeGreaterThan(r.indexOf('github:create_issue'));
    expect(r.indexOf('slack:post_message')).toBeGreaterThan(r.indexOf('jira:createTicket'));
  });

  test('boost order name > title > tags > namespace > description', () => {
    const index = new InMemoryIndex();
    index.registerMany([
      { tool: { namespace: 'n1', name: 'zebra' }, backend: LOCAL },
      { tool: { namespace: 'n2', name: 't2', title: 'zebra' }, backend: LOCAL },
      { tool: { namespace: 'n3', name: 't3', tags: ['zebra'] }, backend: LOCAL },
      { tool: { namespace: 'zebra', name: 't4' }, backend: LOCAL },
      { tool: { namespace: 'n5', name: 't5', description: 'zebra' }, backend: LOCAL },
      { tool: { namespace: 'n6', name: 't6', description: 'horse' }, backend: LOCAL },
    ]);
    expect(ids(index, 'zebra')).toEqual(['n1:zebra', 'n2:t2', 'n3:t3', 'zebra:t4', 'n5:t5']);
  });

  test('annotations.title is searched when there is no title', () => {
    const index = new InMemoryIndex();
    index.register({ name: 't', annotations: { title: 'Quantum flux' } }, LOCAL);
    expect(ids(index, 'quantum')).toEqual(['t']);
  });

  test('tags and namespaces are searchable', () => {
    expect(ids(catalog(), 'tracker')).toEqual(['jira:createTicket']);
    expect(ids(catalog(), 'slack')[0]).toBe('slack:post_message');
  });

  test('stop words alone match nothing', () => {
    expect(catalog().search('the of a').total).toBe(0);
  });

  test('hits carry the tool and a positive score, best first', () => {
    const page = catalog().search('issue');
    expect(page.items.length).toBeGreaterThan(0);
    for (const h of page.items) {
      expect(h.score).toBeGreaterThan(0);
      expect(h.tool.id).toBe(h.id);
    }
    const scores = page.items.map((h) => h.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });

  test('empty (or blank) query lists everything sorted by ID, filters applied', () => {
    const index = catalog();
    const all = index.search('', { limit: 100 });
    expect(all.total).toBe(CATALOG.length);
    expect(all.items.map((h) => h.id)).toEqual(index.list().map((t) => t.id));
    expect(all.items.every((h) => h.score === 0)).toBe(true);
    expect(index.search('   ', { namespace: 'github' }).items.map((h) => h.id)).toEqual(['github:create_issue', 'github:get_pull_request', 'github:list_issues']);
  });

  test('filters: namespace, tags, backendKind', () => {
    const index = catalog();
    expect(ids(index, 'create', { namespace: 'jira' })).toEqual(['jira:createTicket']);
    expect(ids(index, 'issues', { tags: ['read'] })).toEqual(['github:list_issues']);
    expect(ids(index, 'create', { backendKind: 'mcp' })).toEqual(['github:create_issue']);
    expect(ids(index, 'create', { backendKind: 'provider' })).toEqual([]);
  });

  test('limit defaults to 10 and is capped at 100; a bad limit is a TypeError', () => {
    const index = new InMemoryIndex();
    index.registerMany(Array.from({ length: 150 }, (_, i) => ({ tool: { namespace: 'bulk', name: `tool_${i}`, description: 'bulk item' }, backend: LOCAL })));
    expect(index.search('bulk').items).toHaveLength(10);
    expect(index.search('bulk', { limit: 1000 }).items).toHaveLength(MAX_SEARCH_LIMIT);
    expect(index.search('bulk', { limit: 2.7 }).items).toHaveLength(2);
    expect(() => index.search('bulk', { limit: 0 })).toThrow(TypeError);
    expect(() => index.search('bulk', { limit: Number.NaN })).toThrow(TypeError);
    expect(() => index.search(undefined as never)).toThrow(TypeError);
  });

  test('cursor pagination walks every hit exactly once, in rank order', () => {
    const index = new InMemoryIndex();
    index.registerMany(
      Array.from({ length: 57 }, (_, i) => ({
        tool: { namespace: `ns${i % 4}`, name: `report_${i}`, description: i % 3 === 0 ? 'sales report export' : 'report' },
        backend: LOCAL,
      })),
    );
    const full = index.search('report', { limit: 100 });
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = index.search('report', { limit: 7, cursor });
      expect(page.total).toBe(57);
      seen.push(...page.items.map((h) => h.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(Math.ceil(57 / 7));
    expect(seen).toEqual(full.items.map((h) => h.id));
    expect(new Set(seen).size).toBe(57);
  });

  test('no nextCursor on the last page', () => {
    expect(catalog().search('issue', { limit: 100 }).nextCursor).toBeUndefined();
  });

  test('a cursor is opaque base64url and bound to its query and filters', () => {
    const index = catalog();
    const first = index.search('', { limit: 2 });
    expect(first.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(() => index.search('issue', { limit: 2, cursor: first.nextCursor })).toThrow(InvalidCursorError);
    expect(() => index.search('', { limit: 2, namespace: 'github', cursor: first.nextCursor })).toThrow(/different query or filters/);
    // Same query, another page size: fine (the offset carries over).
    expect(index.search('', { limit: 3, cursor: first.nextCursor }).items[0]!.id).toBe(index.list()[2]!.id);
    // Tag order does not matter.
    const byTags = index.search('', { limit: 1, tags: ['read', 'vcs'] });
    expect(() => index.search('', { limit: 1, tags: ['vcs', 'read'], cursor: byTags.nextCursor })).not.toThrow();
  });

  test('a cursor is rejected once the index has changed', () => {
    const index = catalog();
    const first = index.search('', { limit: 2 });
    index.register({ name: 'newcomer' }, LOCAL);
    const err = captureError(() => index.search('', { limit: 2, cursor: first.nextCursor }));
    expect(err).toBeInstanceOf(InvalidCursorError);
    expect((err as InvalidCursorError).code).toBe('INVALID_CURSOR');
    expect((err as Error).message).toMatch(/index has changed since; repeat the search without a cursor/);
  });

  test('an idempotent re-registration does not invalidate cursors', () => {
    const index = catalog();
    const first = index.search('', { limit: 2 });
    index.register(CATALOG[7]!, LOCAL);
    expect(() => index.search('', { limit: 2, cursor: first.nextCursor })).not.toThrow();
  });

  test('a malformed cursor is rejected', () => {
    expect(() => catalog().search('x', { cursor: 'garbage!' })).toThrow(/Malformed search cursor/);
  });

  test('the full-text index follows every change incrementally', () => {
    const index = new InMemoryIndex();
    index.register({ namespace: 'a', name: 'alpha', description: 'first letter' }, LOCAL);
    expect(ids(index, 'letter')).toEqual(['a:alpha']);
    index.register({ namespace: 'a', name: 'alpha', description: 'greek symbol' }, LOCAL, { onConflict: 'replace' });
    expect(ids(index, 'letter')).toEqual([]);
    expect(ids(index, 'symbol')).toEqual(['a:alpha']);
    index.unregister('a:alpha');
    expect(ids(index, 'symbol')).toEqual([]);
    index.register({ namespace: 'a', name: 'alpha', description: 'back again' }, LOCAL);
    expect(ids(index, 'again')).toEqual(['a:alpha']);
    expect(index.search('alpha').total).toBe(1);
  });
});
