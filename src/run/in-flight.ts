/**
 * The calls a Runner has in flight, with what can end them early: their deadline and the
 * caller's `AbortSignal`. One timer per runner instead of one per call, and one `abort` listener
 * per signal instead of one per call.
 *
 * Why: a sequential tool call from a script costs tens of microseconds end to end, and a
 * `setTimeout`/`clearTimeout` pair plus an `addEventListener`/`removeEventListener` pair were
 * about a tenth of the host's share of it (CPU profile of a 1,000-call QuickJS script). A code
 * execution's calls all share the execution's deadline and signal, so after the first call
 * neither the timer nor the listener changes. It also keeps a signal shared by many concurrent
 * calls at one listener, where one each set off Node's "possible EventTarget memory leak" warning
 * past ten.
 */

/** One call in flight. `deadline` is on the `performance.now()` clock; `Infinity` for none. */
export interface InFlightCall {
  readonly deadline: number;
  /** The caller's signal; it must not be aborted yet when the call is added. */
  readonly signal: AbortSignal | undefined;
  /** The deadline passed: end the call with TIMEOUT. Called once, after the call left the set. */
  expire(): void;
  /** The caller's signal aborted: end the call with CANCELLED. Called once, after the call left the set. */
  cancel(): void;
}

/**
 * A deadline that comes less than this before the one the timer is armed for does not re-arm it:
 * the timer fires at the armed time, finds that call overdue and ends it then. Node's timers
 * have a millisecond's granularity anyway, and the calls of one execution get deadlines that
 * differ by the float rounding of `now + (deadline - now)`.
 */
const SLACK_MS = 1;

export class InFlightCalls {
  readonly #calls = new Set<InFlightCall>();
  readonly #bySignal = new WeakMap<AbortSignal, Set<InFlightCall>>();
  #timer: NodeJS.Timeout | undefined;
  /** When the timer fires (`performance.now()` clock); Infinity when no timer is armed. */
  #armedFor = Infinity;
  /** Whether the timer keeps the process alive (only while a call with a deadline is in flight). */
  #refed = false;
  /** Calls in flight with a deadline. */
  #timed = 0;

  /** Adds `call`, ended early by its deadline and by its signal. */
  add(call: InFlightCall): void {
    const signal = call.signal;
    this.#calls.add(call);
    if (call.deadline !== Infinity) {
      this.#timed++;
      if (call.deadline < this.#armedFor - SLACK_MS) this.#arm(call.deadline);
      else if (!this.#refed) {
        // A pending call keeps the process alive until it settles or times out, as its own timer did.
        this.#timer!.ref();
        this.#refed = true;
      }
    }
    if (signal) {
      let set = this.#bySignal.get(signal);
      if (!set) {
        set = new Set();
        this.#bySignal.set(signal, set);
        const calls = set;
        // Never removed: it lives as long as the signal, and ends whichever calls are then in flight.
        signal.addEventListener('abort', () => this.#abortAll(calls), { once: true });
      }
      set.add(call);
    }
  }

  /** Takes `call` out (it settled). Returns false when it had already left (expired or cancelled). */
  delete(call: InFlightCall): boolean {
    if (!this.#calls.delete(call)) return false;
    if (call.signal) this.#bySignal.get(call.signal)?.delete(call);
    if (call.deadline !== Infinity && --this.#timed === 0 && this.#refed) {
      // Left armed, not cleared: the next call most likely has the same deadline and needs no new timer.
      this.#timer!.unref();
      this.#refed = false;
    }
    return true;
  }

  #arm(at: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#armedFor = at;
    this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(at - performance.now())));
    this.#refed = true;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    this.#refed = false;
    const now = performance.now();
    const due: InFlightCall[] = [];
    let next = Infinity;
    for (const call of this.#calls) {
      if (call.deadline === Infinity) continue;
      if (call.deadline <= now) due.push(call);
      else if (call.deadline < next) next = call.deadline;
    }
    for (const call of due) this.#end(call, 'expire');
    // An `expire` may have started a call (a backend's abort listener), which armed the timer
    // already: re-armed only for an earlier deadline.
    if (this.#timed > 0 && next < this.#armedFor - SLACK_MS) this.#arm(next);
  };

  #abortAll(calls: Set<InFlightCall>): void {
    const all = [...calls];
    calls.clear();
    for (const call of all) this.#end(call, 'cancel');
  }

  /** Ends `call` early, once: it leaves every set first, so a settlement racing it finds it gone. */
  #end(call: InFlightCall, how: 'expire' | 'cancel'): void {
    if (!this.#calls.delete(call)) return;
    if (call.deadline !== Infinity && --this.#timed === 0 && this.#timer && this.#refed) {
      this.#timer.unref();
      this.#refed = false;
    }
    // Out of its signal's set too: a backend that ignores the timeout may never settle.
    if (how === 'expire' && call.signal) this.#bySignal.get(call.signal)?.delete(call);
    if (how === 'expire') call.expire();
    else call.cancel();
  }
}
