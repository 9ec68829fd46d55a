// Shared by the Docker tests: whether the engine is usable, and a small host end of the bridge
// (tools answered in-process, logs collected) for driving the runtime without the executor.
import { existsSync, readFileSync } from 'node:fs';
import Docker from 'dockerode';
import type { Runtime, RuntimeLimits, RuntimeOutcome } from '../../../src/runtime/types.js';
import { DEFAULT_IMAGE, SANDBOX_LABEL, OWNER_PID_LABEL, RUNTIME_ID_LABEL } from '../../../src/runtime/docker/index.js';

export const REQUIRE_DOCKER = process.env.TOOLEXEC_REQUIRE_DOCKER === '1';


export interface DockerProbe {
  available: boolean;
  reason?: string;
  runsc: boolean;
}

/** Whether the engine answers and the sandbox image exists; the reason when not. */
export async function probeDocker(): Promise<DockerProbe> {
  const docker = new Docker();
  try {
    await Promise.race([docker.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('ping timed out')), 5000))]);
  } catch (err) {
    return { available: false, runsc: false, reason: `Docker is not reachable (${(err as Error).message}); run \`sudo bash .ci/docker-setup.sh\`` };
  }
  try {
    await docker.getImage(DEFAULT_IMAGE).inspect();
  } catch {
    return { available: false, runsc: false, reason: `the image ${DEFAULT_IMAGE} is missing; run \`npm run sandbox:build\`` };
  }
  const info = (await docker.info()) as { Runtimes?: Record<string, unknown> };
  return { available: true, runsc: Boolean(info.Runtimes && 'runsc' in info.Runtimes) };
}

/** Containers of this test process (optionally of one runtime instance), running or not. */
export async function ourContainers(runtimeId?: string): Promise<Docker.ContainerInfo[]> {
  const label = [`${SANDBOX_LABEL}=1`, `${OWNER_PID_LABEL}=${process.pid}`];
  if (runtimeId) label.push(`${RUNTIME_ID_LABEL}=${runtimeId}`);
  return new Docker().listContainers({ all: true, filters: { label } });
}

export type ToolImpl = (args: Record<string, unknown>) => unknown;

export interface HostRun {
  outcome: RuntimeOutcome;
  ok?: boolean;
  value?: unknown;
  error?: { code: string; message: string; [key: string]: unknown };
  logs: Array<{ level: string; message: string }>;
  calls: Array<{ toolId: string; args: unknown }>;
  receivedBytes: number;
}

export const DEFAULT_LIMITS: RuntimeLimits = { timeoutMs: 20_000, memoryMb: 128, maxOutputBytes: 1_000_000 };

/**
 * Runs `body` (the inside of an async function) in `runtime` through the real prelude, answering
 * `run` calls from `tools`, the way the executor's host end does.
 */
export async function hostRun(
  runtime: Runtime,
  body: string,
  options: { tools?: Record<string, ToolImpl>; limits?: Partial<RuntimeLimits>; signal?: AbortSignal } = {},
): Promise<HostRun> {
  const tools = options.tools ?? {};
  const logs: HostRun['logs'] = [];
  const calls: HostRun['calls'] = [];
  let result: Pick<HostRun, 'ok' | 'value' | 'error'> = {};
  let receivedBytes = 0;
  const code = `__toolexec_start(async function () {\n${body}\n});`;
  const session = runtime.start(
    { code, filename: 'script.js', limits: { ...DEFAULT_LIMITS, ...options.limits }, ...(options.signal ? { signal: options.signal } : {}) },
    (message) => {
      receivedBytes += message.length;
      const m = JSON.parse(message) as Record<string, any>;
      if (m.op === 'log') logs.push({ level: m.level, message: m.message });
      else if (m.op === 'done') result = m.ok ? { ok: true, value: m.value } : { ok: false, error: m.error };
      else if (m.op === 'run') {
        calls.push({ toolId: m.toolId, args: m.args });
        const impl = tools[m.toolId];
        // Answered asynchronously, like a real tool.
        void Promise.resolve()
          .then(() => {
            if (!impl) throw Object.assign(new Error(`no tool ${m.toolId}`), { code: 'TOOL_NOT_FOUND' });
            return impl(m.args);
          })
          .then(
            (value) => session.send(JSON.stringify({ id: m.id, ok: true, value })),
            (err: Error & { code?: string }) => session.send(JSON.stringify({ id: m.id, ok: false, error: { code: err.code ?? 'EXECUTION', message: err.message } })),
          );
      }
    },
  );
  const outcome = await session.done;
  return { outcome, ...result, logs, calls, receivedBytes };
}

/** The seed journey's tools: an in-memory issue tracker. */
export function issueTools(): Record<string, ToolImpl> {
  const issues: Array<{ number: number; title: string; body: string; labels: string[] }> = [];
  return {
    'github:create_issue': (args) => {
      const issue = { number: issues.length + 1, title: String(args.title), body: String(args.body ?? ''), labels: [] as string[] };
      issues.push(issue);
      return issue;
    },
    'github:get_issue': (args) => {
      const issue = issues.find((i) => i.number === args.number);
      if (!issue) throw Object.assign(new Error(`no issue ${String(args.number)}`), { code: 'EXECUTION' });
      return issue;
    },
    'github:add_labels': (args) => {
      const issue = issues.find((i) => i.number === args.number)!;
      issue.labels.push(...(args.labels as string[]));
      return issue;
    },
  };
}

/** The seed journey's orchestration script. */
export const SEED_SCRIPT = `
const created = await run('github:create_issue', { title: 'Crash when saving', body: 'Found a bug: saving crashes' });
const fetched = await tools.github.get_issue({ number: created.number });
if (fetched.title !== 'Crash when saving') throw new Error('title mismatch: ' + fetched.title);
let issue = fetched;
if (/bug/i.test(fetched.body)) issue = await run('github:add_labels', { number: created.number, labels: ['bug', 'triage'] });
console.log('issue', issue.number, 'labels', issue.labels.join(','));
return issue;
`;

/** A guest expression that escapes the `vm` context to the agent's process, as an attacker would. */
export const ESCAPE = `const proc = globalThis.constructor.constructor('return process')(); const req = proc.mainModule.require;`;

/** The multi-engine test bed `.ci/docker-engines.sh` starts (its `engines.json`). */
export interface TestBed {
  script: string;
  certs: Record<'client' | 'rogueClient' | 'rogueServerCa', { ca: string; cert: string; key: string }>;
  /** An address on the bed's network where nothing answers (no host). */
  unreachable: string;
  /** An address of a running host where no engine listens (refused at once). */
  refused: string;
  runsc: boolean;
  engines: Array<{ name: string; host: string; socket: string; certPath: string; pidfile: string }>;
}

/** Where the bed describes itself: TOOLEXEC_DOCKER_ENGINES, else the script's default place. */
export const TEST_BED_FILE = process.env.TOOLEXEC_DOCKER_ENGINES ?? '/var/lib/toolexec-engines/engines.json';

/** The test bed, or why it is not there (the engines are pinged, not just the file read). */
export async function loadTestBed(): Promise<{ bed?: TestBed; reason?: string }> {
  if (!existsSync(TEST_BED_FILE)) return { reason: `no multi-engine test bed (${TEST_BED_FILE} is missing); start it with \`sudo bash .ci/docker-engines.sh up --keep\`` };
  let bed: TestBed;
  try {
    bed = JSON.parse(readFileSync(TEST_BED_FILE, 'utf8')) as TestBed;
  } catch (err) {
    return { reason: `${TEST_BED_FILE} is not valid JSON: ${(err as Error).message}` };
  }
  for (const e of bed.engines) {
    try {
      const docker = bedClient(bed, e.name);
      await Promise.race([docker.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('ping timed out')), 5000))]);
      await docker.getImage(DEFAULT_IMAGE).inspect();
    } catch (err) {
      return { reason: `test bed engine ${e.name} (${e.host}) is not usable: ${(err as Error).message}; restart the bed with \`sudo bash .ci/docker-engines.sh up --keep\`` };
    }
  }
  return { bed };
}

/** A plain dockerode client of one bed engine, over its TCP address with the client certificate. */
export function bedClient(bed: TestBed, name: string): Docker {
  const e = bed.engines.find((x) => x.name === name)!;
  const url = new URL(e.host.replace('tcp://', 'https://'));
  const c = bed.certs.client;
  return new Docker({ host: url.hostname, port: Number(url.port), protocol: 'https', ca: readFileSync(c.ca), cert: readFileSync(c.cert), key: readFileSync(c.key), socketPath: undefined } as Docker.DockerOptions);
}

/** The engine entry of a bed engine for `DockerRuntime({ engines })`. */
export function bedEngine(bed: TestBed, name: string, certs: keyof TestBed['certs'] = 'client'): { name: string; host: string; tls: { ca: string; cert: string; key: string } } {
  const e = bed.engines.find((x) => x.name === name)!;
  return { name: e.name, host: e.host, tls: { ...bed.certs[certs] } };
}
