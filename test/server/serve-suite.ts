// One end-to-end suite, run against `toolexec serve` over each transport (stdio and
// Streamable HTTP), with the SDK's real Client and real upstream servers behind it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { readFileSync } from 'node:fs';
import { textOf } from './helpers.js';

export interface Connected {
  client: Client;
  close(): Promise<void>;
  /** The server process, for reading its peak resident memory from /proc. */
  pid?: number;
}

/** Peak resident set of a process (VmHWM), in bytes, from /proc (Linux). */
function peakRss(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The bound the server's resident memory stays under through every hostile case of this suite:
 * the host process plus its QuickJS worker threads (each a V8 heap of 64 MB and a WebAssembly
 * memory bounded by the job's memoryMb), measured at 240-260 MB here; the bound leaves room for
 * a loaded machine's slower collection, not for growth.
 */
export const SERVE_PEAK_RSS_BOUND = 512 * 1024 * 1024;

type CallResult = { isError?: boolean; content?: unknown; structuredContent?: Record<string, any> };

export function defineServeSuite(transport: string, connect: () => Promise<Connected>): void {
  describe(`toolexec serve over ${transport}`, { timeout: 120_000 }, () => {
    let conn: Connected;
    let client: Client;
    const call = async (name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name, arguments: args })) as CallResult;

    beforeAll(async () => {
      conn = await connect();
      client = conn.client;
    });
    afterAll(async () => {
      await conn?.close();
    });

    it('lists its six tools, with the tool declarations in execute_code', async () => {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['describe_tool', 'execute_code', 'list_namespaces', 'run_chain', 'run_tool', 'search_tools']);
      const exec = tools.find((t) => t.name === 'execute_code')!;
      expect(exec.outputSchema).toBeDefined();
      // Declarations name the upstream tools as scripts call them.
      expect(exec.description).toMatch(/get_sum|get-sum/);
      expect(exec.description).toMatch(/create_entities/);
      expect(exec.description).not.toMatch(/launch/);
      expect((exec.inputSchema.properties as Record<string, unknown>).typecheck).toMatchObject({ type: 'boolean' });
      expect(client.getServerCapabilities()?.tools?.listChanged).toBe(true);
    });

    it('list_namespaces: both upstream servers and the local module, not the denied one', async () => {
      const r = await call('list_namespaces');
      expect(r.isError).toBeFalsy();
      const names = (r.structuredContent!.namespaces as { namespace: string; count: number }[]).map((n) => n.namespace);
      expect(names).toEqual(expect.arrayContaining(['everything', 'memory', 'math']));
      expect(names).not.toContain('secret');
    });

    it('search_tools: finds by words, pages with a cursor, hides denied tools', async () => {
      const r = await call('search_tools', { query: 'sum of two numbers' });
      expect(r.structuredContent!.items[0].id).toBe('everything:get-sum');
      const first = await call('search_tools', { query: '', limit: 2 });
      expect(first.structuredContent!.items).toHaveLength(2);
      expect(first.structuredContent!.nextCursor).toBeTypeOf('string');
      const second = await call('search_tools', { query: '', limit: 2, cursor: first.structuredContent!.nextCursor });
      expect(second.structuredContent!.items[0].id).not.toBe(first.structuredContent!.items[0].id);
      expect(second.structuredContent!.total).toBe(first.structuredContent!.total);
      const all = await call('search_tools', { query: '', limit: 100 });
      expect(all.structuredContent!.items.map((i: { id: string }) => i.id)).not.toContain('secret:launch');
      const hidden = await call('search_tools', { query: 'launch hidden deny' });
      expect(hidden.structuredContent!.items.map((i: { id: string }) => i.id)).not.toContain('secret:launch');
      const bad = await call('search_tools', { query: 'x', cursor: 'not-a-cursor' });
      expect(bad.isError).toBe(true);
      expect(textOf(bad)).toMatch(/^INVALID_CURSOR/);
      const badLimit = await call('search_tools', { limit: 0 });
      expect(badLimit.isError).toBe(true);
      expect(textOf(badLimit)).toMatch(/^INPUT_VALIDATION.*limit/);
    });

    it('describe_tool: summary, schema and full with the TypeScript signature', async () => {
      const summary = await call('describe_tool', { toolId: 'everything:get-sum', detail: 'summary' });
      expect(summary.structuredContent).toMatchObject({ id: 'everything:get-sum', name: 'get-sum', namespace: 'everything', title: 'Get Sum Tool' });
      expect(summary.structuredContent!.inputSchema).toBeUndefined();
      const schema = await call('describe_tool', { toolId: 'memory:create_entities' });
      expect(schema.structuredContent!.inputSchema.properties.entities.type).toBe('array');
      expect(schema.structuredContent!.outputSchema).toBeDefined();
      const full = await call('describe_tool', { toolId: 'math:add', detail: 'full' });
      expect(full.isError).toBeFalsy();
      expect(full.structuredContent!.typescript).toMatch(/^declare const tools: \{\n  math: \{\n    \/\*\* Add two numbers \*\/\n    add\(args: \{ a: number; b: number \}\): Promise<\{ sum: number \}>;/);
      // Only the tool: the shared part is in execute_code's description.
      expect(full.structuredContent!.typescript).not.toMatch(/declare function run|The sandbox/);
      const missing = await call('describe_tool', { toolId: 'everything:get-summ' });
      expect(missing.isError).toBe(true);
      expect(textOf(missing)).toMatch(/^TOOL_NOT_FOUND.*did you mean.*everything:get-sum/);
      const denied = await call('describe_tool', { toolId: 'secret:launch' });
      expect(denied.isError).toBe(true);
      expect(textOf(denied)).toMatch(/^TOOL_NOT_FOUND/);
    });

    it('run_tool: upstream and local tools, validation and failures as isError with the code', async () => {
      const sum = await call('run_tool', { toolId: 'everything:get-sum', args: { a: 2, b: 3 } });
      expect(sum.isError).toBeFalsy();
      expect(textOf(sum)).toBe('The sum of 2 and 3 is 5.');
      expect(sum.structuredContent).toMatchObject({ toolId: 'everything:get-sum', backend: { kind: 'mcp', name: 'everything' } });
      const add = await call('run_tool', { toolId: 'math:add', args: { a: 40, b: 2 } });
      expect(add.structuredContent!.structured).toEqual({ sum: 42 });
      const invalid = await call('run_tool', { toolId: 'everything:get-sum', args: { a: 'two', b: 3 } });
      expect(invalid.isError).toBe(true);
      expect(textOf(invalid)).toMatch(/^INPUT_VALIDATION.*\/a/);
      expect(invalid.structuredContent!.error.code).toBe('INPUT_VALIDATION');
      const failed = await call('run_tool', { toolId: 'math:fail' });
      expect(textOf(failed)).toMatch(/^EXECUTION.*division by zero/);
      const denied = await call('run_tool', { toolId: 'secret:launch' });
      expect(denied.isError).toBe(true);
      expect(textOf(denied)).toMatch(/^TOOL_NOT_FOUND.*not exposed/);
      const noArgs = await call('run_tool', {});
      expect(noArgs.isError).toBe(true);
      expect(textOf(noArgs)).toMatch(/^INPUT_VALIDATION.*toolId/);
    });

    it('run_tool forwards upstream progress notifications', async () => {
      const progress: number[] = [];
      const r = (await client.callTool(
        { name: 'run_tool', arguments: { toolId: 'everything:trigger-long-running-operation', args: { duration: 0.3, steps: 3 } } },
        undefined,
        { onprogress: (p) => progress.push(p.progress) },
      )) as CallResult;
      expect(r.isError, textOf(r)).toBeFalsy();
      // The upstream sends 3; one sent just before its result can arrive after it (the SDK
      // client drops progress for a finished request), so only forwarding itself is asserted.
      expect(progress.length).toBeGreaterThanOrEqual(1);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
    });

    it('run_chain: templates carry values across servers; a failing step stops the chain with partial results', async () => {
      const r = await call('run_chain', {
        steps: [
          { toolId: 'math:add', args: { a: 1, b: 2 } },
          { toolId: 'everything:get-sum', args: { a: '{{prev.sum}}', b: 10 } },
          { toolId: 'memory:create_entities', args: { entities: [{ name: 'chain-result', entityType: 'note', observations: ['{{steps.1}}'] }] } },
        ],
      });
      expect(r.isError).toBeFalsy();
      expect(r.structuredContent!.ok).toBe(true);
      expect(r.structuredContent!.steps[1].structured).toBe('The sum of 3 and 10 is 13.');
      expect(r.structuredContent!.final.entities[0]).toMatchObject({ name: 'chain-result', observations: ['The sum of 3 and 10 is 13.'] });
      const failed = await call('run_chain', { steps: [{ toolId: 'math:add', args: { a: 1, b: 1 } }, { toolId: 'math:fail' }, { toolId: 'math:add', args: { a: 0, b: 0 } }] });
      expect(failed.isError).toBe(true);
      expect(textOf(failed)).toMatch(/^EXECUTION.*step 1/);
      expect(failed.structuredContent!.steps.map((s: { ok: boolean }) => s.ok)).toEqual([true, false]);
    });

    it('execute_code: one script combines both upstream servers and a local tool, with progress per tool call', async () => {
      const progress: { progress: number; message?: string }[] = [];
      const script = `
        const sum = await run('everything:get-sum', { a: 20, b: 22 });
        const local = await tools.math.add({ a: 1, b: 2 });
        await tools.memory.create_entities({ entities: [{ name: 'answer', entityType: 'fact', observations: [sum] }] });
        const opened = await run('memory:open_nodes', { names: ['answer'] });
        const [echo] = await Promise.all([tools.everything.echo({ message: 'hi' })]);
        console.log('observations', opened.entities[0].observations.length);
        return { sum, local: local.sum, observation: opened.entities[0].observations[0], echo };
      `;
      // What the server sent, as it arrived: the SDK client hands notifications to their
      // handlers a microtask late and forgets the progress token when the response comes, so a
      // last notification read in the same chunk as the response never reaches `onprogress`.
      const sent: { progress: number; message?: string }[] = [];
      const transport = client.transport!;
      const onmessage = transport.onmessage!;
      transport.onmessage = (m, extra) => {
        const n = m as { method?: string; params?: { progress: number; message?: string } };
        if (n.method === 'notifications/progress' && n.params) sent.push(n.params);
        onmessage.call(transport, m, extra);
      };
      let r: CallResult;
      try {
        r = (await client.callTool({ name: 'execute_code', arguments: { script } }, undefined, {
          onprogress: (p) => progress.push(p),
        })) as CallResult;
      } finally {
        transport.onmessage = onmessage;
      }
      expect(r.isError, textOf(r)).toBeFalsy();
      const out = r.structuredContent!;
      expect(out.ok).toBe(true);
      expect(out.value).toEqual({ sum: 'The sum of 20 and 22 is 42.', local: 3, observation: 'The sum of 20 and 22 is 42.', echo: 'Echo: hi' });
      expect(out.toolCalls.map((c: { toolId: string }) => c.toolId)).toEqual([
        'everything:get-sum',
        'math:add',
        'memory:create_entities',
        'memory:open_nodes',
        'everything:echo',
      ]);
      expect(out.logs[0]).toMatchObject({ level: 'log', message: 'observations 1' });
      expect(out.stats.toolCalls).toBe(5);
      // One notification per tool call and per console line, in order, all before the result.
      expect(sent.map((p) => p.progress)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(sent[0]!.message).toMatch(/everything:get-sum/);
      expect(sent[5]!.message).toBe('console: observations 1');
      expect(sent.slice(0, progress.length).map(({ progress: n, message }) => ({ progress: n, message }))).toEqual(progress);
      expect(progress.length).toBeGreaterThanOrEqual(5);
    });

    it('execute_code: script failures are isError results with the code, line and ledger', async () => {
      const thrown = await call('execute_code', { script: 'const x = 1;\nthrow new Error("boom")' });
      expect(thrown.isError).toBe(true);
      expect(thrown.structuredContent!.error).toMatchObject({ code: 'RUNTIME_ERROR', line: 2 });
      expect(textOf(thrown)).toMatch(/^RUNTIME_ERROR: .*boom/);
      const syntax = await call('execute_code', { script: 'let = ;' });
      expect(syntax.structuredContent!.error.code).toBe('SYNTAX_ERROR');
      const denied = await call('execute_code', { script: 'return await run("secret:launch", {})' });
      expect(denied.isError).toBe(true);
      expect(denied.structuredContent!.toolCalls[0]).toMatchObject({ toolId: 'secret:launch', ok: false });
      expect(denied.structuredContent!.value).toBeUndefined();
      const caught = await call('execute_code', { script: 'try { await run("math:fail", {}) } catch (e) { return e.code }' });
      expect(caught.structuredContent!.value).toBe('EXECUTION');
      const badRuntime = await call('execute_code', { script: '1', runtime: 'nodejs' });
      expect(badRuntime.isError).toBe(true);
      expect(textOf(badRuntime)).toMatch(/^INPUT_VALIDATION.*runtime/);
    });

    it('execute_code with typecheck: type errors against the upstream tools before any call, then a correct script runs', async () => {
      const bad = await call('execute_code', {
        typecheck: true,
        script: [
          "await tools.memory.create_entities({ entities: [{ name: 'typed', entityType: 'fact', observations: [] }] });",
          "const sum = await run('everything:get-sum', { a: 1, b: '2' });",
          "const graph = await tools.memory.read_graph({});",
          'return graph.entities.map((e) => e.nme);',
        ].join('\n'),
      });
      expect(bad.isError).toBe(true);
      const error = bad.structuredContent!.error;
      expect(error.code).toBe('TYPE_ERROR');
      expect(error.diagnostics.map((d: { line: number; code: string }) => `${d.line} ${d.code}`)).toEqual(['2 TS2322', '4 TS2551']);
      expect(error.diagnostics[1].message).toMatch(/Property 'nme' does not exist .*Did you mean 'name'\?/);
      expect(textOf(bad)).toMatch(/^TYPE_ERROR: The script does not type-check \(2 errors\); nothing ran:\nline 2, column \d+: /);
      expect(bad.structuredContent!.toolCalls).toEqual([]);
      const read = await call('execute_code', { script: "return (await tools.memory.search_nodes({ query: 'typed' })).entities.length" });
      expect(read.structuredContent!.value).toBe(0);
      const good = await call('execute_code', {
        typecheck: true,
        script: "const s = await tools.everything.get_sum({ a: 1, b: 2 });\nconst g = await tools.memory.read_graph({});\nreturn { s, n: g.entities.length >= 0 };",
      });
      expect(good.isError, textOf(good)).toBeFalsy();
      expect(good.structuredContent!.value).toEqual({ s: 'The sum of 1 and 2 is 3.', n: true });
      expect(good.structuredContent!.stats.typecheckMs).toBeGreaterThan(0);
    });

    it('hostile search and preparation inputs are bounded before any work, and the next request answers', async () => {
      const longQuery = await call('search_tools', { query: 'w'.repeat(65_000) });
      expect(longQuery.isError).toBe(true);
      expect(textOf(longQuery)).toMatch(/^INPUT_VALIDATION.*query/);
      expect((await call('search_tools', { query: 'sum' })).structuredContent!.items[0].id).toBe('everything:get-sum');
      const manyWords = await call('search_tools', { query: Array.from({ length: 80 }, (_, i) => `w${i}`).join(' ') });
      expect(textOf(manyWords)).toMatch(/^INPUT_VALIDATION.*distinct words/);
      for (const tool of ['describe_tool', 'run_tool']) {
        const longId = await call(tool, { toolId: 'x'.repeat(65_000) });
        expect(longId.isError, tool).toBe(true);
        expect(textOf(longId)).toMatch(/^INPUT_VALIDATION.*toolId/);
      }
      const near = await call('describe_tool', { toolId: 'math:launc' });
      expect(textOf(near)).toMatch(/^TOOL_NOT_FOUND/);
      expect(textOf(near)).not.toContain('secret');
      let arrows = '0';
      for (let i = 0; i < 40; i++) arrows = `(a = ${arrows}) => 0`;
      const ts = await call('execute_code', { script: `const depth: number = 40;\nconst f = ${arrows};\n[depth, f()]` });
      expect(ts.structuredContent!.value).toEqual([40, 0]);
      const escape = await call('execute_code', { script: '}, 0, async function () {\nreturn await run("math:add", { a: 1, b: 1 })' });
      expect(escape.structuredContent!.error).toMatchObject({ code: 'SYNTAX_ERROR', line: 1 });
      expect(escape.structuredContent!.toolCalls).toEqual([]);
      const big = await call('execute_code', { script: `return 1 // ${'pad'.repeat(100_000)}` });
      expect(big.isError).toBe(true);
      expect(big.structuredContent!.error.code).toBe('SCRIPT_TOO_LARGE');
      expect(textOf(big)).toMatch(/maxScriptBytes/);
      const search = await call('execute_code', { script: 'try { await searchTools("q".repeat(5000)) } catch (e) { return e.code }' });
      expect(search.structuredContent!.value).toBe('INPUT_VALIDATION');
      const ok = await call('execute_code', { script: '"still answering"' });
      expect(ok.structuredContent!.value).toBe('still answering');
    });

    it('hostile scripts end as classified errors and the server answers the next request', async () => {
      // [label, script, extra arguments, codes it may end with (undefined: any outcome)]
      const cases: [string, string, Record<string, unknown>, string[] | undefined][] = [
        ['busy loop', 'while (true) {}', { timeoutMs: 1000 }, ['TIMEOUT']],
        ['catastrophic regex', '/^(a+)+$/.test("a".repeat(40) + "b")', { timeoutMs: 1000 }, ['TIMEOUT']],
        ['huge join', 'new Array(1e8).join("xxxxxxxx").length', { timeoutMs: 2000, limits: { memoryMb: 32 } }, ['TIMEOUT', 'MEMORY_LIMIT', 'RUNTIME_ERROR']],
        ['loop in a promise job', 'Promise.resolve().then(() => { while (true) {} }); await new Promise(() => {})', { timeoutMs: 1000 }, ['TIMEOUT']],
        ['memory bomb', 'const a = []; for (let i = 0; ; i++) a.push({ i, s: "y" + i })', { limits: { memoryMb: 16, timeoutMs: 20000 } }, ['MEMORY_LIMIT']],
        ['deep recursion', 'function f(n) { return f(n + 1) + 1 } f(0)', {}, ['RUNTIME_ERROR', 'MEMORY_LIMIT']],
        ['output flood', 'for (let i = 0; ; i++) console.log("flood".repeat(1000) + i)', { limits: { maxOutputBytes: 100000 } }, ['OUTPUT_LIMIT']],
        ['weird throw', 'throw new Proxy({}, { get() { throw new Error("trap") }, getPrototypeOf() { throw new Error("trap") } })', {}, ['RUNTIME_ERROR']],
        ['throw of a getter bomb', 'throw { get message() { while (true) {} }, toString() { throw 1 } }', { timeoutMs: 1000 }, ['RUNTIME_ERROR', 'TIMEOUT']],
        ['unhandled rejection', 'Promise.reject(new Error("nobody catches me")); 1', {}, undefined],
        ['tool call flood', 'await Promise.all(Array.from({ length: 50 }, (_, i) => run("math:add", { a: i, b: 1 })))', { limits: { maxToolCalls: 10 } }, ['TOOL_CALL_LIMIT']],
      ];
      const seen: Record<string, string> = {};
      for (const [label, script, extra, codes] of cases) {
        const r = await call('execute_code', { script, ...extra });
        if (codes) {
          expect(r.isError, label).toBe(true);
          seen[label] = r.structuredContent!.error.code;
          expect(codes, `${label} ended with ${seen[label]}`).toContain(seen[label]);
        }
        const next = await call('list_namespaces');
        expect(next.isError, `after ${label}`).toBeFalsy();
      }
      const ok = await call('execute_code', { script: 'return 6 * 7' });
      expect(ok.structuredContent!.value).toBe(42);
    });

    it('limits a client asks for are capped by the config, and a deep value comes back compact', async () => {
      const greedy = await call('execute_code', { script: 'return 1', timeoutMs: 600_000, limits: { memoryMb: 100_000 } });
      expect(greedy.structuredContent!.limits).toMatchObject({ timeoutMs: 5000, memoryMb: 64 });
      const deep = await call('execute_code', { script: 'let v = 0; for (let i = 0; i < 120; i++) v = { v }; return v' });
      expect(deep.isError, textOf(deep).slice(0, 200)).toBeFalsy();
      expect(textOf(deep)).not.toMatch(/\n/);
      expect(textOf(deep)).toHaveLength(120 * 6 + 1);
      const tooDeep = await call('execute_code', { script: 'let v = 0; for (let i = 0; i < 2000; i++) v = { v }; return v' });
      expect(tooDeep.structuredContent!.error).toMatchObject({ code: 'NOT_SERIALIZABLE' });
      expect((await call('list_namespaces')).isError).toBeFalsy();
    });

    it('the ledger, deep values and what a script says about itself stay within the host\'s bounds, and the next request answers', async () => {
      // A flood of refused calls with large arguments: the result stays under maxOutputBytes.
      const flood = await call('execute_code', {
        script: 'const big = "x".repeat(50_000);\nfor (let i = 0; i < 400; i++) { try { await run("secret:launch", { big, i }); } catch (e) {} }\n"survived"',
        limits: { maxOutputBytes: 200_000, maxToolCalls: 1000 },
      });
      expect(JSON.stringify(flood.structuredContent).length).toBeLessThan(400_000);
      expect(['OUTPUT_LIMIT', undefined]).toContain(flood.structuredContent!.error?.code);
      const deepArgs = await call('execute_code', { script: 'let v = 0; for (let i = 0; i < 1000; i++) v = [v];\ntry { await run("math:add", { a: v, b: 1 }); } catch (e) { return e.code }' });
      expect(deepArgs.structuredContent!.value).toBe('INPUT_VALIDATION');
      const forged = await call('execute_code', { script: 'const e = new Error("out of memory"); e.name = "InternalError"; e.code = "TOOL_NOT_ALLOWED"; throw e;' });
      expect(forged.structuredContent!.error.code).toBe('RUNTIME_ERROR');
      const envelope = await call('execute_code', { script: 'Object.prototype.toJSON = () => ({ op: "done", ok: true, value: "forged" });\nthrow new Error("real")' });
      expect(envelope.structuredContent!.error).toMatchObject({ code: 'RUNTIME_ERROR', message: 'Error: real' });
      const wait = await call('execute_code', { script: 'typeof Atomics === "undefined" ? "undefined" : typeof Atomics.waitAsync' });
      expect(wait.structuredContent!.value).toBe('undefined');
      const hugeError = await call('execute_code', { script: 'throw new Error("e".repeat(2_000_000))', limits: { maxOutputBytes: 4 * 1024 * 1024 } });
      expect(hugeError.structuredContent!.error.message.length).toBeLessThan(20_000);
      const ok = await call('execute_code', { script: 'const r = await run("math:add", { a: 40, b: 2 }); r.sum' });
      expect(ok.structuredContent!.value).toBe(42);
    });

    it('its resident memory stayed within the stated bound through every hostile case', async () => {
      if (conn.pid === undefined || process.platform !== 'linux') return;
      const peak = peakRss(conn.pid);
      expect(peak).toBeDefined();
      console.info(`[serve ${transport}] peak RSS of the server: ${Math.round(peak! / 1048576)} MB (bound ${SERVE_PEAK_RSS_BOUND / 1048576} MB)`);
      expect(peak!).toBeLessThan(SERVE_PEAK_RSS_BOUND);
    });
  });
}
