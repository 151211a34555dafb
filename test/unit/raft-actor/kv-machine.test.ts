/**
 * The replicated KV state machine over an engine (actors/raft/kv-machine.ts): on LevelDB and on the
 * in-memory engine it must give the same results, the same revisions and the same bytes as the
 * synchronous `KvStateMachine`, on seeded random request streams (transactions with compares, ranges,
 * delete-ranges, leases and their revokes, compactions, duplicates, stale sequences, no-ops, garbage
 * entries); plus exactly-once application across a reopen, snapshots, and watches served from it; and
 * the engine lagging behind the applied results (its writes held back), then losing them in a crash
 * and catching up by replay, and a failed background write stopping the machine.
 */
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DurableKvMachine, KvStateMachine, decodeKvRequest, encodeKvRequest, textCommand, type Entry, type KvRequest } from '../../../actors/raft/index.js';
import { MemoryKvEngine, NodeDisk, SnapshotWriter, prefixRangeEnd, type KvCommand, type KvEngine, type KvEngineWrite, type KvOp } from '../../../actors/storage/index.js';
import { createRng, type Rng } from '../../../runtime/index.js';
import { TempDirectories } from '../../support/storage-temp.js';

const temp = new TempDirectories();
const open: DurableKvMachine[] = [];
afterEach(async () => {
  for (const machine of open.splice(0)) await machine.close();
  temp.cleanup();
});

async function machineAt(directory: string, limits: { sessionsMax?: number; eventsKeptMax?: number } = {}): Promise<DurableKvMachine> {
  const machine = await DurableKvMachine.open(path.join(directory, 'kv'), limits);
  open.push(machine);
  return machine;
}

const keys = ['a', 'ab', 'b', '\uFFFD', '\u{1F600}', 'b\u0000'].map((key) => new TextEncoder().encode(key));

function randomOp(rng: Rng, counter: number, leases: number): KvOp {
  const key = keys[rng.int(0, keys.length - 1)]!;
  switch (rng.int(0, 4)) {
    case 0: return { type: 'range', key, ...(rng.next() < 0.5 ? { rangeEnd: prefixRangeEnd(key) } : {}), limit: rng.int(0, 3) };
    case 1: return { type: 'deleteRange', key, ...(rng.next() < 0.3 ? { rangeEnd: Uint8Array.of(0) } : {}), prevKv: rng.next() < 0.5 };
    default: return { type: 'put', key, value: Uint8Array.of(counter & 0xff, 0x00, 0xff), prevKv: rng.next() < 0.5, ...(leases > 0 && rng.next() < 0.3 ? { lease: rng.int(1, leases + 1) } : {}) };
  }
}

function randomCommand(rng: Rng, counter: number, leases: number): KvCommand {
  const roll = rng.next();
  if (roll < 0.08) return { type: 'leaseGrant', ttlMs: 1_000 };
  if (roll < 0.12) return { type: 'leaseRevoke', lease: rng.int(1, leases + 1) };
  if (roll < 0.14) return { type: 'compact', revision: rng.int(1, counter) };
  const op = (): KvOp => randomOp(rng, counter, leases);
  const compare = rng.next() < 0.5 ? [{ key: keys[rng.int(0, keys.length - 1)]!, target: 'version' as const, operator: (['=', '!=', '<', '>'] as const)[rng.int(0, 3)]!, value: rng.int(0, 2) }] : [];
  return { type: 'txn', txn: { compare, success: [op()], failure: rng.next() < 0.5 ? [op()] : [] } };
}

/** A stream of entries: requests from a few clients with retries and stale resends, no-ops and garbage. */
function randomEntries(rng: Rng, count: number): Entry[] {
  const sequences = new Map<string, number>();
  const sent: KvRequest[] = [];
  const result: Entry[] = [];
  let leases = 0;
  for (let index = 1; index <= count; index += 1) {
    const roll = rng.next();
    let data: Uint8Array;
    if (roll < 0.05) data = new Uint8Array(0);
    else if (roll < 0.08) data = Uint8Array.of(0xff, 0x00, 0x13);
    else if (roll < 0.2 && sent.length > 0) data = encodeKvRequest(sent[rng.int(0, sent.length - 1)]!);
    else {
      const clientId = `client-${rng.int(0, 3)}`;
      const sequence = (sequences.get(clientId) ?? 0) + 1;
      sequences.set(clientId, sequence);
      const command = randomCommand(rng, index, leases);
      if (command.type === 'leaseGrant') leases += 1;
      const request = { clientId, sequence, command };
      sent.push(request);
      data = encodeKvRequest(request);
    }
    result.push({ type: 'normal', term: 1, index, data });
  }
  return result;
}

function applyInMemory(machine: KvStateMachine, entries: readonly Entry[]): unknown[] {
  return entries.map((entry) => {
    const decoded = entry.type !== 'normal' || entry.data.byteLength === 0 ? undefined : decodeKvRequest(entry.data);
    if (decoded === undefined || !decoded.ok) {
      machine.skip(entry.index);
      return undefined;
    }
    return machine.apply(entry.index, decoded.request);
  });
}

async function applyInChunks(machine: DurableKvMachine, entries: readonly Entry[], rng: Rng): Promise<unknown[]> {
  const actual: unknown[] = [];
  for (let start = 0; start < entries.length;) {
    const size = rng.int(1, 40);
    for (const applied of await machine.apply(entries.slice(start, start + size))) actual.push(applied.applied ?? undefined);
    start += size;
  }
  return actual;
}

/**
 * An engine whose writes wait until released, over a `MemoryKvEngine` that stands for what is on disk.
 * A crash drops every write not yet released; a failing engine rejects the next write.
 */
class HeldEngine implements KvEngine {
  readonly disk = new MemoryKvEngine();
  #held: Array<{ readonly writes: readonly KvEngineWrite[]; readonly index: number; readonly resolve: () => void; readonly reject: (error: unknown) => void }> = [];
  failWith: Error | undefined;

  get appliedIndex(): number { return this.disk.appliedIndex; }
  get restoringIndex(): number | undefined { return this.disk.restoringIndex; }
  get held(): number { return this.#held.length; }
  read(key: Uint8Array): Promise<Uint8Array | undefined> { return this.disk.read(key); }
  range(range: Parameters<KvEngine['range']>[0]): ReturnType<KvEngine['range']> { return this.disk.range(range); }
  write(writes: readonly KvEngineWrite[], index: number): Promise<void> {
    return new Promise((resolve, reject) => this.#held.push({ writes, index, resolve, reject }));
  }

  /** Lets the held writes reach the disk, in order (or fail, with `failWith`). */
  release(): void {
    for (const write of this.#held.splice(0)) {
      if (this.failWith !== undefined) write.reject(this.failWith);
      else {
        this.disk.writeSync(write.writes, write.index);
        write.resolve();
      }
    }
  }

  /** kill -9: the held writes never happen. */
  crash(): void { this.#held = []; }
  exportState(visitor: Parameters<KvEngine['exportState']>[0]): Promise<number> { return this.disk.exportState(visitor); }
  digest(): ReturnType<KvEngine['digest']> { return this.disk.digest(); }
  beginRestore(index: number): Promise<void> { return this.disk.beginRestore(index); }
  loadPairs(pairs: Parameters<KvEngine['loadPairs']>[0]): Promise<void> { return this.disk.loadPairs(pairs); }
  finishRestore(): Promise<void> { return this.disk.finishRestore(); }
  close(): Promise<void> { return this.disk.close(); }
}

/** Lets the machine's queued work run (its background writes start on a later turn of the queue). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('KV state machine over an engine', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`gives the same results, revisions and bytes on LevelDB, in memory and synchronously (seed ${seed})`, async () => {
      const entries = randomEntries(createRng(seed), 400);
      const reference = new KvStateMachine({ sessionsMax: 3, eventsKeptMax: 50 });
      const expected = applyInMemory(reference, entries);
      const level = await machineAt(temp.make(), { sessionsMax: 3, eventsKeptMax: 50 });
      const memory = await DurableKvMachine.over(new MemoryKvEngine(), { sessionsMax: 3, eventsKeptMax: 50 });
      expect(await applyInChunks(level, entries, createRng(seed + 100))).toEqual(expected);
      expect(await applyInChunks(memory, entries, createRng(seed + 200))).toEqual(expected);
      expect(level.appliedIndex).toBe(400);
      expect(level.modelState).toEqual(reference.modelState);
      expect(reference.modelState.revision).toBeGreaterThan(50);
      const digests = await Promise.all([level.digest(), memory.digest(), reference.digest()]);
      expect(new Set(digests.map((digest) => digest.digest)).size).toBe(1);
      const everything: KvCommand = { type: 'txn', txn: { compare: [], success: [{ type: 'range', key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) }], failure: [] } };
      expect(await level.read({ command: everything })).toEqual(reference.read({ command: everything }));
      const poll = { key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0), fromRevision: reference.modelState.compactRevision + 1, revisionsMax: 1_000 };
      expect(await level.watch(poll)).toEqual(reference.watch(poll));
    });
  }

  it('skips entries at or below its applied index after a reopen, so each applies exactly once', async () => {
    const directory = temp.make();
    const first = await machineAt(directory);
    const request = (sequence: number, command: KvCommand): Entry => ({ type: 'normal', term: 1, index: sequence, data: encodeKvRequest({ clientId: 'c', sequence, command }) });
    const lock = [request(1, textCommand({ type: 'put', key: 'lock', value: 'free' })), request(2, textCommand({ type: 'cas', key: 'lock', expected: 'free', value: 'taken' }))];
    await first.apply(lock);
    await first.close();
    open.splice(open.indexOf(first), 1);
    const second = await machineAt(directory);
    expect(second.appliedIndex).toBe(2);
    expect(second.modelState.revision).toBe(3);
    // Replay from the log's start after a restart: entries 1-2 are skipped, 3 applies.
    const replayed = await second.apply([...lock, request(3, textCommand({ type: 'get', key: 'lock' }))]);
    expect(replayed.map((entry) => entry.index)).toEqual([3]);
    expect(replayed[0]!.applied?.result).toMatchObject({ ok: true, type: 'txn', revision: 3, responses: [{ type: 'range', count: 1, kvs: [{ version: 2, createRevision: 2, modRevision: 3 }] }] });
  });

  it('a snapshot restores the data, the revisions and the sessions (a retry after restore is answered, not re-applied)', async () => {
    const source = await machineAt(temp.make());
    const cas = (index: number, sequence: number): Entry => ({ type: 'normal', term: 1, index, data: encodeKvRequest({ clientId: 'c', sequence, command: textCommand({ type: 'cas', key: 'k', expected: null, value: 'first' }) }) });
    await source.apply([cas(1, 1), { type: 'normal', term: 1, index: 2, data: encodeKvRequest({ clientId: 'd', sequence: 1, command: textCommand({ type: 'put', key: 'other', value: 'x' }) }) }]);
    const disk = new NodeDisk();
    const snapshots = temp.make();
    const writer = await SnapshotWriter.create(disk, snapshots);
    const index = await source.writeSnapshot(writer);
    const info = await writer.finish();
    const target = await machineAt(temp.make());
    await target.restore(disk, path.join(snapshots, info.name), index);
    expect(target.appliedIndex).toBe(2);
    expect(target.modelState).toEqual(source.modelState);
    expect((await target.digest()).digest).toBe((await source.digest()).digest);
    const [retry] = await target.apply([cas(3, 1)]);
    expect(retry!.applied).toMatchObject({ result: { ok: true, type: 'txn', succeeded: true, revision: 2 }, duplicate: true });
  });

  it('answers from the applied results while the engine lags; a crash loses only unwritten effects, and replay applies each entry exactly once', async () => {
    const entries = randomEntries(createRng(11), 300);
    const reference = new KvStateMachine({ sessionsMax: 3, eventsKeptMax: 50 });
    const expected = applyInMemory(reference, entries);
    const engine = new HeldEngine();
    const lagging = await DurableKvMachine.over(engine, { sessionsMax: 3, eventsKeptMax: 50 });
    const rng = createRng(12);
    const before: unknown[] = [];
    for (let start = 0; start < 200;) {
      const size = rng.int(1, 30);
      // Results come back with the engine's writes still held, unless a range has to wait for them:
      // then the engine makes progress.
      const applying = lagging.apply(entries.slice(start, Math.min(200, start + size)));
      while (!(await Promise.race([applying.then(() => true), settle().then(() => false)]))) engine.release();
      for (const applied of await applying) before.push(applied.applied ?? undefined);
      start = Math.min(200, start + size);
      if (rng.next() < 0.3) {
        engine.release();
        await settle();
      }
    }
    expect(before).toEqual(expected.slice(0, 200));
    expect(lagging.appliedIndex).toBe(200);
    // Point reads see what was applied, though the engine has not got it yet.
    const session = await lagging.apply([{ type: 'normal', term: 1, index: 201, data: encodeKvRequest({ clientId: 'reader', sequence: 1, command: textCommand({ type: 'get', key: 'a' }) }) }]);
    const at200 = new KvStateMachine({ sessionsMax: 3, eventsKeptMax: 50 });
    applyInMemory(at200, entries.slice(0, 200));
    expect(session[0]!.applied?.result).toEqual(at200.read({ command: textCommand({ type: 'get', key: 'a' }) }));
    expect(engine.held).toBeGreaterThan(0);
    const written = engine.appliedIndex;
    expect(written).toBeLessThan(201);
    engine.crash();
    // Restart over what reached the disk: a prefix of the batches, with the index they cover.
    const restarted = await DurableKvMachine.over(engine.disk, { sessionsMax: 3, eventsKeptMax: 50 });
    expect(restarted.appliedIndex).toBe(written);
    const replayed = await restarted.apply(entries);
    expect(replayed.map((entry) => entry.index)).toEqual(entries.filter((entry) => entry.index > written).map((entry) => entry.index));
    expect(replayed.map((entry) => entry.applied ?? undefined)).toEqual(expected.slice(written));
    expect(restarted.modelState).toEqual(reference.modelState);
    expect((await restarted.digest()).digest).toBe((await reference.digest()).digest);
  });

  it('ranges, watches, digests and snapshots wait for the unwritten effects, so they see exactly what was applied', async () => {
    const engine = new HeldEngine();
    const machine = await DurableKvMachine.over(engine);
    const put = (index: number, key: string): Entry => ({ type: 'normal', term: 1, index, data: encodeKvRequest({ clientId: 'c', sequence: index, command: textCommand({ type: 'put', key, value: key }) }) });
    await machine.apply([put(1, 'a'), put(2, 'b')]);
    let digested = false;
    const digest = machine.digest().then((value) => {
      digested = true;
      return value;
    });
    const scan = machine.read({ command: textCommand({ type: 'scan', start: 'a', end: null, limit: 10 }) });
    await settle();
    expect(digested).toBe(false);
    while (engine.held > 0) {
      engine.release();
      await settle();
    }
    expect((await digest).appliedIndex).toBe(2);
    expect(await scan).toMatchObject({ ok: true, type: 'txn', responses: [{ type: 'range', count: 2 }] });
    expect(engine.appliedIndex).toBe(2);
  });

  it('a failed background write fails flushed() and every later operation (the replica stops and recovers by replay)', async () => {
    const engine = new HeldEngine();
    const machine = await DurableKvMachine.over(engine);
    const put = (index: number): Entry => ({ type: 'normal', term: 1, index, data: encodeKvRequest({ clientId: 'c', sequence: index, command: textCommand({ type: 'put', key: 'k', value: String(index) }) }) });
    const [applied] = await machine.apply([put(1)]);
    expect(applied!.applied?.result).toMatchObject({ ok: true });
    const flushed = machine.flushed();
    engine.failWith = new Error('disk on fire');
    engine.release();
    await expect(flushed).rejects.toThrow('disk on fire');
    await expect(machine.apply([put(2)])).rejects.toThrow('disk on fire');
    await expect(machine.read({ command: textCommand({ type: 'get', key: 'k' }) })).rejects.toThrow('disk on fire');
    expect(engine.appliedIndex).toBe(0);
  });
});
