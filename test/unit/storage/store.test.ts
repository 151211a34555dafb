/**
 * The key-value store: operations, bad input, durability, exactly-once replay, deterministic digests and
 * fail-stop. LevelDB is real (in a temp directory); the WAL runs on the real disk or, where faults are
 * injected, on the simulated disk.
 */
import * as path from 'node:path';
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { LevelKvEngine, SimulatedDisk, Store, Wal, encodeCommand, isStorageError, type StoreOptions } from '../../../actors/storage/index.js';
import { TempDirectories, bytes, text } from '../../support/storage-temp.js';
import { waitFor } from '../../support/wait.js';

const temps = new TempDirectories();
const open: Store[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((store) => store.close()));
  temps.cleanup();
});

async function openStore(options: StoreOptions): Promise<Store> {
  const store = await Store.open(options);
  open.push(store);
  return store;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'ok',
    (error: unknown) => (isStorageError(error) ? error.code : String(error)),
  );
}

describe('Store operations', () => {
  it('puts, gets, deletes and applies batches atomically', async () => {
    const store = await openStore({ directory: temps.make() });
    expect((await store.put('a', bytes('1'))).index).toBe(1);
    expect(text(await store.get('a'))).toBe('1');
    await store.batch([
      { type: 'put', key: 'b', value: bytes('2') },
      { type: 'put', key: 'c', value: bytes('3') },
      { type: 'delete', key: 'a' },
    ]);
    expect(await store.get('a')).toBeUndefined();
    expect([text(await store.get('b')), text(await store.get('c'))]).toEqual(['2', '3']);
    await store.delete('b');
    await store.delete('never-there');
    expect(await store.get('b')).toBeUndefined();
  });

  it('reads its own writes: a get issued right after an unawaited put sees it', async () => {
    const store = await openStore({ directory: temps.make() });
    const writes = Array.from({ length: 20 }, (_, position) => store.put(`k${position}`, bytes(String(position))));
    expect(text(await store.get('k19'))).toBe('19');
    await Promise.all(writes);
  });

  it('scans in byte order by prefix and by range, forwards and backwards, with a limit', async () => {
    const store = await openStore({ directory: temps.make() });
    await store.batch(['user/b', 'user/a', 'user/c', 'users', 'zeta', 'alpha', 'user/é'].map((key) => ({ type: 'put' as const, key, value: bytes(key) })));
    const keys = async (options: Parameters<Store['scan']>[0]): Promise<string[]> => (await store.scan(options)).entries.map((entry) => entry.key);
    expect(await keys({ prefix: 'user/' })).toEqual(['user/a', 'user/b', 'user/c', 'user/é']);
    expect(await keys({ prefix: 'user/', reverse: true, limit: 2 })).toEqual(['user/é', 'user/c']);
    expect(await keys({ start: 'user/b', end: 'users' })).toEqual(['user/b', 'user/c', 'user/é']);
    expect(await keys({ prefix: 'user', start: 'user/c' })).toEqual(['user/c', 'user/é', 'users']);
    expect(await keys({ start: 'z', end: 'a' })).toEqual([]);
    const page = await store.scan({ limit: 3 });
    expect(page.entries.map((entry) => entry.key)).toEqual(['alpha', 'user/a', 'user/b']);
    expect(page.more).toBe(true);
    expect((await store.scan({ prefix: 'zeta' })).more).toBe(false);
    expect(text((await store.scan({ prefix: 'alpha' })).entries[0]!.value)).toBe('alpha');
  });

  it('compare-and-set and increment are decided in index order', async () => {
    const store = await openStore({ directory: temps.make() });
    const racing = await Promise.all(Array.from({ length: 5 }, (_, position) => store.compareAndSet('lock', null, bytes(`owner-${position}`))));
    const winners = racing.filter((outcome) => outcome.result.ok && outcome.result.type === 'cas' && outcome.result.swapped);
    expect(winners.length).toBe(1);
    expect(winners[0]!.index).toBe(1);
    expect(text(await store.get('lock'))).toBe('owner-0');
    const counts = await Promise.all(Array.from({ length: 10 }, () => store.increment('hits', 2)));
    expect(counts.map((outcome) => (outcome.result.ok && outcome.result.type === 'increment' ? outcome.result.value : -1))).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
    expect((await store.increment('lock', 1)).result).toMatchObject({ ok: false, code: 'NOT_A_COUNTER' });
  });
});

describe('Store bad input', () => {
  it('refuses oversized keys and values, wrong types and oversized batches with typed errors, and loses nothing', async () => {
    const directory = temps.make();
    const store = await openStore({ directory, limits: { keyBytesMax: 16, valueBytesMax: 64, batchOpsMax: 4 } });
    const good = store.put('kept', bytes('yes'));
    expect(await codeOf(store.put('k'.repeat(17), bytes('v')))).toBe('KEY_TOO_LARGE');
    expect(await codeOf(store.put('k', new Uint8Array(65)))).toBe('VALUE_TOO_LARGE');
    expect(await codeOf(store.put(42 as unknown as string, bytes('v')))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(store.put('k', 'text' as unknown as Uint8Array))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(store.write({ type: 'drop-table' } as never))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(store.batch(Array.from({ length: 5 }, () => ({ type: 'delete' as const, key: 'x' }))))).toBe('BATCH_TOO_LARGE');
    expect(await codeOf(store.get(7 as unknown as string))).not.toBe('ok');
    const after = store.put('also', bytes('kept'));
    expect((await good).index).toBe(1);
    expect((await after).index).toBe(2);
    await store.close();
    const reopened = await openStore({ directory, limits: { keyBytesMax: 16, valueBytesMax: 64, batchOpsMax: 4 } });
    expect([text(await reopened.get('kept')), text(await reopened.get('also'))]).toEqual(['yes', 'kept']);
    expect(reopened.status().walLastIndex).toBe(2);
  });

  it('refuses writes after close with STORAGE_CLOSED, after finishing the writes accepted before it', async () => {
    const directory = temps.make();
    const store = await openStore({ directory });
    const accepted = Array.from({ length: 30 }, (_, position) => store.put(`k${position}`, bytes('v')));
    const closing = store.close();
    expect(await codeOf(store.put('late', bytes('v')))).toBe('STORAGE_CLOSED');
    expect(await codeOf(store.get('k1'))).toBe('STORAGE_CLOSED');
    await closing;
    expect((await Promise.all(accepted)).length).toBe(30);
    const reopened = await openStore({ directory });
    expect((await reopened.scan({ prefix: 'k' })).entries.length).toBe(30);
    expect(await reopened.get('late')).toBeUndefined();
  });
});

describe('Store recovery and replay', () => {
  async function fill(store: Store, count: number): Promise<void> {
    await Promise.all(Array.from({ length: count }, (_, position) => store.batch([
      { type: 'put', key: `rec/${position}`, value: bytes(`value-${position}`) },
      { type: 'delete', key: `rec/${position - 3}` },
    ])));
    await Promise.all(Array.from({ length: count }, () => store.increment('count', 1)));
  }

  it('replays the WAL into a new LevelDB to the byte-identical state (digest)', async () => {
    const directory = temps.make();
    const store = await openStore({ directory });
    await fill(store, 200);
    const before = await store.digest();
    await store.close();
    rmSync(path.join(directory, 'kv'), { recursive: true, force: true });
    const rebuilt = await openStore({ directory });
    expect(rebuilt.recovery).toMatchObject({ appliedBefore: 0, replayed: 400, restoredFromSnapshot: false });
    expect(await rebuilt.digest()).toEqual(before);
  });

  it('applies entries that reached the WAL but not LevelDB exactly once, on every restart', async () => {
    const directory = temps.make();
    const store = await openStore({ directory });
    await fill(store, 10);
    await store.close();
    // A crash between the WAL fsync and the LevelDB apply leaves durable entries not yet applied.
    const wal = await Wal.open({ directory: path.join(directory, 'wal') });
    for (let count = 0; count < 5; count += 1) await wal.append(encodeCommand({ type: 'increment', key: 'count', delta: 1 }));
    await wal.close();
    for (let restart = 0; restart < 3; restart += 1) {
      const reopened = await Store.open({ directory });
      expect(reopened.recovery.replayed).toBe(restart === 0 ? 5 : 0);
      expect(text(await reopened.get('count'))).toBe('15');
      await reopened.close();
    }
  });

  it('snapshots, drops the covered WAL prefix, and restores a fresh LevelDB from snapshot + WAL after it', async () => {
    const directory = temps.make();
    const store = await openStore({ directory, limits: { segmentBytesMax: 4096 } });
    await fill(store, 300);
    const segmentsBefore = store.status().segments.length;
    const snapshot = await store.snapshot();
    expect(snapshot.index).toBe(600);
    expect(store.status().segments.length).toBeLessThan(segmentsBefore);
    expect(store.status().walFirstIndex).toBeGreaterThan(1);
    await fill(store, 50);
    const expected = await store.digest();
    await store.close();
    rmSync(path.join(directory, 'kv'), { recursive: true, force: true });
    const restored = await openStore({ directory, limits: { segmentBytesMax: 4096 } });
    expect(restored.recovery).toMatchObject({ restoredFromSnapshot: true, snapshotIndex: 600, replayed: 100 });
    expect(await restored.digest()).toEqual(expected);
  });

  it('finishes a snapshot restore that a crash interrupted', async () => {
    const directory = temps.make();
    const store = await openStore({ directory });
    await fill(store, 20);
    await store.snapshot();
    const expected = await store.digest();
    await store.close();
    const kv = await LevelKvEngine.open(path.join(directory, 'kv'));
    await kv.beginRestore(40);
    await kv.loadPairs([{ key: bytes('half-loaded'), value: bytes('x') }]);
    await kv.close();
    const recovered = await openStore({ directory });
    expect(recovered.recovery.restoredFromSnapshot).toBe(true);
    expect(await recovered.digest()).toEqual(expected);
  });

  it('refuses to start on a corrupt snapshot with SNAPSHOT_CORRUPT', async () => {
    const disk = new SimulatedDisk();
    const kvDirectory = temps.make();
    const store = await openStore({ directory: '/node', disk, kvDirectory });
    await fill(store, 20);
    const snapshot = await store.snapshot();
    await store.close();
    disk.flipBit(`/node/snapshots/${snapshot.name}`, Math.floor(snapshot.bytes / 2), 2);
    expect(await codeOf(Store.open({ directory: '/node', disk, kvDirectory }))).toBe('SNAPSHOT_CORRUPT');
  });

  it('refuses to start when LevelDB is ahead of the WAL (STORAGE_INCONSISTENT)', async () => {
    const directory = temps.make();
    const store = await openStore({ directory });
    await fill(store, 5);
    await store.close();
    rmSync(path.join(directory, 'wal'), { recursive: true, force: true });
    expect(await codeOf(Store.open({ directory }))).toBe('STORAGE_INCONSISTENT');
  });
});

describe('Store on the simulated disk', () => {
  it('a power loss loses only unacknowledged writes (random tears, many seeds)', async () => {
    for (let seed = 1; seed <= 12; seed += 1) {
      const disk = new SimulatedDisk({ seed, sectorBytes: 64 });
      const kvDirectory = temps.make();
      const store = await Store.open({ directory: '/node', disk, kvDirectory, limits: { segmentBytesMax: 2048 } });
      const acknowledged: string[] = [];
      for (let round = 0; round < 5; round += 1) {
        await Promise.all(Array.from({ length: 4 }, (_, writer) => store.put(`k/${round}/${writer}`, bytes(`v${seed}`)).then(() => acknowledged.push(`k/${round}/${writer}`))));
      }
      disk.holdSyncs();
      const inFlight = Array.from({ length: 4 }, (_, writer) => store.put(`late/${writer}`, bytes('?')).then(() => acknowledged.push(`late/${writer}`), () => undefined));
      await waitFor(() => disk.heldSyncs() === 1, { what: 'a held sync' });
      disk.crash('tear');
      await Promise.all(inFlight);
      await store.close();
      const reopened = await Store.open({ directory: '/node', disk, kvDirectory, limits: { segmentBytesMax: 2048 } });
      for (const key of acknowledged) expect(await reopened.get(key), `seed ${seed}: ${key}`).toBeDefined();
      expect(acknowledged.length).toBe(20);
      await reopened.close();
    }
  });

  it('after an fsync failure refuses every write with WAL_FAILED but still serves reads', async () => {
    const disk = new SimulatedDisk();
    const store = await openStore({ directory: '/node', disk, kvDirectory: temps.make() });
    await store.put('before', bytes('1'));
    disk.failNext('sync');
    expect(await codeOf(store.put('during', bytes('2')))).toBe('WAL_FAILED');
    expect(await codeOf(store.put('after', bytes('3')))).toBe('WAL_FAILED');
    expect(await codeOf(store.increment('n', 1))).toBe('WAL_FAILED');
    expect(text(await store.get('before'))).toBe('1');
    expect(await store.get('during')).toBeUndefined();
    expect(store.status().failure?.code).toBe('WAL_FAILED');
  });
});

describe('Snapshot streaming', () => {
  it('ships a snapshot in chunks to a fresh store, which then continues after its index', async () => {
    const source = await openStore({ directory: temps.make() });
    for (let position = 0; position < 300; position += 1) await source.put(`key/${position}`, bytes('x'.repeat(position)));
    const snapshot = await source.snapshot();
    const expected = await source.digest();
    const chunks = [];
    for await (const chunk of source.snapshotChunks(4096)) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(5);
    expect(chunks.at(-1)!.last).toBe(true);
    const target = await openStore({ directory: temps.make() });
    const installed = await target.installSnapshot(chunks);
    expect(installed).toMatchObject({ index: snapshot.index, checksum: snapshot.checksum });
    expect(await target.digest()).toEqual(expected);
    expect((await target.put('next', bytes('1'))).index).toBe(snapshot.index + 1);
    await target.close();
    const reopened = await openStore({ directory: target.directory });
    expect(text(await reopened.get('next'))).toBe('1');
    expect((await reopened.get('key/299'))?.length).toBe(299);
  });

  it('refuses tampered, reordered and foreign chunks, leaving the target untouched', async () => {
    const source = await openStore({ directory: temps.make() });
    for (let position = 0; position < 100; position += 1) await source.put(`key/${position}`, bytes('value'));
    await source.snapshot();
    const chunks = [];
    for await (const chunk of source.snapshotChunks(256)) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(4);
    const target = await openStore({ directory: temps.make() });
    await target.put('mine', bytes('1'));
    const before = await target.digest();
    const tampered = chunks.map((chunk, position) => (position === 2 ? { ...chunk, bytes: Uint8Array.from(chunk.bytes, (byte, offset) => (offset === 100 ? byte ^ 1 : byte)) } : chunk));
    expect(await codeOf(target.installSnapshot(tampered))).toBe('SNAPSHOT_CORRUPT');
    expect(await codeOf(target.installSnapshot([chunks[0]!, chunks[2]!]))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(target.installSnapshot([chunks[0]!, { ...chunks[1]!, index: 7 }]))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(target.installSnapshot(chunks.slice(0, -1)))).toBe('INVALID_ARGUMENT');
    expect(await target.digest()).toEqual(before);
  });
});
