/**
 * A seeded pseudo-random generator (sfc32 seeded through splitmix32), so that backoff jitter, ids in
 * simulations and election timeouts replay exactly from a seed. Not for cryptography.
 */

/** A deterministic random source. */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [minimum, maximum] inclusive. */
  int(minimum: number, maximum: number): number;
  /** The seed this generator started from. */
  readonly seed: number;
}

/** Creates a generator from a 32-bit seed. */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const splitmix = (): number => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const nextUint32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  return {
    seed: seed >>> 0,
    next: () => nextUint32() / 4294967296,
    int: (minimum, maximum) => minimum + Math.floor((nextUint32() / 4294967296) * (maximum - minimum + 1)),
  };
}

/** A seed from the environment (`SEED=...`) or a fresh one; callers print it so a failure replays. */
export function seedFromEnvironment(): number {
  const fromEnvironment = process.env.SEED;
  if (fromEnvironment !== undefined && fromEnvironment !== '') return Number(fromEnvironment) >>> 0;
  return (Math.random() * 4294967296) >>> 0;
}
