/**
 * The replicated key-value state machine kept in the storage engine's LevelDB (`KvEngine`), with the
 * same semantics as the in-memory `KvStateMachine` of core/kv-state-machine.ts: put, get, delete,
 * compare-and-swap and scan over string keys and values, and exactly-once client requests (Raft
 * thesis 6.3) through a session per client that remembers its last sequence number and that
 * request's result.
 *
 * Exactly once across crashes: committed entries are applied in index order as atomic LevelDB batches
 * that also move the applied index (KvEngine), so after a restart the replica skips every entry at or
 * below the applied index and applies each later one once. Every log index is applied, including the
 * leader's no-ops and membership entries (as empty batches), so the applied index is the Raft index.
 *
 * Key layout in the engine: `d/<key>` holds a user value (UTF-8), `s/<client id>` a session (CBOR of
 * `{ sequence, result, lastIndex }`). Sessions are bounded: past `sessionsMax` the least recently
 * active one (lowest `lastIndex`) is deleted in the same batch, at the same log position on every
 * replica, so replicas stay identical.
 */
import { codec } from '../../runtime/codec.js';
import { assert } from '../../runtime/errors.js';
import { KvEngine, readSnapshot, type Disk, type SnapshotWriter } from '../storage/index.js';
import type { IndexedCommand, KvOperation } from '../storage/index.js';
import {
  invalidCommandReason,
  invalidRequestReason,
  kvDefaultLimits,
  type KvApplied,
  type KvCommand,
  type KvLimits,
  type KvPair,
  type KvRequest,
  type KvResult,
} from './core/kv-state-machine.js';
import type { Entry } from './core/types.js';
import { decodeKvRequest } from './kv-codec.js';

/** What applying one committed entry did. `request` is null for entries that carry none. */
export interface AppliedEntry {
  readonly index: number;
  readonly request: KvRequest | null;
  readonly applied: KvApplied | null;
}

/** A session as stored. */
interface StoredSession {
  readonly sequence: number;
  readonly result: KvResult;
  readonly lastIndex: number;
}

const dataPrefix = 'd/';
const sessionPrefix = 's/';
/** Entries per LevelDB batch. */
const applyBatchEntriesMax = 512;
/** Pairs loaded per batch when restoring a snapshot. */
const restoreBatchPairsMax = 1_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The KV state of one replica, on LevelDB. Create with `DurableKvMachine.open`. */
export class DurableKvMachine {
  readonly limits: KvLimits;
  readonly #engine: KvEngine;
  /** Client id -> last active index, in order of last activity (the eviction order). */
  readonly #activity = new Map<string, number>();

  private constructor(engine: KvEngine, limits: KvLimits) {
    this.#engine = engine;
    this.limits = limits;
  }

  /** Opens the LevelDB database at `location` and loads the session order. */
  static async open(location: string, limits: Partial<KvLimits> = {}): Promise<DurableKvMachine> {
    const machine = new DurableKvMachine(await KvEngine.open(location), { ...kvDefaultLimits, ...limits });
    if (machine.#engine.restoringIndex === undefined) await machine.#loadSessions();
    return machine;
  }

  /** Index of the last entry applied (0: none). */
  get appliedIndex(): number {
    return this.#engine.appliedIndex;
  }

  /** Whether a snapshot restore was interrupted: the state must be restored again before use. */
  get needsRestore(): boolean {
    return this.#engine.restoringIndex !== undefined;
  }

  /** Number of client sessions held. */
  get sessions(): number {
    return this.#activity.size;
  }

  /**
   * Applies committed entries in order. Entries at or below the applied index were applied before a
   * restart and are skipped; the rest must continue from it.
   */
  async apply(entries: readonly Entry[]): Promise<AppliedEntry[]> {
    const fresh = entries.filter((entry) => entry.index > this.appliedIndex);
    const results: AppliedEntry[] = [];
    for (let start = 0; start < fresh.length; start += applyBatchEntriesMax) {
      results.push(...(await this.#applyChunk(fresh.slice(start, start + applyBatchEntriesMax))));
    }
    return results;
  }

  /** Serves a read outside the log (after ReadIndex): a get or a scan of the current state. */
  async read(command: Extract<KvCommand, { type: 'get' | 'scan' }>): Promise<KvResult> {
    const invalid = invalidCommandReason(command, this.limits);
    if (invalid !== null) return { ok: false, code: 'INVALID_REQUEST', reason: invalid };
    if (command.type === 'get') return { ok: true, type: 'get', value: await this.#value(command.key) };
    return { ok: true, type: 'scan', pairs: await this.#scan(command) };
  }

  /** Writes the whole state into `writer` from one consistent view; returns the index it covers. */
  async writeSnapshot(writer: SnapshotWriter): Promise<number> {
    return this.#engine.exportState({
      onIndex: (index) => writer.begin(index),
      onPair: (pair) => writer.add(pair.key, pair.value),
    });
  }

  /** Replaces the whole state with the snapshot file at `filePath` (verified while read). */
  async restore(disk: Disk, filePath: string, index: number): Promise<void> {
    await this.#engine.beginRestore(index);
    let pairs: Array<{ key: Uint8Array; value: Uint8Array }> = [];
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
    await this.#loadSessions();
  }

  /** SHA-256 of the whole state with the index it reflects (replicas at one index must agree). */
  async digest(): Promise<{ digest: string; appliedIndex: number; keys: number }> {
    return this.#engine.digest();
  }

  async close(): Promise<void> {
    await this.#engine.close();
  }

  async #applyChunk(entries: readonly Entry[]): Promise<AppliedEntry[]> {
    const requests = entries.map(requestOf);
    const overlay = await this.#prefetch(requests);
    const results: AppliedEntry[] = [];
    let batch: IndexedCommand[] = [];
    for (const [position, entry] of entries.entries()) {
      const request = requests[position]!;
      if (request === null) {
        batch.push({ index: entry.index, command: { type: 'batch', ops: [] } });
        results.push({ index: entry.index, request: null, applied: null });
        continue;
      }
      if (request.command.type === 'scan' && batch.length > 0) {
        // A scan through the log reads the engine, which must first hold every earlier entry.
        await this.#engine.apply(batch);
        batch = [];
      }
      const { applied, ops } = await this.#execute(entry.index, request, overlay);
      batch.push({ index: entry.index, command: { type: 'batch', ops } });
      results.push({ index: entry.index, request, applied });
    }
    await this.#engine.apply(batch);
    return results;
  }

  /** Decides one request against the state seen through `overlay`; returns its result and its writes. */
  async #execute(index: number, request: KvRequest, overlay: Map<string, Uint8Array | null>): Promise<{ applied: KvApplied; ops: KvOperation[] }> {
    const invalid = invalidRequestReason(request, this.limits);
    if (invalid !== null) return { applied: { result: { ok: false, code: 'INVALID_REQUEST', reason: invalid }, duplicate: false }, ops: [] };
    const sessionKey = sessionPrefix + request.clientId;
    const stored = overlay.get(sessionKey);
    const session = stored === undefined || stored === null ? null : decodeSession(stored);
    if (session !== null && request.sequence === session.sequence) return { applied: { result: session.result, duplicate: true }, ops: [] };
    if (session !== null && request.sequence < session.sequence) {
      return { applied: { result: { ok: false, code: 'STALE_REQUEST', lastSequence: session.sequence }, duplicate: false }, ops: [] };
    }
    const ops: KvOperation[] = [];
    const write = (key: string, value: Uint8Array | null): void => {
      overlay.set(key, value);
      ops.push(value === null ? { type: 'delete', key } : { type: 'put', key, value });
    };
    const result = await this.#executeCommand(request.command, overlay, write);
    write(sessionKey, codec.encode({ sequence: request.sequence, result, lastIndex: index } satisfies StoredSession));
    this.#activity.delete(request.clientId);
    this.#activity.set(request.clientId, index);
    if (this.#activity.size > this.limits.sessionsMax) {
      const oldest = this.#activity.keys().next().value!;
      this.#activity.delete(oldest);
      write(sessionPrefix + oldest, null);
    }
    return { applied: { result, duplicate: false }, ops };
  }

  async #executeCommand(command: KvCommand, overlay: Map<string, Uint8Array | null>, write: (key: string, value: Uint8Array | null) => void): Promise<KvResult> {
    const current = (key: string): string | null => {
      const value = overlay.get(dataPrefix + key);
      return value === undefined || value === null ? null : decoder.decode(value);
    };
    switch (command.type) {
      case 'put':
        write(dataPrefix + command.key, encoder.encode(command.value));
        return { ok: true, type: 'put' };
      case 'get':
        return { ok: true, type: 'get', value: current(command.key) };
      case 'delete': {
        const existed = current(command.key) !== null;
        if (existed) write(dataPrefix + command.key, null);
        return { ok: true, type: 'delete', existed };
      }
      case 'cas': {
        const value = current(command.key);
        if (value !== command.expected) return { ok: true, type: 'cas', swapped: false, current: value };
        write(dataPrefix + command.key, encoder.encode(command.value));
        return { ok: true, type: 'cas', swapped: true, current: command.value };
      }
      case 'scan':
        return { ok: true, type: 'scan', pairs: await this.#scan(command) };
    }
  }

  /** Current values of the sessions and keys a chunk reads, before any of it is applied. */
  async #prefetch(requests: ReadonlyArray<KvRequest | null>): Promise<Map<string, Uint8Array | null>> {
    const keys = new Set<string>();
    for (const request of requests) {
      if (request === null || typeof request.clientId !== 'string' || request.command === null || typeof request.command !== 'object') continue;
      keys.add(sessionPrefix + request.clientId);
      const command = request.command;
      if ((command.type === 'get' || command.type === 'delete' || command.type === 'cas') && typeof command.key === 'string') keys.add(dataPrefix + command.key);
    }
    const overlay = new Map<string, Uint8Array | null>();
    await Promise.all([...keys].map(async (key) => overlay.set(key, (await this.#engine.get(key)) ?? null)));
    return overlay;
  }

  async #value(key: string): Promise<string | null> {
    const value = await this.#engine.get(dataPrefix + key);
    return value === undefined ? null : decoder.decode(value);
  }

  async #scan(command: Extract<KvCommand, { type: 'scan' }>): Promise<KvPair[]> {
    const { entries } = await this.#engine.scan({
      prefix: dataPrefix,
      start: dataPrefix + command.start,
      ...(command.end === null ? {} : { end: dataPrefix + command.end }),
      limit: command.limit,
    });
    return entries.map((pair) => ({ key: pair.key.slice(dataPrefix.length), value: decoder.decode(pair.value) }));
  }

  async #loadSessions(): Promise<void> {
    const sessions: Array<{ clientId: string; lastIndex: number }> = [];
    let start: string | undefined;
    for (;;) {
      const { entries, more } = await this.#engine.scan({ prefix: sessionPrefix, ...(start === undefined ? {} : { start }), limit: 1_000 });
      for (const pair of entries) sessions.push({ clientId: pair.key.slice(sessionPrefix.length), lastIndex: decodeSession(pair.value).lastIndex });
      if (!more || entries.length === 0) break;
      start = `${entries[entries.length - 1]!.key}\u0000`;
    }
    sessions.sort((left, right) => left.lastIndex - right.lastIndex);
    this.#activity.clear();
    for (const session of sessions) this.#activity.set(session.clientId, session.lastIndex);
  }
}

/** The request an entry carries: null for no-ops, membership changes and undecodable data (applied as no-ops on every replica alike). */
function requestOf(entry: Entry): KvRequest | null {
  if (entry.type !== 'normal' || entry.data.byteLength === 0) return null;
  const decoded = decodeKvRequest(entry.data);
  return decoded.ok ? decoded.request : null;
}

function decodeSession(bytes: Uint8Array): StoredSession {
  const value = codec.decode(bytes) as StoredSession;
  assert(typeof value === 'object' && value !== null && Number.isSafeInteger(value.sequence) && Number.isSafeInteger(value.lastIndex), 'stored session is malformed');
  return value;
}
