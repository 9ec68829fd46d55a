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
  /**
   * Ends the call early, with TIMEOUT when its deadline passed (`expire`) or CANCELLED when its
   * signal aborted (`cancel`). Called once, after the call left the set.
   */
  end(how: 'expire' | 'cancel'): void;
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
  /** Armed while a call with a deadline may be in flight; ref'd only while one is. */
  #timer: NodeJS.Timeout | undefined;
  /** When the timer fires (`performance.now()` clock); Infinity when no timer is armed. */
  #armedFor = Infinity;
  /** Calls in flight with a deadline. */
  #timed = 0;

  /** Adds `call`, ended early by its deadline and by its signal. */
  add(call: InFlightCall): void {
    const signal = call.signal;
    this.#calls.add(call);
    if (call.deadline !== Infinity) {
      this.#timed++;
      if (call.deadline < this.#armedFor - SLACK_MS) this.#arm(call.deadline);
      // A pending call keeps the process alive until it settles or times out, as its own timer did.
      else this.#timer!.ref();
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

  /**
   * Takes `call` out (it settled, or is being ended early). Returns false when it had already
   * left, so a settlement racing an expiry or a cancellation finds it gone.
   */
  delete(call: InFlightCall): boolean {
    if (!this.#calls.delete(call)) return false;
    // Out of its signal's set too: a call that expired may never settle (its backend ignored the signal).
    if (call.signal) this.#bySignal.get(call.signal)?.delete(call);
    // Left armed, not cleared: the next call most likely has the same deadline and needs no new timer.
    if (call.deadline !== Infinity && --this.#timed === 0) this.#timer?.unref();
    return true;
  }

  #arm(at: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#armedFor = at;
    this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(at - performance.now())));
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = performance.now();
    const due: InFlightCall[] = [];
    let next = Infinity;
    for (const call of this.#calls) {
      if (call.deadline === Infinity) continue;
      if (call.deadline <= now) due.push(call);
      else if (call.deadline < next) next = call.deadline;
    }
    for (const call of due) if (this.delete(call)) call.end('expire');
    // An expiry may have started a call (a backend's abort listener), which armed the timer
    // already: re-armed only for an earlier deadline.
    if (this.#timed > 0 && next < this.#armedFor - SLACK_MS) this.#arm(next);
  };

  #abortAll(calls: Set<InFlightCall>): void {
    for (const call of [...calls]) if (this.delete(call)) call.end('cancel');
  }
}
