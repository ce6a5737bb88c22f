/** The deadline-aware `AbortSignal` of a term or a held lock: reading it checks the lease deadline. */
const abortedOf = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')!.get!;
const reasonOf = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'reason')!.get!;

/**
 * Makes `signal` check `stillValid` whenever user code reads it (`aborted`, `reason`,
 * `throwIfAborted()`), so that the first callback to run after a pause past the lease deadline —
 * whichever timer or event wakes it — sees the term as ended: `stillValid` declares the loss,
 * which aborts the signal, before the read returns. Event listeners and `AbortSignal.any` work
 * as on any signal: it stays a real `AbortSignal`.
 */
export function deadlineAware(signal: AbortSignal, stillValid: () => boolean): AbortSignal {
  const check = () => {
    if (!abortedOf.call(signal)) stillValid();
  };
  Object.defineProperties(signal, {
    aborted: {
      configurable: true,
      get: () => {
        check();
        return abortedOf.call(signal) as boolean;
      },
    },
    reason: {
      configurable: true,
      get: () => {
        check();
        return reasonOf.call(signal) as unknown;
      },
    },
    throwIfAborted: {
      configurable: true,
      value: () => {
        check();
        if (abortedOf.call(signal)) throw reasonOf.call(signal);
      },
    },
  });
  return signal;
}
