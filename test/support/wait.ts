/**
 * Waiting on a condition with a deadline: the only way tests synchronise with asynchronous work
 * (never a bare sleep). The deadline is a failure bound, not a timing assertion.
 */

/** Polls `condition` until it returns a truthy value or `timeoutMs` passes; returns that value. */
export async function waitFor<T>(condition: () => T | Promise<T>, options: { timeoutMs?: number; what?: string; intervalMs?: number } = {}): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  let polls = 0;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what ?? 'condition'}`);
    polls += 1;
    // Yield to the event loop: immediates first, then a short timer once polling has gone on a while;
    // a condition that costs a query polls every `intervalMs` instead.
    const pauseMs = options.intervalMs ?? (polls < 200 ? 0 : 5);
    await new Promise<void>((resolve) => (pauseMs === 0 ? setImmediate(resolve) : setTimeout(resolve, pauseMs)));
  }
}

/** Lets queued immediates and I/O callbacks run (for virtual-clock tests between `advance` calls). */
export async function flush(rounds = 20): Promise<void> {
  for (let round = 0; round < rounds; round += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}
