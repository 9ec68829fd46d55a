// An execution's life in a SQLite execution store, as the executor will drive it: a process
// starts it and journals a tool call, the script suspends on a call that needs approval, a
// human approves, and another process claims it and finishes. Run: node examples/execution-store.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteExecutionStore, JournalWriter, StoreError, defaultOwnerId } from 'toolexec/store/sqlite';

const dir = mkdtempSync(join(tmpdir(), 'toolexec-example-'));
const path = join(dir, 'executions.db');
const principal = 'user:alice';

// Process 1 starts the execution; it holds the lease.
const first = await SqliteExecutionStore.open({ path });
const hostA = defaultOwnerId();
const rec = await first.create({ principal, owner: hostA, script: 'await run("github:create_issue", { title: "Bug" })' });
const writer = new JournalWriter(first, { executionId: rec.executionId, principal, owner: hostA }, rec.journalLength);
await writer.append({ type: 'call', index: 0, toolId: 'math:add', argsHash: 'sha256:...' });
await writer.append({ type: 'result', index: 0, value: { sum: 3 } }); // durable before the guest sees it
await writer.suspend({ pending: [{ callId: 'c1', toolId: 'github:create_issue', args: { title: 'Bug' } }] });
console.log('durability:', first.durability.level);
console.log('suspended:', (await first.get(rec.executionId, principal)).status);

// Another principal learns nothing, not even that the ID exists.
console.log('someone else sees:', await first.get(rec.executionId, 'user:mallory'));

// A human approves, with edited arguments.
await first.decide(rec.executionId, principal, [{ callId: 'c1', action: 'approve', args: { title: 'Bug (triaged)' }, by: 'cli' }]);
await first.close();

// Process 2 (any host sharing the file) resumes: the claim succeeds only once decisions exist.
const second = await SqliteExecutionStore.open({ path });
const hostB = defaultOwnerId();
const { record, previousStatus } = await second.claim(rec.executionId, principal, hostB, { requireDecisions: true });
console.log('claimed from', previousStatus, 'with', record.journal.length, 'journal entries; last:', record.journal.at(-1).type, record.journal.at(-1).action);
const resumed = new JournalWriter(second, { executionId: rec.executionId, principal, owner: hostB }, record.journalLength);
await resumed.append({ type: 'result', index: 1, value: { number: 7 } });
await resumed.complete({ status: 'completed', result: { ok: true, value: 7 } });

try {
  await second.claim(rec.executionId, principal, hostB);
} catch (e) {
  if (e instanceof StoreError) console.log(e.code, '-', e.message.replace(rec.executionId, '<id>'));
}
const { executions } = await second.list(principal, { status: 'completed' });
console.log('completed executions:', executions.length, JSON.stringify((await second.get(rec.executionId, principal)).result));
await second.close();
rmSync(dir, { recursive: true, force: true });
