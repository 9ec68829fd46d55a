/**
 * Resolves like `promise` but rejects as soon as `signal` aborts, with `reason(signal)` (the
 * signal's own reason by default). The work behind `promise` goes on: for a shared attempt (a
 * connection several callers wait for) or work that cannot be stopped (a DNS lookup).
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined, reason: (signal: AbortSignal) => unknown = (s) => s.reason): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(reason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(reason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
