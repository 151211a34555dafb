/**
 * A simulated inference backend for the routing simulation and the many-backend bench: its prefill
 * takes time proportional to the prompt tokens its cache does not hold, its cache is an LRU of prefix
 * blocks bounded by a capacity, it serves one request at a time in arrival order, and a restart
 * (a new boot id) empties the cache; eviction is LRU, a prefix's tail before its head. It reports what a real one reports: cached prompt tokens per
 * request, its boot id and its cache occupancy.
 */

/** Speeds and sizes of a simulated backend. */
export interface SimulatedBackendOptions {
  readonly id: string;
  readonly capacityBlocks: number;
  readonly blockTokens: number;
  readonly prefillMsPerToken: number;
  readonly decodeMsPerToken: number;
  /** Fixed cost of a request (scheduling, the first decode step). */
  readonly overheadMs: number;
}

/** A request's timing as served. */
export interface ServedTiming {
  readonly cachedTokens: number;
  readonly prefillMs: number;
  readonly firstTokenAtMs: number;
  readonly doneAtMs: number;
}

/** One simulated backend. */
export class SimulatedBackend {
  readonly options: SimulatedBackendOptions;
  up = true;
  boot = 1;
  /** Block key -> last use; Map order is recency order (oldest first). */
  readonly #cache = new Map<number, true>();
  /** When the backend is free to start the next request. */
  #freeAtMs = 0;
  queued = 0;

  constructor(options: SimulatedBackendOptions) {
    this.options = options;
  }

  get bootId(): string {
    return `${this.options.id}-${this.boot}`;
  }

  get cachedTokens(): number {
    return this.#cache.size * this.options.blockTokens;
  }

  /** Leading blocks of `keys` held in the cache. */
  held(keys: readonly number[]): number {
    let count = 0;
    while (count < keys.length && this.#cache.has(keys[count]!)) count += 1;
    return count;
  }

  /** Whether a block is cached (for belief checks). */
  holds(key: number): boolean {
    return this.#cache.has(key);
  }

  /** Serves a request arriving at `nowMs`; its cache learns the prompt and completion at once. */
  serve(nowMs: number, keys: readonly number[], promptTokens: number, outputTokens: number, filledKeys: readonly number[]): ServedTiming {
    const heldBlocks = this.held(keys);
    const cachedTokens = Math.min(promptTokens, heldBlocks * this.options.blockTokens);
    const prefillMs = (promptTokens - cachedTokens) * this.options.prefillMsPerToken;
    const startMs = Math.max(nowMs, this.#freeAtMs);
    const firstTokenAtMs = startMs + this.options.overheadMs + prefillMs;
    const doneAtMs = firstTokenAtMs + outputTokens * this.options.decodeMsPerToken;
    this.#freeAtMs = doneAtMs;
    // Tail first, so a prompt's head is its most recent block: eviction takes a prefix's tail before
    // its head, as a paged cache frees leaf blocks first (vLLM's evictor breaks LRU ties the same way).
    for (let index = filledKeys.length - 1; index >= 0; index -= 1) {
      this.#cache.delete(filledKeys[index]!);
      this.#cache.set(filledKeys[index]!, true);
    }
    while (this.#cache.size > this.options.capacityBlocks) this.#cache.delete(this.#cache.keys().next().value!);
    return { cachedTokens, prefillMs: firstTokenAtMs - nowMs, firstTokenAtMs, doneAtMs };
  }

  /** Drops the oldest `fraction` of the cache (memory pressure from outside the router's view). */
  evict(fraction: number): void {
    const drop = Math.floor(this.#cache.size * fraction);
    for (let index = 0; index < drop; index += 1) this.#cache.delete(this.#cache.keys().next().value!);
  }

  crash(): void {
    this.up = false;
  }

  restart(nowMs: number): void {
    this.up = true;
    this.boot += 1;
    this.#cache.clear();
    this.#freeAtMs = nowMs;
  }
}
