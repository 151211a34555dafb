/**
 * A write-back cache in front of a `KvEngine`, for a state machine whose durability comes from a log
 * of its own (the Raft log): the engine may lag behind what was applied, and is caught up by replay
 * from its applied index after a crash, as etcd's backend commits bbolt in batches and replays from
 * its consistent index.
 *
 * - `write` stages a batch and returns at once: reads through this engine see it from then on, and
 *   the batch reaches the engine below in the background, in order, coalesced with the batches staged
 *   while an earlier one was being written (each written batch is still one atomic engine batch that
 *   carries the applied index of its last part, so the engine below holds a prefix of the staged
 *   batches after any crash, never a part of one).
 * - Point reads are served from the staged (unwritten) values, then from a bounded cache of recently
 *   read and written keys, and only then from the engine below. A range that covers a single key is a
 *   point read; any other range, an export, a digest and a restore first wait until every staged
 *   batch is in the engine below, so they see exactly what was applied.
 * - Fail-stop: once a background write fails, every later call rejects with that failure (the
 *   engine below may hold any prefix of the batches), and `flushed()` reports it. The owner stops and
 *   recovers from the engine's applied index and its log.
 *
 * The conformance suite of `KvEngine` runs against it (test/unit/storage/kv-engine-conformance.test.ts).
 */
import { assert } from '../../runtime/index.js';
import { digestOf, type KvEngine, type KvEngineEntry, type KvEngineRange, type KvEngineWrite, type StateDigest, type StateVisitor } from './kv-engine.js';
import { hex } from './kv-model.js';

/** Bounds of the cache; each says what happens at it. */
export interface CachedKvEngineLimits {
  /** Written keys (and known-absent keys) kept for reads; past it the least recently used is dropped. */
  readonly cachedKeysMax: number;
  /** Bytes of written keys and values kept for reads; past it the least recently used are dropped. */
  readonly cachedBytesMax: number;
  /** Bytes staged but not yet in the engine below; past it `backlogged` is true and writers wait for `flushed()`. */
  readonly unwrittenBytesMax: number;
}

/** Default bounds. */
export const cachedKvEngineLimits: CachedKvEngineLimits = {
  cachedKeysMax: 100_000,
  cachedBytesMax: 32 * 1024 * 1024,
  unwrittenBytesMax: 16 * 1024 * 1024,
};

/** Bytes charged per cached or staged key beyond its key and value (map entries, strings). */
const entryOverheadBytes = 64;

/** A staged value not yet in the engine below (`null`: deleted), and the stage that wrote it last. */
interface Unwritten {
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
  readonly stage: number;
}

/** A caller of `flushed()`, waiting for every batch staged up to `stage`. */
interface FlushWaiter {
  readonly stage: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** A `KvEngine` whose writes reach `engine` in the background; see the module comment. */
export class CachedKvEngine implements KvEngine {
  readonly limits: CachedKvEngineLimits;
  readonly #engine: KvEngine;
  /** Keys written or read, in least-recently-used order; `null`: known absent. */
  readonly #cached = new Map<string, Uint8Array | null>();
  #cachedBytes = 0;
  /** Values staged and not yet in the engine below, by hex key. */
  readonly #unwritten = new Map<string, Unwritten>();
  #unwrittenBytes = 0;
  /** Batches staged and not yet handed to the engine below, merged in order. */
  #staged: KvEngineWrite[] = [];
  #stagedIndex: number | undefined;
  /** Stages so far (a stage is one `write` or one restore); `#writtenStage` of them are in the engine below. */
  #stage = 0;
  #writtenStage = 0;
  #appliedIndex: number;
  #writing = false;
  #waiters: FlushWaiter[] = [];
  #failure: { readonly error: unknown } | undefined;

  constructor(engine: KvEngine, limits: Partial<CachedKvEngineLimits> = {}) {
    this.#engine = engine;
    this.limits = { ...cachedKvEngineLimits, ...limits };
    this.#appliedIndex = engine.appliedIndex;
  }

  /** Index of the last batch staged: what reads through this engine reflect. */
  get appliedIndex(): number { return this.#appliedIndex; }
  /** Index of the last batch in the engine below (what survives a crash now, at most). */
  get writtenIndex(): number { return this.#engine.appliedIndex; }
  get restoringIndex(): number | undefined { return this.#engine.restoringIndex; }
  /** Bytes staged and not yet in the engine below. */
  get unwrittenBytes(): number { return this.#unwrittenBytes; }
  /** Whether the unwritten bytes passed their bound: the writer should wait for `flushed()` before staging more. */
  get backlogged(): boolean { return this.#unwrittenBytes > this.limits.unwrittenBytesMax; }
  /** Keys held for reads (for tests and inspection). */
  get cachedKeys(): number { return this.#cached.size; }

  async read(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.#checkUsable();
    const name = hex(key);
    const unwritten = this.#unwritten.get(name);
    if (unwritten !== undefined) return unwritten.value ?? undefined;
    const cached = this.#cached.get(name);
    if (cached !== undefined) {
      // Most recently used goes last.
      this.#cached.delete(name);
      this.#cached.set(name, cached);
      return cached ?? undefined;
    }
    const stage = this.#stage;
    const value = await this.#engine.read(key);
    // Only a value nothing was staged over meanwhile is current enough to keep.
    if (stage === this.#stage && !this.#cached.has(name)) this.#remember(name, key, value ?? null);
    return value;
  }

  async range(range: KvEngineRange): Promise<KvEngineEntry[]> {
    if (range.limit >= 1 && coversOneKey(range)) {
      const value = await this.read(range.start);
      return value === undefined ? [] : [{ key: range.start, value }];
    }
    await this.#settled();
    return this.#engine.range(range);
  }

  /** Stages `writes` at `appliedIndex`: visible to reads at once, written to the engine below in the background. */
  async write(writes: readonly KvEngineWrite[], appliedIndex: number): Promise<void> {
    this.#checkUsable();
    assert(this.#engine.restoringIndex === undefined, 'write during an unfinished restore');
    assert(appliedIndex >= this.#appliedIndex, 'the applied index never moves back', { appliedIndex, current: this.#appliedIndex });
    this.#stage += 1;
    for (const write of writes) {
      const name = hex(write.key);
      this.#forget(name);
      const previous = this.#unwritten.get(name);
      if (previous === undefined) this.#unwrittenBytes += write.key.length + entryOverheadBytes;
      else this.#unwrittenBytes -= previous.value?.length ?? 0;
      const value = write.type === 'put' ? write.value : null;
      this.#unwrittenBytes += value?.length ?? 0;
      this.#unwritten.set(name, { key: write.key, value, stage: this.#stage });
      this.#staged.push(write);
    }
    this.#stagedIndex = appliedIndex;
    this.#appliedIndex = appliedIndex;
    if (!this.#writing) void this.#writeStaged();
  }

  /** Resolves once every batch staged before the call is in the engine below; rejects with a failed write. */
  flushed(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure.error);
    if (this.#writtenStage >= this.#stage) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ stage: this.#stage, resolve, reject }));
  }

  async exportState(visitor: StateVisitor): Promise<number> {
    await this.#settled();
    return this.#engine.exportState(visitor);
  }

  digest(): Promise<StateDigest> { return digestOf(this); }

  async beginRestore(index: number): Promise<void> {
    await this.#settled();
    // Reads that started before the restore must not fill the cache with the old state.
    this.#stage += 1;
    this.#writtenStage = this.#stage;
    this.#cached.clear();
    this.#cachedBytes = 0;
    await this.#engine.beginRestore(index);
    this.#appliedIndex = this.#engine.appliedIndex;
  }

  async loadPairs(pairs: readonly KvEngineEntry[]): Promise<void> {
    this.#checkUsable();
    await this.#engine.loadPairs(pairs);
  }

  async finishRestore(): Promise<void> {
    this.#checkUsable();
    await this.#engine.finishRestore();
    this.#appliedIndex = this.#engine.appliedIndex;
  }

  /** Writes what is staged (unless a write failed), then closes the engine below. */
  async close(): Promise<void> {
    if (this.#failure === undefined) await this.#settled().catch(() => undefined);
    await this.#engine.close();
  }

  /** Waits until nothing is staged or being written, so the engine below holds exactly what was applied. */
  async #settled(): Promise<void> {
    this.#checkUsable();
    while (this.#writtenStage < this.#stage) await this.flushed();
  }

  /** Hands the staged batches to the engine below, one merged batch at a time, until none is left. */
  async #writeStaged(): Promise<void> {
    this.#writing = true;
    while (this.#stagedIndex !== undefined && this.#failure === undefined) {
      const writes = this.#staged;
      const index = this.#stagedIndex;
      const stage = this.#stage;
      this.#staged = [];
      this.#stagedIndex = undefined;
      try {
        await this.#engine.write(writes, index);
      } catch (error) {
        this.#fail(error);
        break;
      }
      this.#written(writes, stage);
    }
    // Set in the same turn as the last check above, so a batch staged after it starts a new writer.
    this.#writing = false;
  }

  /** `writes`, every stage up to `stage`, are in the engine below: their keys move to the read cache, and waiters resume. */
  #written(writes: readonly KvEngineWrite[], stage: number): void {
    for (const write of writes) {
      const name = hex(write.key);
      const unwritten = this.#unwritten.get(name);
      // Absent: an earlier write of the same batch moved it; a later stage: still to be written.
      if (unwritten === undefined || unwritten.stage > stage) continue;
      this.#unwritten.delete(name);
      this.#unwrittenBytes -= unwritten.key.length + entryOverheadBytes + (unwritten.value?.length ?? 0);
      this.#remember(name, unwritten.key, unwritten.value);
    }
    this.#writtenStage = Math.max(this.#writtenStage, stage);
    const due = this.#waiters.filter((waiter) => waiter.stage <= stage);
    this.#waiters = this.#waiters.filter((waiter) => waiter.stage > stage);
    for (const waiter of due) waiter.resolve();
  }

  #fail(error: unknown): void {
    this.#failure = { error };
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  #checkUsable(): void {
    if (this.#failure !== undefined) throw this.#failure.error;
  }

  #remember(name: string, key: Uint8Array, value: Uint8Array | null): void {
    this.#forget(name);
    this.#cached.set(name, value);
    this.#cachedBytes += key.length + (value?.length ?? 0) + entryOverheadBytes;
    for (const [oldest, oldValue] of this.#cached) {
      if (this.#cached.size <= this.limits.cachedKeysMax && this.#cachedBytes <= this.limits.cachedBytesMax) break;
      this.#cached.delete(oldest);
      this.#cachedBytes -= oldest.length / 2 + (oldValue?.length ?? 0) + entryOverheadBytes;
    }
  }

  #forget(name: string): void {
    const cached = this.#cached.get(name);
    if (cached === undefined) return;
    this.#cached.delete(name);
    this.#cachedBytes -= name.length / 2 + (cached?.length ?? 0) + entryOverheadBytes;
  }
}

/** Whether `range` can hold only the key `start` itself: it ends at `start` followed by a zero byte. */
function coversOneKey(range: KvEngineRange): boolean {
  const { start, end } = range;
  if (end === undefined || end.length !== start.length + 1 || end[start.length] !== 0) return false;
  for (let position = 0; position < start.length; position += 1) if (end[position] !== start[position]) return false;
  return true;
}
