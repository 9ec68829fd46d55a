// Granted egress on every runtime: fetch() exists only under a policy, the host makes every
// request (allowed origins and methods, address checks, redirects, sizes, time, abort), the
// credentials it adds for an origin never reach the script, and the ledger records each request.
// Real HTTP and DNS servers on 127.0.0.1 only.
import { randomUUID } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Executor } from '../../src/code/executor.js';
import type { EgressPolicy } from '../../src/code/egress-policy.js';
import type { ExecuteResult } from '../../src/code/types.js';
import { Runner } from '../../src/run/runner.js';
import { loadRuntime } from '../../src/runtime/load.js';
import type { Runtime, RuntimeName } from '../../src/runtime/types.js';
import { probeDocker } from '../runtime/docker/helpers.js';
import { startDnsServer, startHttpServer, type TestDnsServer, type TestHttpServer } from './egress-servers.js';

const probe = await probeDocker();
if (!probe.available) console.warn(`[egress on docker] skipped: ${probe.reason}`);

const SECRET = `tok-${randomUUID()}`;
const KEY = `key-${randomUUID()}`;

const RUNTIMES: Array<{ name: RuntimeName; options: Record<string, unknown>; scale: number; skip: boolean }> = [
  { name: 'quickjs', options: {}, scale: 1, skip: false },
  { name: 'isolated-vm', options: {}, scale: 1, skip: false },
  { name: 'docker', options: { minIdle: 1 }, scale: 5, skip: !probe.available },
];

/** Every result of the suite, grepped for the credentials at the end. */
const everything: unknown[] = [];

for (const rt of RUNTIMES) {
  describe.skipIf(rt.skip)(`egress: ${rt.name}`, () => {
    let a: TestHttpServer;
    let b: TestHttpServer;
    let dns: TestDnsServer;
    let runtime: Runtime;
    let granted: Executor;
    let strict: Executor;
    let none: Executor;
    const executors: Executor[] = [];
    const make = (egress?: EgressPolicy, limits?: Record<string, number>) => {
      const runner = new Runner();
      // Waits until server A has received a request for `path` (so a test can act mid-request).
      runner.register({
        namespace: 'test',
        name: 'arrived',
        handler: async ({ path }: { path: string }) => {
          for (let i = 0; i < 500 && !a.seen.some((s) => s.url === path); i++) await new Promise((r) => setTimeout(r, 10));
          return a.seen.some((s) => s.url === path);
        },
      });
      const e = new Executor({ runner, runtime, limits: { timeoutMs: 10_000 * rt.scale, ...limits }, ...(egress ? { egress } : {}) });
      executors.push(e);
      return e;
    };
    const run = async (e: Executor, script: string): Promise<ExecuteResult> => {
      const r = await e.execute(script);
      everything.push(r);
      return r;
    };
    const ok = async (e: Executor, script: string): Promise<unknown> => {
      const r = await run(e, script);
      expect(r.error, JSON.stringify(r.error)).toBeUndefined();
      return r.value;
    };

    beforeAll(async () => {
      [a, b, dns] = await Promise.all([startHttpServer(), startHttpServer(), startDnsServer()]);
      runtime = await loadRuntime(rt.name, rt.options);
      granted = make({
        allow: [
          { origin: a.origin, methods: ['GET', 'POST', 'PUT'], headers: { authorization: `Bearer ${SECRET}`, 'x-api-key': KEY } },
          b.origin,
        ],
        allowAddresses: ['loopback'],
        maxRequestBytes: 16 * 1024,
        maxResponseBytes: 64 * 1024,
        timeoutMs: 1_500 * rt.scale,
        secrets: [{ name: 'TEST_TOKEN', value: SECRET }],
      });
      strict = make({ allow: [a.origin] });
      none = make();
    });
    afterAll(async () => {
      await Promise.all(executors.map((e) => e.dispose()));
      await runtime?.dispose();
      await Promise.all([a?.close(), b?.close(), dns?.close()]);
    });

    it('without a policy there is no fetch, Headers or Response', async () => {
      expect(await ok(none, '[typeof fetch, typeof Headers, typeof Response, "fetch" in globalThis]')).toEqual(['undefined', 'undefined', 'undefined', false]);
    });

    it('fetches JSON through the host: status, Headers, json(), and a ledger entry', async () => {
      const v = (await ok(
        granted,
        `const res = await fetch("${a.origin}/echo?x=1", { headers: { "x-test": "yes" } });
         const body = await res.json();
         return { status: res.status, ok: res.ok, type: res.headers.get("content-type"), isHeaders: res.headers instanceof Headers,
                  isResponse: res instanceof Response, url: res.url, redirected: res.redirected, method: body.method, path: body.url, xtest: body.headers["x-test"], used: res.bodyUsed }`,
      )) as Record<string, unknown>;
      expect(v).toEqual({ status: 200, ok: true, type: 'application/json', isHeaders: true, isResponse: true, url: `${a.origin}/echo?x=1`, redirected: false, method: 'GET', path: '/echo?x=1', xtest: 'yes', used: true });
      const r = everything.at(-1) as ExecuteResult;
      expect(r.toolCalls).toEqual([expect.objectContaining({ toolId: 'fetch', kind: 'fetch', args: { method: 'GET', url: `${a.origin}/echo?x=1` }, ok: true, status: 200 })]);
    });

    it('sends string and byte bodies and reads text, arrayBuffer and bytes', async () => {
      const v = (await ok(
        granted,
        `const s = await (await fetch("${a.origin}/echo", { method: "POST", body: "héllo" })).json();
         const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
         const bin = await (await fetch("${a.origin}/echo", { method: "put", body: bytes })).json();
         const raw = new Uint8Array(await (await fetch("${a.origin}/binary")).arrayBuffer());
         const text = await (await fetch("${a.origin}/text?s=" + encodeURIComponent("ünïcode ✓"))).text();
         return { s: s.body, sType: s.headers["content-type"], bin: bin.body, binMethod: bin.method, rawLength: raw.length, raw0: raw[0], raw255: raw[255], text }`,
      )) as Record<string, unknown>;
      expect(Buffer.from(v.s as string, 'base64').toString('utf8')).toBe('héllo');
      expect(v.sType).toBe('text/plain;charset=UTF-8');
      expect([...Buffer.from(v.bin as string, 'base64')]).toEqual([0, 1, 2, 253, 254, 255]);
      expect(v.binMethod).toBe('PUT');
      expect(v).toMatchObject({ rawLength: 256, raw0: 0, raw255: 255, text: 'ünïcode ✓' });
    });

    it('adds the credentials bound to the origin; the script cannot see or replace them', async () => {
      const v = (await ok(
        granted,
        `const res = await fetch("${a.origin}/echo", { headers: { authorization: "mine", "x-api-key": "mine" } });
         const body = await res.json();
         return { auth: body.headers.authorization, key: body.headers["x-api-key"], echoed: res.headers.get("x-echo-authorization"), all: JSON.stringify([...res.headers]) }`,
      )) as Record<string, string>;
      const seen = a.seen.at(-1)!;
      expect(seen.headers.authorization).toBe(`Bearer ${SECRET}`);
      expect(seen.headers['x-api-key']).toBe(KEY);
      expect(v.auth).toBe('Bearer [redacted:TEST_TOKEN]');
      expect(v.echoed).toBe('Bearer [redacted:TEST_TOKEN]');
      expect(v.key).toMatch(/^\[redacted:/);
      expect(JSON.stringify(v)).not.toContain(SECRET);
      expect(JSON.stringify(v)).not.toContain(KEY);
    });

    it('refuses an origin, a method and a scheme the policy does not allow, before any connection', async () => {
      const before = b.seen.length;
      const v = (await ok(
        granted,
        `const out = [];
         for (const [url, init] of [["http://127.0.0.1:1/", {}], ["${b.origin}/echo", { method: "POST", body: "x" }], ["file:///etc/passwd", {}], ["/relative", {}]]) {
           try { await fetch(url, init); out.push("fetched"); } catch (e) { out.push([e.name, e.code, e.message]); }
         }
         return out`,
      )) as Array<[string, string, string]>;
      expect(v.map((x) => x[1])).toEqual(['EGRESS_DENIED', 'EGRESS_DENIED', 'INVALID_REQUEST', 'INVALID_REQUEST']);
      expect(v.every((x) => x[0] === 'TypeError')).toBe(true);
      expect(v[0]![2]).toMatch(/not an allowed origin.*egress\.allow/);
      expect(v[1]![2]).toMatch(/POST is not allowed to .*allowed: GET, HEAD/);
      expect(b.seen.length).toBe(before);
    });

    it('an uncaught fetch failure ends the script as TOOL_ERROR naming fetch and the code', async () => {
      const r = await run(granted, `await fetch("https://example.invalid/");`);
      expect(r.error).toMatchObject({ code: 'TOOL_ERROR', toolId: 'fetch', toolCode: 'EGRESS_DENIED' });
      expect(r.toolCalls[0]).toMatchObject({ kind: 'fetch', ok: false, error: { code: 'EGRESS_DENIED' } });
    });

    it('refuses loopback by default, saying how to allow it', async () => {
      const before = a.seen.length;
      const r = await run(strict, `try { await fetch("${a.origin}/echo"); return "fetched" } catch (e) { return [e.code, e.message] }`);
      expect(r.value).toEqual(['EGRESS_DENIED', expect.stringMatching(/127\.0\.0\.1 is a loopback address.*egress\.allowAddresses/)]);
      expect(a.seen.length).toBe(before);
    });

    it('checks every redirect: another allowed origin gets none of the first origin’s credentials', async () => {
      const to = encodeURIComponent(`${b.origin}/echo`);
      const v = (await ok(
        granted,
        `const res = await fetch("${a.origin}/redirect?status=302&to=${to}", { headers: { authorization: "script-own" } });
         const body = await res.json();
         return { status: res.status, redirected: res.redirected, url: res.url, auth: body.headers.authorization ?? null, key: body.headers["x-api-key"] ?? null }`,
      )) as Record<string, unknown>;
      expect(v).toEqual({ status: 200, redirected: true, url: `${b.origin}/echo`, auth: null, key: null });
      expect(b.seen.at(-1)!.headers.authorization).toBeUndefined();
    });

    it('refuses a redirect to an origin that is not allowed, and honours redirect: manual and error', async () => {
      const away = encodeURIComponent('http://127.0.0.1:1/x');
      const v = (await ok(
        granted,
        `const out = [];
         try { await fetch("${a.origin}/redirect?to=${away}"); } catch (e) { out.push([e.code, e.message]); }
         const manual = await fetch("${a.origin}/redirect?status=301&to=/echo", { redirect: "manual" });
         out.push([manual.status, manual.headers.get("location")]);
         try { await fetch("${a.origin}/redirect?to=/echo", { redirect: "error" }); } catch (e) { out.push([e.code]); }
         const post = await (await fetch("${a.origin}/redirect?status=303&to=/echo", { method: "POST", body: "x" })).json();
         out.push([post.method, post.body]);
         return out`,
      )) as unknown[][];
      expect(v[0]).toEqual(['EGRESS_DENIED', expect.stringMatching(/not an allowed origin.*reached by a redirect/)]);
      expect(v[1]).toEqual([301, '/echo']);
      expect(v[2]).toEqual(['NETWORK_ERROR']);
      expect(v[3]).toEqual(['GET', '']);
    });

    it('bounds response and request sizes, decompressed bytes included', async () => {
      const v = (await ok(
        granted,
        `const out = [];
         for (const path of ["/big?n=70000", "/gzip-bomb"]) {
           try { await fetch("${a.origin}" + path); out.push("fetched"); } catch (e) { out.push([e.code, e.message]); }
         }
         try { await fetch("${a.origin}/echo", { method: "POST", body: "x".repeat(20000) }); out.push("sent"); } catch (e) { out.push([e.code, e.message]); }
         out.push((await (await fetch("${a.origin}/big?n=60000")).text()).length);
         return out`,
      )) as unknown[];
      expect(v[0]).toEqual(['EGRESS_LIMIT', expect.stringMatching(/maxResponseBytes is 65536/)]);
      expect(v[1]).toEqual(['EGRESS_LIMIT', expect.stringMatching(/maxResponseBytes/)]);
      expect(v[2]).toEqual(['EGRESS_LIMIT', expect.stringMatching(/request body is 20000 bytes; egress.maxRequestBytes is 16384/)]);
      expect(v[3]).toBe(60000);
    });

    it('times out a request that never answers, and closes its connection', async () => {
      const before = a.seen.length;
      const r = await run(granted, `try { await fetch("${a.origin}/hang"); return "answered" } catch (e) { return [e.code, e.message] }`);
      expect(r.value).toEqual(['TIMEOUT', expect.stringMatching(/did not answer within/)]);
      await expect.poll(() => a.seen.slice(before).some((s) => s.url === '/hang' && s.closedEarly)).toBe(true);
      expect(r.toolCalls[0]).toMatchObject({ kind: 'fetch', error: { code: 'TIMEOUT' } });
    });

    it('aborts through init.signal: rejects with the reason and stops the request on the host', async () => {
      const before = a.seen.length;
      // A minimal AbortSignal-shaped object (the stdlib's AbortController, where present, is the same shape).
      const r = await run(
        granted,
        `const listeners = [];
         const signal = typeof AbortController === "function" ? null : { aborted: false, reason: undefined, addEventListener: (t, f) => listeners.push(f), removeEventListener() {} };
         const controller = typeof AbortController === "function" ? new AbortController() : { signal, abort(reason) { signal.aborted = true; signal.reason = reason; for (const f of listeners) f(); } };
         const p = fetch("${a.origin}/slow-body?at=abort", { signal: controller.signal });
         const arrived = await run("test:arrived", { path: "/slow-body?at=abort" });
         if (!arrived) return "the request never arrived";
         controller.abort(new Error("stop it"));
         try { await p; return "finished" } catch (e) { return e.message }`,
      );
      expect(r.value).toBe('stop it');
      const rec = r.toolCalls.find((c) => c.kind === 'fetch');
      expect(rec).toMatchObject({ ok: false, error: { code: 'CANCELLED' } });
      await expect.poll(() => a.seen.slice(before).some((s) => s.url === '/slow-body?at=abort' && s.closedEarly)).toBe(true);
    });

    it('ends requests still running when the script ends', async () => {
      const before = a.seen.length;
      const r = await run(granted, `fetch("${a.origin}/hang?at=end").catch(() => {}); await run("test:arrived", { path: "/hang?at=end" }); "done"`);
      expect(r.value).toBe('done');
      await expect.poll(() => a.seen.slice(before).some((s) => s.url === '/hang?at=end' && s.closedEarly)).toBe(true);
    });

    it('durable: a fetch before a suspension is answered from the journal on resume, not made again', async () => {
      const runner = new Runner();
      runner.register({ namespace: 'gh', name: 'create_issue', handler: async ({ title }: { title: string }) => ({ number: 7, title }) });
      const e = new Executor({ runner, runtime, limits: { timeoutMs: 10_000 * rt.scale }, approve: ['gh:create_*'], egress: { allow: [{ origin: a.origin, methods: ['GET', 'POST'] }], allowAddresses: ['loopback'] } });
      executors.push(e);
      const tag = randomUUID();
      const script = `const res = await fetch("${a.origin}/echo?durable=${tag}", { method: "POST", body: "x" });
        const body = await res.json();
        const issue = await run("gh:create_issue", { title: body.method + " " + body.url });
        return { status: res.status, issue };`;
      const first = await e.execute(script);
      everything.push(first);
      expect(first.error?.code).toBe('SUSPENDED');
      const hits = () => a.seen.filter((x) => x.url === `/echo?durable=${tag}`).length;
      expect(hits()).toBe(1);
      const done = await e.resume(first.executionId!, { approve: [first.pending![0]!.callId] });
      everything.push(done);
      expect(done.error, JSON.stringify(done.error)).toBeUndefined();
      expect(done.value).toEqual({ status: 200, issue: { number: 7, title: `POST /echo?durable=${tag}` } });
      expect(hits()).toBe(1);
      expect(done.toolCalls[0]).toEqual(expect.objectContaining({ toolId: 'fetch', kind: 'fetch', replayed: true, ok: true }));
    });

    it('counts fetches against maxToolCalls', async () => {
      const r = await granted.execute(`for (let i = 0; i < 3; i++) await fetch("${a.origin}/text?s=" + i); "no"`, { maxToolCalls: 2 });
      everything.push(r);
      expect(r.error?.code).toBe('TOOL_CALL_LIMIT');
    });

    it('keeps set-cookie values apart and Headers behaves as WHATWG says', async () => {
      const v = await ok(
        granted,
        `const res = await fetch("${a.origin}/cookies");
         const h = new Headers([["B", "2"], ["a", "1"], ["a", "3"]]);
         h.append("set-cookie", "x=1"); h.append("set-cookie", "y=2");
         return { cookies: res.headers.getSetCookie(), list: [...h], a: h.get("A"), none: h.get("zz"), body: await res.text(),
                  again: await res.text().then(() => "read twice", (e) => e.name),
                  made: await new Response("made", { status: 201, headers: { "x-y": "z" } }).text(), json: await Response.json({ k: 1 }).json() }`,
      );
      expect(v).toEqual({
        cookies: ['a=1', 'b=2'],
        list: [['a', '1, 3'], ['b', '2'], ['set-cookie', 'x=1'], ['set-cookie', 'y=2']],
        a: '1, 3',
        none: null,
        body: 'ok',
        again: 'TypeError',
        made: 'made',
        json: { k: 1 },
      });
    });

    it('checks every DNS answer and connects only to the address it checked (one lookup: no rebinding)', async () => {
      const resolver = new Resolver();
      resolver.setServers([`127.0.0.1:${dns.port}`]);
      const lookup = async (name: string) => (await resolver.resolve4(name)).map((address) => ({ address, family: 4 as const }));
      dns.records.set('private.test', ['10.0.0.1']);
      let flip = 0;
      // An attacker's name: allowed the first time it is asked, private the next.
      dns.records.set('rebind.test', () => (flip++ % 2 === 0 ? ['127.0.0.1'] : ['10.9.9.9']));
      const viaDns = make({ allow: [`http://private.test:${a.port}`, `http://rebind.test:${a.port}`, `http://loop.test:${a.port}`], allowAddresses: ['127.0.0.1'], lookup, timeoutMs: 2_000 * rt.scale });
      dns.records.set('loop.test', ['127.0.0.1']);
      const before = a.seen.length;
      const v = (await ok(
        viaDns,
        `const out = [];
         try { await fetch("http://private.test:${a.port}/echo"); out.push("fetched"); } catch (e) { out.push([e.code, e.message]); }
         const body = await (await fetch("http://loop.test:${a.port}/echo")).json();
         out.push(body.headers.host);
         out.push((await (await fetch("http://rebind.test:${a.port}/echo")).json()).headers.host);
         return out`,
      )) as unknown[];
      expect(v[0]).toEqual(['EGRESS_DENIED', expect.stringMatching(/private\.test resolves to 10\.0\.0\.1, a private address/)]);
      expect(v[1]).toBe(`loop.test:${a.port}`);
      expect(v[2]).toBe(`rebind.test:${a.port}`);
      expect(dns.queries.filter((q) => q === 'rebind.test')).toHaveLength(1);
      expect(a.seen.length - before).toBe(2);
    });
  });
}

describe('egress secrets', () => {
  it('no credential bound to an origin appears in any result of the suite', () => {
    const text = JSON.stringify(everything);
    expect(everything.length).toBeGreaterThan(10);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(KEY);
  });
});
