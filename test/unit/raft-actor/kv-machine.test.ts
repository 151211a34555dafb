/**
 * The LevelDB-backed replicated KV state machine (actors/raft/kv-machine.ts), checked against the
 * core's in-memory `KvStateMachine` on seeded random request streams (duplicates, stale sequences,
 * log scans, no-ops, garbage entries), plus exactly-once application across a reopen, snapshots, and
 * deterministic session eviction.
 */
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DurableKvMachine, KvStateMachine, decodeKvRequest, encodeKvRequest, type Entry, type KvCommand, type KvRequest } from '../../../actors/raft/index.js';
import { NodeDisk, SnapshotWriter } from '../../../actors/storage/index.js';
import { createRng, type Rng } from '../../../runtime/index.js';
import { TempDirectories } from '../../support/storage-temp.js';

const temp = new TempDirectories();
const open: DurableKvMachine[] = [];
afterEach(async () => {
  for (const machine of open.splice(0)) await machine.close();
  temp.cleanup();
});

async function machineAt(directory: string, limits: { sessionsMax?: number } = {}): Promise<DurableKvMachine> {
  const machine = await DurableKvMachine.open(path.join(directory, 'kv'), limits);
  open.push(machine);
  return machine;
}

function randomCommand(rng: Rng, counter: number): KvCommand {
  const key = `key-${rng.int(0, 5)}`;
  switch (rng.int(0, 5)) {
    case 0: return { type: 'put', key, value: `v${counter}` };
    case 1: return { type: 'get', key };
    case 2: return { type: 'delete', key };
    case 3: return { type: 'cas', key, expected: rng.next() < 0.5 ? null : `v${rng.int(0, counter)}`, value: `v${counter}` };
    case 4: return { type: 'scan', start: 'key-1', end: rng.next() < 0.5 ? null : 'key-4', limit: rng.int(1, 4) };
    default: return { type: 'put', key, value: `v${counter}` };
  }
}

/** A stream of entries: requests from a few clients with retries and stale resends, no-ops and garbage. */
function randomEntries(rng: Rng, count: number): Entry[] {
  const sequences = new Map<string, number>();
  const sent: KvRequest[] = [];
  const result: Entry[] = [];
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
      const request = { clientId, sequence, command: randomCommand(rng, index) };
      sent.push(request);
      data = encodeKvRequest(request);
    }
    result.push({ type: 'normal', term: 1, index, data });
  }
  return result;
}

function applyInMemory(machine: KvStateMachine, entries: readonly Entry[]): unknown[] {
  return entries.map((entry) => {
    if (entry.type !== 'normal' || entry.data.byteLength === 0) return machine.skip(entry.index);
    const decoded = decodeKvRequest(entry.data);
    if (!decoded.ok) return machine.skip(entry.index);
    return machine.apply(entry.index, decoded.request);
  });
}

describe('durable KV state machine', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`gives the same results and state as the core's state machine (seed ${seed})`, async () => {
      const rng = createRng(seed);
      const entries = randomEntries(rng, 400);
      const reference = new KvStateMachine({ sessionsMax: 3 });
      const expected = applyInMemory(reference, entries);
      const machine = await machineAt(temp.make(), { sessionsMax: 3 });
      const actual: unknown[] = [];
      for (let start = 0; start < entries.length;) {
        const size = rng.int(1, 40);
        for (const applied of await machine.apply(entries.slice(start, start + size))) actual.push(applied.applied ?? undefined);
        start += size;
      }
      expect(actual).toEqual(expected);
      expect(machine.appliedIndex).toBe(400);
      expect(await machine.read({ type: 'scan', start: '', end: null, limit: 100 })).toEqual({ ok: true, type: 'scan', pairs: reference.snapshot().pairs });
      expect(machine.sessions).toBe(reference.snapshot().sessions.length);
    });
  }

  it('skips entries at or below its applied index after a reopen, so each applies exactly once', async () => {
    const directory = temp.make();
    const first = await machineAt(directory);
    const request = (sequence: number, command: KvCommand): Entry => ({ type: 'normal', term: 1, index: sequence, data: encodeKvRequest({ clientId: 'c', sequence, command }) });
    await first.apply([request(1, { type: 'put', key: 'lock', value: 'free' }), request(2, { type: 'cas', key: 'lock', expected: 'free', value: 'taken' })]);
    await first.close();
    open.splice(open.indexOf(first), 1);
    const second = await machineAt(directory);
    expect(second.appliedIndex).toBe(2);
    // Replay from the log's start after a restart: entries 1-2 are skipped, 3 applies.
    const replayed = await second.apply([request(1, { type: 'put', key: 'lock', value: 'free' }), request(2, { type: 'cas', key: 'lock', expected: 'free', value: 'taken' }), request(3, { type: 'get', key: 'lock' })]);
    expect(replayed.map((entry) => entry.index)).toEqual([3]);
    expect(replayed[0]!.applied?.result).toEqual({ ok: true, type: 'get', value: 'taken' });
  });

  it('a snapshot restores the data and the sessions (a retry after restore is still answered, not re-applied)', async () => {
    const source = await machineAt(temp.make());
    const cas = (index: number, sequence: number): Entry => ({ type: 'normal', term: 1, index, data: encodeKvRequest({ clientId: 'c', sequence, command: { type: 'cas', key: 'k', expected: null, value: 'first' } }) });
    await source.apply([cas(1, 1), { type: 'normal', term: 1, index: 2, data: encodeKvRequest({ clientId: 'd', sequence: 1, command: { type: 'put', key: 'other', value: 'x' } }) }]);
    const disk = new NodeDisk();
    const snapshots = temp.make();
    const writer = await SnapshotWriter.create(disk, snapshots);
    const index = await source.writeSnapshot(writer);
    const info = await writer.finish();
    const target = await machineAt(temp.make());
    await target.restore(disk, path.join(snapshots, info.name), index);
    expect(target.appliedIndex).toBe(2);
    expect((await target.digest()).digest).toBe((await source.digest()).digest);
    const [retry] = await target.apply([cas(3, 1)]);
    expect(retry!.applied).toEqual({ result: { ok: true, type: 'cas', swapped: true, current: 'first' }, duplicate: true });
  });
});
