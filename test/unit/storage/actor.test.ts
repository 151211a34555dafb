/**
 * The storage actor under the real kernel and supervisors: the typed request protocol, typed refusals
 * of bad input, recovery in `init` after a crash, fail-stop after an fsync error, and refusal to start
 * on corrupt data.
 */
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem, type Behaviour, type Ref } from '../../../runtime/index.js';
import { createNode, type TroupeNode } from '../../../supervisors/index.js';
import { SimulatedDisk, segmentName, storageBehaviour, type StorageActorState, type StorageReply, type StorageRequest } from '../../../actors/storage/index.js';
import { TempDirectories, bytes, text } from '../../support/storage-temp.js';
import { waitFor } from '../../support/wait.js';

const temps = new TempDirectories();
const running: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.allSettled(running.splice(0).map((item) => item.stop()));
  temps.cleanup();
});

async function startNode(behaviourToRun: Behaviour<StorageActorState, StorageRequest>): Promise<{ node: TroupeNode; ref: Ref }> {
  const node = await createNode({ name: 'n1', backoff: { minMs: 0, maxMs: 0 } });
  running.push(node);
  const ref = await node.startChild({ id: 'storage', start: behaviourToRun, restart: 'permanent', shutdownMs: 5_000, kind: 'worker' });
  return { node, ref };
}

function ask(node: TroupeNode, ref: Ref, message: unknown): Promise<StorageReply & Record<string, unknown>> {
  return node.system.ask(ref, message, { timeoutMs: 10_000 });
}

describe('storage actor protocol', () => {
  it('serves every request type with typed replies', async () => {
    const { node, ref } = await startNode(storageBehaviour({ directory: temps.make() }));
    expect(await ask(node, ref, { type: 'storage.put', key: 'a', value: bytes('1') })).toEqual({ ok: true, index: 1 });
    expect(await ask(node, ref, { type: 'storage.get', key: 'a' })).toEqual({ ok: true, value: bytes('1') });
    expect(await ask(node, ref, { type: 'storage.get', key: 'missing' })).toEqual({ ok: true, value: null });
    expect(await ask(node, ref, { type: 'storage.cas', key: 'a', expected: bytes('1'), value: bytes('two') })).toEqual({ ok: true, index: 2, swapped: true, current: bytes('two') });
    expect(await ask(node, ref, { type: 'storage.cas', key: 'a', expected: null, value: bytes('3') })).toEqual({ ok: true, index: 3, swapped: false, current: bytes('two') });
    expect(await ask(node, ref, { type: 'storage.increment', key: 'n', delta: 5 })).toEqual({ ok: true, index: 4, value: 5 });
    expect(await ask(node, ref, { type: 'storage.increment', key: 'a', delta: 1 })).toMatchObject({ ok: false, code: 'NOT_A_COUNTER', index: 5 });
    expect(await ask(node, ref, { type: 'storage.batch', ops: [{ type: 'put', key: 'b', value: bytes('x') }, { type: 'delete', key: 'n' }] })).toEqual({ ok: true, index: 6 });
    expect(await ask(node, ref, { type: 'storage.delete', key: 'b' })).toEqual({ ok: true, index: 7 });
    const scan = await ask(node, ref, { type: 'storage.scan', prefix: '' });
    expect(scan).toEqual({ ok: true, entries: [{ key: 'a', value: bytes('two') }], more: false });
    expect(await ask(node, ref, { type: 'storage.digest' })).toMatchObject({ ok: true, appliedIndex: 7, keys: 1 });
    expect(await ask(node, ref, { type: 'storage.snapshot' })).toMatchObject({ ok: true, index: 7, name: 'snapshot-00000000000000000007.snap' });
    expect(await ask(node, ref, { type: 'storage.status' })).toMatchObject({ ok: true, appliedIndex: 7, snapshot: { index: 7 }, failure: null });
    const tree = JSON.stringify(node.tree());
    expect(tree).toContain('"appliedIndex":7');
  });

  it('replies in message order; writes that arrive during an fsync share the next one', async () => {
    const disk = new SimulatedDisk();
    const { node, ref } = await startNode(storageBehaviour({ directory: '/node', disk, kvDirectory: temps.make() }));
    const syncsBefore = disk.stats.syncs;
    disk.holdSyncs();
    const replies = Array.from({ length: 200 }, (_, position) => ask(node, ref, { type: 'storage.put', key: `k${position}`, value: bytes('v') }));
    // Every write is in the WAL's hands (indexes assigned) while the first fsync is still held.
    await waitFor(async () => (await ask(node, ref, { type: 'storage.status' })).lastAssignedIndex === 200, { what: 'all writes to be accepted' });
    expect(disk.heldSyncs()).toBe(1);
    disk.releaseSyncs();
    const indexes = (await Promise.all(replies)).map((reply) => reply.index);
    expect(indexes).toEqual(Array.from({ length: 200 }, (_, position) => position + 1));
    expect(disk.stats.syncs - syncsBefore).toBeLessThanOrEqual(2);
  });

  it('refuses bad input with typed replies and keeps serving', async () => {
    const { node, ref } = await startNode(storageBehaviour({ directory: temps.make(), limits: { keyBytesMax: 8, valueBytesMax: 16 } }));
    expect(await ask(node, ref, { type: 'storage.put', key: 'k'.repeat(9), value: bytes('v') })).toMatchObject({ ok: false, code: 'KEY_TOO_LARGE' });
    expect(await ask(node, ref, { type: 'storage.put', key: 'k', value: new Uint8Array(17) })).toMatchObject({ ok: false, code: 'VALUE_TOO_LARGE' });
    expect(await ask(node, ref, { type: 'storage.put', key: 'k', value: 'text' })).toMatchObject({ ok: false, code: 'INVALID_ARGUMENT' });
    expect(await ask(node, ref, { type: 'storage.get', key: 12 })).toMatchObject({ ok: false, code: 'INVALID_ARGUMENT' });
    expect(await ask(node, ref, { type: 'storage.scan', limit: -1 })).toMatchObject({ ok: false, code: 'INVALID_ARGUMENT' });
    expect(await ask(node, ref, { type: 'storage.drop' })).toMatchObject({ ok: false, code: 'UNKNOWN_MESSAGE' });
    expect(await ask(node, ref, 'put')).toMatchObject({ ok: false, code: 'UNKNOWN_MESSAGE' });
    expect(await ask(node, ref, { type: 'storage.put', key: 'k', value: bytes('ok') })).toEqual({ ok: true, index: 1 });
    const tree = node.tree();
    expect(JSON.stringify(tree)).toContain('"restarts":0');
  });
});

describe('storage actor recovery', () => {
  it('a crash restarts it and init recovers every acknowledged write from disk', async () => {
    const inner = storageBehaviour({ directory: temps.make() });
    // The test decorates the behaviour with a way to crash it, as any bug in a handler would.
    const crashable: Behaviour<StorageActorState, StorageRequest> = {
      ...inner,
      receive: (state, message, ctx) => {
        if ((message as { type?: string }).type === 'test.crash') throw new Error('injected crash');
        return inner.receive(state, message, ctx);
      },
    };
    const { node, ref } = await startNode(crashable);
    const acknowledged = await Promise.all(Array.from({ length: 50 }, (_, position) => ask(node, ref, { type: 'storage.increment', key: 'count', delta: 1 }).then((reply) => reply.index as number)));
    const before = await ask(node, ref, { type: 'storage.digest' });
    node.system.tell(ref, { type: 'test.crash' });
    await waitFor(() => JSON.stringify(node.tree()).includes('"restarts":1'), { what: 'the storage actor to restart' });
    expect(await ask(node, ref, { type: 'storage.digest' })).toEqual(before);
    expect(text((await ask(node, ref, { type: 'storage.get', key: 'count' })).value as Uint8Array)).toBe('50');
    expect(await ask(node, ref, { type: 'storage.put', key: 'next', value: bytes('1') })).toEqual({ ok: true, index: Math.max(...acknowledged) + 1 });
  });

  it('fails stop after an fsync error: writes get WAL_FAILED, reads still work', async () => {
    const disk = new SimulatedDisk();
    const { node, ref } = await startNode(storageBehaviour({ directory: '/node', disk, kvDirectory: temps.make() }));
    expect(await ask(node, ref, { type: 'storage.put', key: 'a', value: bytes('1') })).toEqual({ ok: true, index: 1 });
    disk.failNext('sync');
    expect(await ask(node, ref, { type: 'storage.put', key: 'b', value: bytes('2') })).toMatchObject({ ok: false, code: 'WAL_FAILED' });
    expect(await ask(node, ref, { type: 'storage.put', key: 'c', value: bytes('3') })).toMatchObject({ ok: false, code: 'WAL_FAILED' });
    expect(await ask(node, ref, { type: 'storage.get', key: 'a' })).toEqual({ ok: true, value: bytes('1') });
    expect(await ask(node, ref, { type: 'storage.status' })).toMatchObject({ failure: { code: 'WAL_FAILED' } });
  });

  it('refuses to start on latent WAL corruption, naming the segment and offset', async () => {
    const disk = new SimulatedDisk();
    const kvDirectory = temps.make();
    const system = new ActorSystem({ node: 'n0' });
    running.push(system);
    const first = system.spawn(storageBehaviour({ directory: '/node', disk, kvDirectory }), { name: 'storage' });
    for (let round = 0; round < 3; round += 1) await system.ask(first, { type: 'storage.put', key: `k${round}`, value: bytes('value') }, { timeoutMs: 10_000 });
    await system.stop();
    disk.flipBit(path.join('/node/wal', segmentName(1)), 30, 0);
    const node = await createNode({ name: 'n1' });
    running.push(node);
    const error = await node.startChild({ id: 'storage', start: storageBehaviour({ directory: '/node', disk, kvDirectory }), restart: 'permanent', shutdownMs: 5_000, kind: 'worker' }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'START_FAILED' });
    expect((error as Error).message).toMatch(/WAL corrupt in segment 00000000000000000001\.wal at byte 0/);
  });
});
