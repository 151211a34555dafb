/**
 * Plain counters the cluster layer keeps for metrics and tests: refusals and drops by stable code.
 * Bounded: codes are a closed set plus a capped number of distinct keys.
 */
const keysMax = 200;

/** Counts by key. */
export class Counters {
  readonly #counts = new Map<string, number>();

  /** Adds `amount` to `key` (keys beyond the cap are folded into `other`). */
  add(key: string, amount = 1): void {
    const name = this.#counts.has(key) || this.#counts.size < keysMax ? key : 'other';
    this.#counts.set(name, (this.#counts.get(name) ?? 0) + amount);
  }

  /** The count of `key` (0 if never counted). */
  get(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  /** Every key with its count. */
  entries(): Array<[string, number]> {
    return [...this.#counts.entries()];
  }
}
