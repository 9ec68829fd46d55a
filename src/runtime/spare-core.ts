/**
 * Whether a sandbox may poll for its replies instead of sleeping. Polling spares both sides a
 * wake-up per tool call, and on a virtual machine waking a thread whose virtual CPU has halted
 * costs tens to hundreds of microseconds (measured here, quiet 2-core VM: a wait/notify round
 * trip between two sleeping threads 56–153 µs, with one side polling 5 µs; a sequential QuickJS
 * tool call 194–260 µs without polling, 91–122 µs with). But polling only pays while a core is
 * free for the poller: on a busy machine a polling sandbox takes CPU from the host thread that
 * computes its reply, and every execution gets slower.
 *
 * `auto` (the default) decides from what the other processes of the machine use now: on Linux
 * the busy time of all CPUs (`/proc/stat`) less this process's own CPU time and that of its
 * sandbox processes (`trackProcess`), over the last quarter second or so, so a poller does not
 * count against itself and the answer follows the load within a fraction of a second (the
 * 1-minute load average lags it by tens of seconds: a poller guided by it took the core the host
 * needed after every burst of load). Elsewhere the load average is the guide. Polling is
 * allowed while the others leave a core for each running job and one for the host thread.
 * `TOOLEXEC_SANDBOX_POLL=never` turns it off, `always` on whenever fewer jobs than cores run.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';

const CORES = availableParallelism();
/** How often the machine's load is read again (ms). */
const SAMPLE_MS = 250;
/** Linux reports CPU times in clock ticks of 1/100 s (USER_HZ, fixed at 100 for user space). */
const TICK_US = 10_000;

type Mode = 'auto' | 'always' | 'never';
const MODE: Mode = process.env.TOOLEXEC_SANDBOX_POLL === 'never' || process.env.TOOLEXEC_SANDBOX_POLL === 'always' ? process.env.TOOLEXEC_SANDBOX_POLL : 'auto';

let checkedAt = 0;
/** CPUs' worth of time the other processes used in the last sample. */
let othersCores = 0;
let last: { at: number; busyTicks: number; ownUs: number } | undefined;
let procStat = process.platform === 'linux';
/**
 * Our sandbox processes (isolated-vm) by pid, with their CPU ticks at the last sample (-1 before
 * the first). Their CPU is this host's own work: counted as the machine's other load, a process
 * running a job (and polling for its replies) turned polling off for the jobs after it
 * (measured with nothing else running, 6 runs of 105 executions each: 8 of 630 isolated-vm
 * jobs polled; counted as ours, 630 of 630).
 */
const tracked = new Map<number, number>();

/** Counts a sandbox process's CPU as this host's own (see `tracked`). */
export function trackProcess(pid: number): void {
  tracked.set(pid, -1);
}

export function untrackProcess(pid: number): void {
  tracked.delete(pid);
}

/** The sandbox processes whose CPU counts as this host's own (diagnostics and tests). */
export function trackedProcesses(): number[] {
  return [...tracked.keys()];
}

/** User plus system ticks of a process from its `/proc/<pid>/stat` text, or undefined. */
export function processTicksOf(text: string): number | undefined {
  // The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields from 3 (state) on: utime is field 14, stime field 15.
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  return Number.isSafeInteger(utime) && Number.isSafeInteger(stime) && utime >= 0 && stime >= 0 ? utime + stime : undefined;
}

/** Ticks the tracked processes used since the last sample (a process seen once only counts from then). */
function trackedTicksSinceLast(): number {
  let delta = 0;
  for (const [pid, before] of tracked) {
    let now: number | undefined;
    try {
      now = processTicksOf(readFileSync(`/proc/${pid}/stat`, 'latin1'));
    } catch {
      now = undefined;
    }
    if (now === undefined) continue;
    if (before >= 0 && now >= before) delta += now - before;
    tracked.set(pid, now);
  }
  return delta;
}

/**
 * Busy ticks of all CPUs together (user, nice, system, irq, softirq) from `/proc/stat`'s text,
 * or undefined. Steal is not counted: it is time the hypervisor kept a virtual CPU that wanted
 * to run from running, not time a process of this machine used. Counted as load, it fed on
 * itself: a vCPU woken from halt waits for the hypervisor, and that wait is steal, so with
 * polling off every tool call's two wake-ups made steal that kept polling off. Measured on this
 * 2-vCPU VM (a 1,000-call QuickJS script, 40 runs): steal was 13–23 of 50 ticks per sample
 * while polling was off and 2–6 while on; tool calls took 250–450 µs without polling and
 * 45–60 µs with, and the runtime flipped between the two for whole stretches of runs.
 */
export function busyTicksOf(text: string): number | undefined {
  const end = text.indexOf('\n');
  const f = (end === -1 ? text : text.slice(0, end)).trim().split(/\s+/);
  if (f[0] !== 'cpu' || f.length < 9) return undefined;
  const n = f.slice(1, 9).map(Number);
  if (n.some((x) => !Number.isSafeInteger(x) || x < 0)) return undefined;
  // user nice system idle iowait irq softirq steal: idle and iowait are free time, steal is the
  // hypervisor's.
  return n[0]! + n[1]! + n[2]! + n[5]! + n[6]!;
}

function busyTicks(): number | undefined {
  try {
    return busyTicksOf(readFileSync('/proc/stat', 'latin1'));
  } catch {
    return undefined;
  }
}

function sample(now: number, running: number): void {
  if (procStat) {
    const busy = busyTicks();
    if (busy !== undefined) {
      const own = process.cpuUsage();
      const ownUs = own.user + own.system;
      const sandboxTicks = trackedTicksSinceLast();
      if (last !== undefined && now > last.at) {
        const wallUs = (now - last.at) * 1000;
        const othersUs = (busy - last.busyTicks - sandboxTicks) * TICK_US - (ownUs - last.ownUs);
        othersCores = Math.max(0, othersUs / wallUs);
      }
      last = { at: now, busyTicks: busy, ownUs };
      return;
    }
    procStat = false;
  }
  // The load average counts this process's running sandboxes and host thread too.
  othersCores = Math.max(0, (loadavg()[0] ?? 0) - running - 1);
}

export function mayPoll(running: number): boolean {
  if (running >= CORES || MODE === 'never') return false;
  if (MODE === 'always') return true;
  const now = performance.now();
  if (now - checkedAt >= SAMPLE_MS) {
    checkedAt = now;
    sample(now, running);
  }
  // Each running job's sandbox and the host thread want a core; the others must leave them.
  return othersCores <= CORES - running - 1 + 0.25;
}

/**
 * A sandbox's own count for its last job, `[waits, polled]` (how often it waited for the host,
 * and how many of those waits polled before sleeping), checked: what a sandbox says is only
 * reported, and anything but two safe counts with `polled <= waits` is dropped.
 */
export function bridgeCounts(b: unknown): { waits: number; polled: number } | undefined {
  const count = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  return Array.isArray(b) && b.length === 2 && count(b[0]) && count(b[1]) && b[1] <= b[0] ? { waits: b[0], polled: b[1] } : undefined;
}
