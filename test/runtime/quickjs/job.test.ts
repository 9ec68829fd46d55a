// A job on the far side's engine (runtimes/quickjs/job.js) with its two ways out: batches emitted
// after each slice of the guest (the in-process mode, whose `emit` runs host handlers at once),
// and `direct`, where each guest message is written the moment the guest sends it and the host is
// told once the guest waits (the worker thread: a polling host starts on a tool call while the
// guest still runs up to its `await`).
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { createTestEngine } from './far-side.js';

const require = createRequire(import.meta.url);
const { createJob } = require('../../../runtimes/quickjs/job.js') as {
  createJob(
    engine: unknown,
    id: number,
    job: unknown,
    emit: (m: { t: string; m?: string[] }) => void,
    abortRequested?: () => boolean,
    direct?: { write(text: string): void; ring(): void },
  ): { start(): void; deliver(replies: string[]): void; readonly over: boolean; end(): { retire: boolean; dispose?: () => void } };
};

const engine = await createTestEngine<{ prepare(): void }>();
engine.prepare();

// Two requests and a log in the guest's first slice, then its result once both are answered.
const code = '__toolexec_start(async function () {\nconst a = run("echo", { n: 1 });\nconsole.log("between");\nconst b = run("echo", { n: 2 });\nreturn (await a).n + (await b).n;\n});';
const limits = { timeoutMs: 10_000, memoryMb: 32, maxOutputBytes: 1 << 20 };

/** Runs the job to its end; returns what reached the host, in order: `write <op>`, `ring`, `emit <ops>`, `end`. */
function drive(useDirect: boolean): string[] {
  const seen: string[] = [];
  const requests: { id: number; args: unknown }[] = [];
  const note = (text: string) => {
    const m = JSON.parse(text) as { op: string; id: number; args: unknown };
    if (m.op === 'run') requests.push({ id: m.id, args: m.args });
    return m.op;
  };
  const emit = (m: { t: string; m?: string[] }) => seen.push(m.t === 'out' ? `emit ${m.m!.map(note).join(',')}` : m.t);
  const direct = { write: (text: string) => seen.push(`write ${note(text)}`), ring: () => seen.push('ring') };
  const job = createJob(engine, 1, { code, filename: 'script.js', limits }, emit, () => false, useDirect ? direct : undefined);
  job.start();
  seen.push('--- slice over');
  job.deliver(requests.splice(0).map((r) => JSON.stringify({ id: r.id, ok: true, value: r.args })));
  expect(job.over).toBe(true);
  job.end().dispose?.();
  engine.prepare();
  return seen;
}

describe('QuickJS job: how guest messages leave', () => {
  it('direct: each message is written as the guest sends it, and the host told once per slice', () => {
    expect(drive(true)).toEqual(['write run', 'write log', 'write run', 'ring', '--- slice over', 'write done', 'ring', 'end']);
  });

  it('without direct: one batch per slice, after the guest waits', () => {
    expect(drive(false)).toEqual(['emit run,log,run', '--- slice over', 'emit done', 'end']);
  });
});
