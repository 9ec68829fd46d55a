/**
 * Whether a sandbox may poll for its replies instead of sleeping: polling spares both sides a
 * wake-up (tens of microseconds of CPU on a virtual machine), but only pays while a core is free
 * for the poller. `running` is the number of jobs this process has running in that runtime's
 * sandboxes; the machine's own load (the 1-minute load average, read at most once a second) says
 * whether other processes leave a core free: on a shared, busy machine a polling sandbox takes
 * CPU from the host thread that is computing its reply, and every execution gets slower.
 *
 * Off by default (`TOOLEXEC_SANDBOX_POLL=never`): measured on this 2-core VM with other work
 * running, `auto` gave 136–344 µs per sequential QuickJS call and `always` 367–406 µs, against
 * 111–145 µs without polling (the 1-minute load average lags the load that matters, and a poller
 * that guesses wrong takes the core the host needs to compute its reply). `auto` polls while the
 * load average leaves a core free; `always` whenever fewer jobs than cores run. Set one of them
 * on a host with cores to spare.
 */
import { availableParallelism, loadavg } from 'node:os';

const CORES = availableParallelism();
let checkedAt = 0;
let othersBusy = false;

const MODE = process.env.TOOLEXEC_SANDBOX_POLL === 'auto' || process.env.TOOLEXEC_SANDBOX_POLL === 'always' ? process.env.TOOLEXEC_SANDBOX_POLL : 'never';

export function mayPoll(running: number): boolean {
  if (running >= CORES || MODE === 'never') return false;
  if (MODE === 'always') return true;
  const now = Date.now();
  if (now - checkedAt >= 1000) {
    checkedAt = now;
    // This process's own running jobs and host thread are part of the load average.
    othersBusy = (loadavg()[0] ?? 0) > CORES - 1 + running;
  }
  return !othersBusy;
}
