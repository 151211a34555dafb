/**
 * Differential test against a real etcd (3.4, test/services/etcd.ts): the same seeded random history
 * of transactions (compares on value, version, create and mod revision with every operator; puts with
 * prevKv, ranges with limits, prefixes, keys-only and count-only, delete-ranges) over keys that are
 * non-ASCII, emoji, U+FFFD and raw bytes (0x00, 0xFF), with binary values, runs on our replicated KV
 * (three real node processes) and on etcd. Every result must agree, and so must every watch event from
 * the first revision on and the refusal of a watch below a compaction. Revisions are compared relative
 * to each store's revision before the first write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvWatchError, RaftKvClient, type KvCommandOutcome, type KvWatchReply } from '../../../actors/raft/index.js';
import { prefixRangeEnd, type KvCompare, type KvEvent, type KvKeyValue, type KvOp, type KvOpResponse, type KvTxn } from '../../../actors/storage/index.js';
import { createRng, type Rng } from '../../../runtime/index.js';
import { EtcdServer, base64, fromBase64, type EtcdEvent, type EtcdKeyValue } from '../../services/etcd.js';
import { RaftProcessCluster } from '../../support/raft-cluster.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const keys: Uint8Array[] = [
  utf8('a'), utf8('a/1'), utf8('a/2'), utf8('b'), utf8('\uFFFD'), utf8('\u{1F600}'), utf8('\u{1F600}/x'), utf8('é'),
  Uint8Array.of(0x00), Uint8Array.of(0x00, 0xff), Uint8Array.of(0x61, 0x00), Uint8Array.of(0xff), Uint8Array.of(0xff, 0xff),
];
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** A kv with revisions relative to the store's base, comparable across the two stores. */
interface Normal {
  readonly key: string;
  readonly value: string;
  readonly create: number;
  readonly mod: number;
  readonly version: number;
}

const relative = (revision: number, base: number): number => (revision === 0 ? 0 : revision - base);
const ours = (kv: KvKeyValue, base: number): Normal => ({ key: hex(kv.key), value: hex(kv.value), create: relative(kv.createRevision, base), mod: relative(kv.modRevision, base), version: kv.version });
const theirs = (kv: EtcdKeyValue, base: number): Normal => ({
  key: hex(fromBase64(kv.key)), value: hex(fromBase64(kv.value)), create: relative(Number(kv.create_revision ?? 0), base), mod: relative(Number(kv.mod_revision ?? 0), base), version: Number(kv.version ?? 0),
});

function randomValue(rng: Rng): Uint8Array {
  return Uint8Array.from({ length: rng.int(0, 5) }, () => [0x00, 0xff, 0x41, rng.int(0, 255)][rng.int(0, 3)]!);
}

/** A random op; `write` false keeps a branch to one write op (etcd refuses overlapping writes in one txn). */
function randomOp(rng: Rng, write: boolean): KvOp {
  const key = keys[rng.int(0, keys.length - 1)]!;
  const rangeEnd = (): Uint8Array | undefined => [undefined, prefixRangeEnd(key), Uint8Array.of(0)][rng.int(0, 2)];
  const roll = write ? rng.int(0, 2) : 2;
  if (roll === 0) return { type: 'put', key, value: randomValue(rng), ...(rng.next() < 0.5 ? { prevKv: true } : {}) };
  if (roll === 1) {
    const end = rangeEnd();
    return { type: 'deleteRange', key, ...(end ? { rangeEnd: end } : {}), ...(rng.next() < 0.5 ? { prevKv: true } : {}) };
  }
  const end = rangeEnd();
  const flags = rng.int(0, 3);
  return { type: 'range', key, ...(end ? { rangeEnd: end } : {}), ...(rng.next() < 0.5 ? { limit: rng.int(1, 3) } : {}), ...(flags === 1 ? { keysOnly: true } : flags === 2 ? { countOnly: true } : {}) };
}

function randomBranch(rng: Rng): KvOp[] {
  const ops = Array.from({ length: rng.int(0, 2) }, () => randomOp(rng, false));
  if (rng.next() < 0.7) ops.splice(rng.int(0, ops.length), 0, randomOp(rng, true));
  return ops;
}

/** A compare in relative revisions (turned into each store's absolute ones when sent). */
function randomCompare(rng: Rng, revisionNow: number): KvCompare {
  const key = keys[rng.int(0, keys.length - 1)]!;
  const operator = (['=', '!=', '<', '>'] as const)[rng.int(0, 3)]!;
  switch (rng.int(0, 3)) {
    case 0: { const value = randomValue(rng); return { key, target: 'value', operator, value: value.length === 0 ? Uint8Array.of(0x41) : value }; }
    case 1: return { key, target: 'version', operator, value: rng.int(0, 3) };
    case 2: return { key, target: 'createRevision', operator, value: rng.int(0, revisionNow + 1) };
    default: return { key, target: 'modRevision', operator, value: rng.int(0, revisionNow + 1) };
  }
}

const shift = (compare: KvCompare, base: number): KvCompare =>
  compare.target === 'createRevision' || compare.target === 'modRevision' ? { ...compare, value: compare.value === 0 ? 0 : compare.value + base } : compare;

const etcdTargets = { value: 'VALUE', version: 'VERSION', createRevision: 'CREATE', modRevision: 'MOD' } as const;
const etcdResults = { '=': 'EQUAL', '!=': 'NOT_EQUAL', '<': 'LESS', '>': 'GREATER' } as const;

function etcdCompare(compare: KvCompare): Record<string, unknown> {
  const operand = compare.target === 'value' ? { value: base64(compare.value) }
    : compare.target === 'version' ? { version: String(compare.value) }
      : compare.target === 'createRevision' ? { create_revision: String(compare.value) } : { mod_revision: String(compare.value) };
  return { key: base64(compare.key), target: etcdTargets[compare.target], result: etcdResults[compare.operator], ...operand };
}

function etcdOp(op: KvOp): Record<string, unknown> {
  const end = op.type !== 'put' && op.rangeEnd !== undefined ? { range_end: base64(op.rangeEnd) } : {};
  switch (op.type) {
    case 'put': return { request_put: { key: base64(op.key), value: base64(op.value), ...(op.prevKv ? { prev_kv: true } : {}) } };
    case 'deleteRange': return { request_delete_range: { key: base64(op.key), ...end, ...(op.prevKv ? { prev_kv: true } : {}) } };
    case 'range': return { request_range: { key: base64(op.key), ...end, ...(op.limit ? { limit: String(op.limit) } : {}), ...(op.keysOnly ? { keys_only: true } : {}), ...(op.countOnly ? { count_only: true } : {}) } };
  }
}

function normalOurs(response: KvOpResponse, base: number): unknown {
  switch (response.type) {
    case 'put': return { type: 'put', prevKv: response.prevKv === undefined ? null : ours(response.prevKv, base) };
    case 'deleteRange': return { type: 'deleteRange', deleted: response.deleted, prevKvs: (response.prevKvs ?? []).map((kv) => ours(kv, base)) };
    case 'range': return { type: 'range', kvs: response.kvs.map((kv) => ours(kv, base)), more: response.more, count: response.count };
  }
}

function normalTheirs(response: Record<string, Record<string, unknown>>, base: number): unknown {
  if (response.response_put) return { type: 'put', prevKv: response.response_put.prev_kv === undefined ? null : theirs(response.response_put.prev_kv as EtcdKeyValue, base) };
  if (response.response_delete_range) {
    const body = response.response_delete_range;
    return { type: 'deleteRange', deleted: Number(body.deleted ?? 0), prevKvs: ((body.prev_kvs ?? []) as EtcdKeyValue[]).map((kv) => theirs(kv, base)) };
  }
  const body = response.response_range ?? {};
  return { type: 'range', kvs: ((body.kvs ?? []) as EtcdKeyValue[]).map((kv) => theirs(kv, base)), more: body.more === true, count: Number(body.count ?? 0) };
}

const eventOurs = (event: KvEvent, base: number): unknown => ({ type: event.type, kv: ours(event.kv, base) });
const eventTheirs = (event: EtcdEvent, base: number): unknown => ({ type: event.type === 'DELETE' ? 'delete' : 'put', kv: theirs(event.kv, base) });

describe('differential: our replicated KV against etcd', () => {
  let cluster: RaftProcessCluster;
  let etcd: EtcdServer;
  let client: RaftKvClient;

  beforeAll(async () => {
    [cluster, etcd] = await Promise.all([RaftProcessCluster.start({ names: ['n1', 'n2', 'n3'] }), EtcdServer.start()]);
    client = new RaftKvClient({ clientId: 'differential', replicas: cluster.names, transport: cluster.transport, attemptTimeoutMs: 2_000, giveUpMs: 60_000 });
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled([cluster?.stop(), etcd?.stop()]);
  });

  it('agrees with etcd on every transaction result, every watch event and compaction', async () => {
    expect(etcd.version).toMatch(/3\.4/);
    const oursBase = ((await client.range({ key: Uint8Array.of(0) })) as Extract<KvCommandOutcome, { type: 'txn' }>).revision;
    const etcdBase = Number(((await etcd.post('/v3/kv/range', { key: base64(Uint8Array.of(0)) })).header as { revision: string }).revision);
    const rng = createRng(Number(process.env.SEED ?? 20_261_201));
    let revisionNow = 0;
    for (let step = 0; step < 250; step += 1) {
      const compare = Array.from({ length: rng.int(0, 2) }, () => randomCompare(rng, revisionNow));
      const txn: KvTxn = { compare, success: randomBranch(rng), failure: rng.next() < 0.5 ? randomBranch(rng) : [] };
      const mine = await client.txn({ ...txn, compare: compare.map((item) => shift(item, oursBase)) }, 'log');
      const reply = await etcd.post('/v3/kv/txn', { compare: compare.map((item) => etcdCompare(shift(item, etcdBase))), success: txn.success.map(etcdOp), failure: txn.failure.map(etcdOp) });
      if (!mine.ok || mine.type !== 'txn') throw new Error(`step ${step}: ours refused ${JSON.stringify(mine)}`);
      if (reply.error !== undefined) throw new Error(`step ${step}: etcd refused ${JSON.stringify(reply.error)}`);
      const context = `step ${step} (SEED=${process.env.SEED ?? 20_261_201}): ${JSON.stringify(txn, (_name, value: unknown) => (value instanceof Uint8Array ? hex(value) : value))}`;
      expect({ revision: mine.revision - oursBase, succeeded: mine.succeeded, responses: mine.responses.map((response) => normalOurs(response, oursBase)) }, context).toEqual({
        revision: Number((reply.header as { revision: string }).revision) - etcdBase,
        succeeded: reply.succeeded === true,
        responses: ((reply.responses ?? []) as Array<Record<string, Record<string, unknown>>>).map((response) => normalTheirs(response, etcdBase)),
      });
      revisionNow = mine.revision - oursBase;
    }
    expect(revisionNow).toBeGreaterThan(30);

    // Every event from the first write on, in order, from one of our replicas and from etcd.
    const mineEvents: KvEvent[] = [];
    for (let next = oursBase + 1; next <= oursBase + revisionNow;) {
      const poll = (await cluster.transport.ask(cluster.names[0]!, { type: 'kv.watch', key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0), fromRevision: next }, 10_000)) as KvWatchReply;
      if (!poll.ok) throw new Error(`watch refused: ${JSON.stringify(poll)}`);
      mineEvents.push(...poll.events);
      next = poll.nextRevision;
    }
    const theirsEvents = await etcd.watch({ key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0), startRevision: etcdBase + 1, count: mineEvents.length, timeoutMs: 60_000 });
    expect(mineEvents.length).toBeGreaterThan(revisionNow);
    expect(mineEvents.map((event) => eventOurs(event, oursBase))).toEqual(theirsEvents.events.map((event) => eventTheirs(event, etcdBase)));

    // Compaction: both refuse a watch from below the compacted revision, naming the same revision.
    const compactAt = Math.floor(revisionNow / 2);
    expect(await client.compact(oursBase + compactAt)).toMatchObject({ ok: true, type: 'compact', compactRevision: oursBase + compactAt });
    expect((await etcd.post('/v3/kv/compaction', { revision: String(etcdBase + compactAt), physical: true })).error).toBeUndefined();
    const refused = await (async () => {
      try {
        for await (const _event of client.watch({ key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0), fromRevision: oursBase + 1 })) return undefined;
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(refused).toBeInstanceOf(KvWatchError);
    expect((refused as KvWatchError).code).toBe('COMPACTED');
    const theirsCompacted = await etcd.watch({ key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0), startRevision: etcdBase + 1, count: 1, timeoutMs: 30_000 });
    expect(theirsCompacted.compactRevision! - etcdBase).toBe((refused as KvWatchError).compactRevision - oursBase);
  }, 600_000);
});
