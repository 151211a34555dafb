/**
 * The replicated key-value state machine: the session layer (core/kv-state-machine.ts, exactly-once
 * client requests, Raft thesis 6.3) over the storage component's key-value model (revisions,
 * transactions, ranges, events, leases), kept in an ordered engine with the layout of kv-layout.ts.
 * Every replica applies the committed entries in log order; replicas that applied the same entries
 * hold byte-identical engines.
 *
 * One way to apply an entry (`applyRequest`), two hosts of it:
 * - `DurableKvMachine`: any `KvEngine` (LevelDB on a node, `MemoryKvEngine` in a simulation), behind a
 *   write-back cache (`CachedKvEngine`). Before a request executes, the keys and ranges it reads are
 *   loaded into a small in-memory buffer (kv-layout.ts `planReads`; hot keys come from the cache), the
 *   request executes synchronously against that buffer, and its writes are staged as one batch together
 *   with the applied index. The result is answered at once; the batch reaches the engine in the
 *   background, in order, as one atomic engine batch (possibly merged with the next ones). The Raft log
 *   is durable, so the engine may lag: after a crash it holds entries 1..n for some n up to the applied
 *   index and none of the later ones, and the host replays n+1.. from the log (exactly once across
 *   restarts). Ranges, watches, snapshots and digests wait for the staged batches, so they see exactly
 *   what was applied; a failed background write fails every later operation and `flushed()`.
 * - `KvStateMachine`: a `MemoryKvEngine` read and written synchronously, for synchronous hosts.
 *
 * Every log index is applied, the leader's no-ops and membership entries included (as empty batches),
 * so the applied index is the Raft index. An entry that does not decode is applied as a no-op on every
 * replica alike.
 */
import { codec } from '../../runtime/codec.js';
import { assert } from '../../runtime/errors.js';
import {
  CachedKvEngine,
  LevelKvEngine,
  MemoryKvEngine,
  digestOf,
  executeKvCommand,
  kvLimits,
  readSnapshot,
  type Disk,
  type CachedKvEngineLimits,
  type KvEngine,
  type KvEngineEntry,
  type KvEngineWrite,
  type KvLimits,
  type KvModelState,
  type SnapshotWriter,
  type StateDigest,
} from '../storage/index.js';
import { SessionActivity, decideSession, type KvApplied, type KvRequest } from './core/kv-state-machine.js';
import type { Entry } from './core/types.js';
import { decodeKvRequest } from './kv-codec.js';
import {
  LayoutView,
  decodeEvents,
  decodeLease,
  decodeModelState,
  decodeSession,
  encodeSession,
  eventRange,
  isUserKey,
  leaseRange,
  leaseReads,
  mutationWrites,
  planReads,
  revisionOfEventKey,
  sessionKey,
  sessionRange,
  stateKey,
  type OrderedReader,
} from './kv-layout.js';
import { selectEvents, type KvWatchPoll, type KvWatchReply } from './kv-watch.js';

/** What applying one committed entry did. `request` is null for entries that carry none. */
export interface AppliedEntry {
  readonly index: number;
  readonly request: KvRequest | null;
  readonly applied: KvApplied | null;
}

/** The state machine as plain data (engine pairs in key order), for snapshots of synchronous hosts. */
export interface KvSnapshot {
  readonly appliedIndex: number;
  readonly pairs: readonly KvEngineEntry[];
}

/** The result of one request: its answer, the engine writes, and the model state after it. */
interface RequestOutcome {
  readonly applied: KvApplied;
  readonly writes: KvEngineWrite[];
  readonly state: KvModelState;
}

/**
 * Applies one request at `index` against `view`: the session decides whether it executes; if it
 * does, the model executes it and the session records its result. Pure apart from `activity`, the
 * in-memory eviction order, which moves the same way on every replica.
 */
export function applyRequest(view: LayoutView, state: KvModelState, activity: SessionActivity, index: number, request: KvRequest, limits: KvLimits): RequestOutcome {
  const session = request.clientId === undefined ? undefined : view.session(request.clientId);
  const decision = decideSession(session, request);
  if (decision.kind === 'answer') return { applied: decision.applied, writes: [], state };
  const execution = executeKvCommand(view, state, request.command, limits);
  const writes = mutationWrites(execution.mutations);
  if (execution.state !== state) writes.push({ type: 'put', key: stateKey, value: encodeState(execution.state) });
  if (request.clientId !== undefined && request.sequence !== undefined) {
    writes.push({ type: 'put', key: sessionKey(request.clientId), value: encodeSession({ clientId: request.clientId, sequence: request.sequence, result: execution.result, lastIndex: index }) });
    const forgotten = activity.touch(request.clientId, index, limits.sessionsMax);
    if (forgotten !== undefined) writes.push({ type: 'delete', key: sessionKey(forgotten) });
  }
  return { applied: { result: execution.result, duplicate: false }, writes, state: execution.state };
}

function encodeState(state: KvModelState): Uint8Array {
  return codec.encode(state);
}

/** The request an entry carries: null for no-ops, membership changes and undecodable data. */
export function requestOf(entry: Entry): KvRequest | null {
  if (entry.type !== 'normal' || entry.data.byteLength === 0) return null;
  const decoded = decodeKvRequest(entry.data);
  return decoded.ok ? decoded.request : null;
}

/** Pairs loaded per batch when restoring a snapshot. */
const restoreBatchPairsMax = 1_000;
/** Sessions read per range when loading the eviction order. */
const loadBatchMax = 1_000;

/** The KV state of one replica over an engine. Create with `DurableKvMachine.open` (LevelDB) or `over`. */
export class DurableKvMachine {
  readonly limits: KvLimits;
  readonly #engine: CachedKvEngine;
  readonly #activity = new SessionActivity();
  #state: KvModelState;

  private constructor(engine: CachedKvEngine, limits: KvLimits, state: KvModelState) {
    this.#engine = engine;
    this.limits = limits;
    this.#state = state;
  }

  /** Opens (creating if missing) the LevelDB database at `location`. */
  static async open(location: string, limits: Partial<KvLimits> = {}, cacheLimits: Partial<CachedKvEngineLimits> = {}): Promise<DurableKvMachine> {
    return DurableKvMachine.over(await LevelKvEngine.open(location), limits, cacheLimits);
  }

  /** A machine over an open engine (for example a `MemoryKvEngine` in a simulation), behind a write-back cache. */
  static async over(engine: KvEngine, limits: Partial<KvLimits> = {}, cacheLimits: Partial<CachedKvEngineLimits> = {}): Promise<DurableKvMachine> {
    const machine = new DurableKvMachine(new CachedKvEngine(engine, cacheLimits), { ...kvLimits, ...limits }, decodeModelState(undefined));
    if (engine.restoringIndex === undefined) await machine.#load();
    return machine;
  }

  /** Index of the last entry applied (its effects may still be on their way to the engine). */
  get appliedIndex(): number { return this.#engine.appliedIndex; }
  /** Index of the last entry whose effects are in the engine (what a crash now keeps, at most). */
  get writtenIndex(): number { return this.#engine.writtenIndex; }
  /** Whether a snapshot restore was interrupted: the state must be restored again before use. */
  get needsRestore(): boolean { return this.#engine.restoringIndex !== undefined; }
  get sessions(): number { return this.#activity.size; }
  /** The model's revision, compacted revision and lease counters. */
  get modelState(): KvModelState { return this.#state; }

  /**
   * Applies committed entries in order and resolves with their results once executed; their writes
   * reach the engine in the background (`flushed`). Entries at or below the applied index were applied
   * before a restart and are skipped; the rest must continue from it. While the unwritten writes are past
   * their bound, it waits for the engine before executing more.
   */
  async apply(entries: readonly Entry[]): Promise<AppliedEntry[]> {
    const results: AppliedEntry[] = [];
    let skipped: number | undefined;
    for (const entry of entries) {
      if (entry.index <= this.appliedIndex) continue;
      assert(entry.index === (skipped ?? this.appliedIndex) + 1, 'entries are applied in log order, once', { index: entry.index, applied: this.appliedIndex });
      const request = requestOf(entry);
      if (request === null) {
        // No-ops are batched into the next write: only the applied index moves.
        skipped = entry.index;
        results.push({ index: entry.index, request: null, applied: null });
        continue;
      }
      if (this.#engine.backlogged) await this.#engine.flushed();
      const view = new LayoutView(await this.#prefetch(request));
      const outcome = applyRequest(view, this.#state, this.#activity, entry.index, request, this.limits);
      await this.#engine.write(outcome.writes, entry.index);
      skipped = undefined;
      this.#state = outcome.state;
      results.push({ index: entry.index, request, applied: outcome.applied });
    }
    if (skipped !== undefined) await this.#engine.write([], skipped);
    return results;
  }

  /**
   * Resolves once the effects of every entry applied so far are in the engine; rejects with the failure
   * of a background write (the replica must then stop and recover from the engine and its log).
   */
  flushed(): Promise<void> { return this.#engine.flushed(); }

  /** Serves a read-only request outside the log (after ReadIndex): a transaction of ranges and compares. */
  async read(request: KvRequest): Promise<KvApplied['result']> {
    const view = new LayoutView(await this.#prefetch({ command: request.command }));
    return executeKvCommand(view, this.#state, request.command, this.limits).result;
  }

  /** The events a watch asks for, from this replica's applied log. */
  async watch(poll: KvWatchPoll): Promise<KvWatchReply> {
    const state = this.#state;
    if (poll.fromRevision <= state.compactRevision) return { ok: false, code: 'COMPACTED', compactRevision: state.compactRevision, revision: state.revision };
    const stored = await this.#engine.range({ ...eventRange(poll.fromRevision), limit: poll.revisionsMax });
    return selectEvents(poll, state, stored.map((entry) => ({ revision: revisionOfEventKey(entry.key), events: decodeEvents(entry.value) })));
  }

  /** Every live lease with its TTL (the leader's lease clock starts from these). */
  async leases(): Promise<Array<{ id: number; ttlMs: number }>> {
    const leases: Array<{ id: number; ttlMs: number }> = [];
    let start = leaseRange.start;
    for (;;) {
      const batch = await this.#engine.range({ start, end: leaseRange.end, limit: loadBatchMax });
      for (const entry of batch) leases.push(decodeLease(entry.key, entry.value));
      if (batch.length < loadBatchMax) return leases.map(({ id, ttlMs }) => ({ id, ttlMs }));
      start = Uint8Array.of(...batch[batch.length - 1]!.key, 0);
    }
  }

  /** Writes the whole state into `writer` from one consistent view; returns the index it covers. */
  writeSnapshot(writer: SnapshotWriter): Promise<number> {
    return this.#engine.exportState({ onIndex: (index) => writer.begin(index), onPair: (pair) => writer.add(pair.key, pair.value) });
  }

  /** Replaces the whole state with the snapshot file at `filePath` (verified while read). */
  async restore(disk: Disk, filePath: string, index: number): Promise<void> {
    await this.#engine.beginRestore(index);
    let pairs: KvEngineEntry[] = [];
    const info = await readSnapshot(disk, filePath, async (key, value) => {
      pairs.push({ key, value });
      if (pairs.length >= restoreBatchPairsMax) {
        await this.#engine.loadPairs(pairs);
        pairs = [];
      }
    });
    assert(info.index === index, 'snapshot file covers another index', { expected: index, found: info.index });
    if (pairs.length > 0) await this.#engine.loadPairs(pairs);
    await this.#engine.finishRestore();
    await this.#load();
  }

  /** SHA-256 of the whole state with the index it reflects (replicas at one index must agree); `keys` counts user keys. */
  digest(): Promise<StateDigest> { return digestOf(this.#engine, isUserKey); }

  close(): Promise<void> { return this.#engine.close(); }

  /** Loads what `request` reads into a buffer the model can read synchronously. */
  async #prefetch(request: KvRequest): Promise<OrderedReader> {
    const buffer = new MemoryKvEngine();
    const plan = planReads(request, this.limits);
    const loaded: KvEngineEntry[] = [];
    const found = await Promise.all(plan.keys.map(async (key) => ({ key, value: await this.#engine.read(key) })));
    for (const { key, value } of found) if (value !== undefined) loaded.push({ key, value });
    for (const range of plan.ranges) loaded.push(...(await this.#engine.range(range)));
    const leases = await Promise.all(leaseReads(loaded).map(async (key) => ({ key, value: await this.#engine.read(key) })));
    for (const { key, value } of leases) if (value !== undefined) loaded.push({ key, value });
    buffer.writeSync(loaded.map((entry) => ({ type: 'put', key: entry.key, value: entry.value })), 0);
    return buffer;
  }

  async #load(): Promise<void> {
    this.#state = decodeModelState(await this.#engine.read(stateKey));
    const sessions: Array<{ clientId: string; lastIndex: number }> = [];
    let start = sessionRange.start;
    for (;;) {
      const batch = await this.#engine.range({ start, end: sessionRange.end, limit: loadBatchMax });
      for (const entry of batch) sessions.push(decodeSession(entry.key.slice(1), entry.value));
      if (batch.length < loadBatchMax) break;
      start = Uint8Array.of(...batch[batch.length - 1]!.key, 0);
    }
    this.#activity.load(sessions);
  }
}

/** The KV state of one replica in memory, applied synchronously (for synchronous hosts and tests). */
export class KvStateMachine {
  readonly limits: KvLimits;
  readonly #engine = new MemoryKvEngine();
  readonly #activity = new SessionActivity();
  #state: KvModelState = decodeModelState(undefined);

  constructor(limits: Partial<KvLimits> = {}) {
    this.limits = { ...kvLimits, ...limits };
  }

  /** Rebuilds a state machine from a snapshot. */
  static restore(snapshot: KvSnapshot, limits: Partial<KvLimits> = {}): KvStateMachine {
    const machine = new KvStateMachine(limits);
    machine.#engine.writeSync(snapshot.pairs.map((pair) => ({ type: 'put', key: pair.key, value: pair.value })), snapshot.appliedIndex);
    machine.#state = decodeModelState(machine.#engine.readSync(stateKey));
    machine.#activity.load(machine.#engine.rangeSync({ ...sessionRange, limit: Number.MAX_SAFE_INTEGER }).map((entry) => decodeSession(entry.key.slice(1), entry.value)));
    return machine;
  }

  get appliedIndex(): number { return this.#engine.appliedIndex; }
  get modelState(): KvModelState { return this.#state; }

  /** Marks a log entry that carries no request (a leader's no-op, a membership change) as applied. */
  skip(index: number): void {
    this.#advance(index);
    this.#engine.writeSync([], index);
  }

  /** Applies the request committed at `index`, exactly once per (client, sequence). */
  apply(index: number, request: KvRequest): KvApplied {
    this.#advance(index);
    const outcome = applyRequest(new LayoutView(this.#engine), this.#state, this.#activity, index, request, this.limits);
    this.#engine.writeSync(outcome.writes, index);
    this.#state = outcome.state;
    return outcome.applied;
  }

  /** Serves a read-only request outside the log (after ReadIndex). */
  read(request: KvRequest): KvApplied['result'] {
    return executeKvCommand(new LayoutView(this.#engine), this.#state, request.command, this.limits).result;
  }

  /** The events a watch asks for. */
  watch(poll: KvWatchPoll): KvWatchReply {
    const state = this.#state;
    if (poll.fromRevision <= state.compactRevision) return { ok: false, code: 'COMPACTED', compactRevision: state.compactRevision, revision: state.revision };
    const stored = this.#engine.rangeSync({ ...eventRange(poll.fromRevision), limit: poll.revisionsMax });
    return selectEvents(poll, state, stored.map((entry) => ({ revision: revisionOfEventKey(entry.key), events: decodeEvents(entry.value) })));
  }

  /** The whole state as plain data. */
  snapshot(): KvSnapshot {
    return { appliedIndex: this.appliedIndex, pairs: this.#engine.rangeSync({ start: new Uint8Array(0), limit: Number.MAX_SAFE_INTEGER }) };
  }

  /** SHA-256 of the whole state; `keys` counts user keys. */
  digest(): Promise<StateDigest> { return digestOf(this.#engine, isUserKey); }

  #advance(index: number): void {
    assert(index > this.appliedIndex, 'entries are applied in log order, once', { index, applied: this.appliedIndex });
  }
}
