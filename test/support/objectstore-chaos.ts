/**
 * The process chaos scenario for the object store: a 3-node cluster of real processes, each running a
 * Raft replica and an S3 gateway, under S3 clients (the real AWS SDK) that PUT, overwrite, create with
 * If-None-Match, GET, LIST and DELETE a few keys through whichever gateway they reach, while a
 * nemesis kill -9s the leader, isolates it behind the partition proxies and kills a follower, on a
 * seeded schedule. Like the Raft scenario (raft-chaos.ts) it is a budget of work, not of time. Then:
 *   - the history of the contended keys (unknown outcomes included: a cut connection or a 503 leaves a
 *     write's outcome unknown) is linearizable against a sequential model of a bucket;
 *   - every acknowledged ledger object (multi-chunk, written once under its own key) reads back whole,
 *     byte for byte, through every gateway.
 */
import { createHash } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException, CreateBucketCommand } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createRng, type Rng } from '../../runtime/index.js';
import { checkLinearizability, type HistoryOperation, type LinearizabilityResult, type Model } from './linearizability.js';
import { freePort } from './net.js';
import { nemesis } from './raft-chaos.js';
import { RaftProcessCluster } from './raft-cluster.js';
import { waitFor } from './wait.js';

/** An S3 operation of the workload. */
export type S3Operation =
  | { readonly type: 'put'; readonly key: string; readonly value: string }
  | { readonly type: 'create'; readonly key: string; readonly value: string }
  | { readonly type: 'get'; readonly key: string }
  | { readonly type: 'delete'; readonly key: string }
  | { readonly type: 'list'; readonly prefix: string };

/** Its outcome. */
export type S3Outcome =
  | { readonly type: 'put' }
  | { readonly type: 'create'; readonly created: boolean }
  | { readonly type: 'get'; readonly value: string | null }
  | { readonly type: 'delete' }
  | { readonly type: 'list'; readonly pairs: ReadonlyArray<readonly [string, string]> };

type State = ReadonlyMap<string, string>;

const set = (state: State, key: string, value: string | null): State => {
  const next = new Map(state);
  if (value === null) next.delete(key);
  else next.set(key, value);
  return next;
};

/** The sequential specification: a bucket as a map from key to value. */
export const bucketModel: Model<State, S3Operation, S3Outcome> = {
  init: () => new Map(),
  step(state, operation, output) {
    switch (operation.type) {
      case 'put':
        return set(state, operation.key, operation.value);
      case 'create': {
        const created = !state.has(operation.key);
        if (output !== undefined && (output.type !== 'create' || output.created !== created)) return null;
        return created ? set(state, operation.key, operation.value) : state;
      }
      case 'get':
        return output === undefined || (output.type === 'get' && output.value === (state.get(operation.key) ?? null)) ? state : null;
      case 'delete':
        return set(state, operation.key, null);
      case 'list': {
        if (output === undefined) return state;
        if (output.type !== 'list') return null;
        const expected = [...state].filter(([key]) => key.startsWith(operation.prefix)).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        return expected.length === output.pairs.length && expected.every(([key, value], index) => output.pairs[index]![0] === key && output.pairs[index]![1] === value) ? state : null;
      }
    }
  },
  key: (state) => JSON.stringify([...state].sort()),
  // Keys under `l/` are listed together (one partition); every other key is independent.
  partition(history) {
    const groups = new Map<string, Array<HistoryOperation<S3Operation, S3Outcome>>>();
    for (const operation of history) {
      const input = operation.input;
      const group = input.type === 'list' ? input.prefix : input.key.startsWith('l/') ? 'l/' : input.key;
      groups.set(group, [...(groups.get(group) ?? []), operation]);
    }
    return [...groups.values()];
  },
};

/** Knobs of a run. */
export interface ObjectStoreChaosOptions {
  readonly seed: number;
  readonly faultRounds: number;
  readonly operationsBetweenFaults: number;
  readonly acknowledgedMin: number;
  readonly ledgerMin: number;
  readonly workloadMsMax: number;
  readonly clients: number;
}

/** What a run found. */
export interface ObjectStoreChaosReport {
  readonly operations: number;
  readonly acknowledged: number;
  readonly unknown: number;
  readonly faults: { leaderKills: number; followerKills: number; partitions: number };
  readonly ledgerAcknowledged: number;
  readonly lostOrTorn: readonly string[];
  readonly linearizability: LinearizabilityResult<S3Operation, S3Outcome>;
}

const credentials = { accessKeyId: 'TROUPECHAOSKEY000001', secretAccessKey: 'troupe-chaos-secret-0000000000000000000' };
const names = ['n1', 'n2', 'n3'];
const contended = ['k0', 'k1', 'l/0', 'l/1', 'l/2'];
const bucket = 'chaos';

/** The body of a ledger object: 1.5 MiB derived from its value (two chunks, so never written inline). */
function ledgerBody(value: string): Buffer {
  const seed = createHash('sha256').update(value).digest();
  const body = Buffer.alloc(1536 * 1024);
  for (let offset = 0; offset < body.length; offset += seed.length) seed.copy(body, offset);
  return body;
}

/** Runs the scenario; the cluster is always stopped. */
export async function runObjectStoreChaos(options: ObjectStoreChaosOptions): Promise<ObjectStoreChaosReport> {
  const ports = new Map<string, number>();
  for (const name of names) ports.set(name, await freePort());
  const cluster = await RaftProcessCluster.start({
    names, snapshotThreshold: 2_000,
    nodeArgs: (name) => ['--s3-port', String(ports.get(name)!), '--s3-access-key', credentials.accessKeyId, '--s3-secret-key', credentials.secretAccessKey],
  });
  const clients = new Map<string, S3Client>();
  const clientOf = (name: string): S3Client => {
    let client = clients.get(name);
    if (client === undefined) {
      client = new S3Client({
        endpoint: `http://127.0.0.1:${ports.get(name)!}`, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1,
        requestHandler: new NodeHttpHandler({ connectionTimeout: 2_000, requestTimeout: 30_000 }),
      });
      clients.set(name, client);
    }
    return client;
  };
  try {
    await cluster.leader();
    for (const name of names) await waitFor(async () => (await fetch(`http://127.0.0.1:${ports.get(name)!}/`).catch(() => undefined))?.status === 403, { timeoutMs: 60_000, what: `the gateway of ${name}` });
    await clientOf('n1').send(new CreateBucketCommand({ Bucket: bucket }));
    const history: Array<HistoryOperation<S3Operation, S3Outcome>> = [];
    const ledger = new Map<string, string>();
    const etags = new Map<string, string>();
    const acknowledged = (): number => history.filter((operation) => operation.output !== undefined).length;
    let faulting = true;
    const stopAt = Date.now() + options.workloadMsMax;
    const running = (): boolean => Date.now() < stopAt && (faulting || acknowledged() < options.acknowledgedMin || ledger.size < options.ledgerMin);
    const workload = Array.from({ length: options.clients }, (_, index) => runClient({ id: `c${index}`, rng: createRng(options.seed * 31 + index), clientOf, running, history, ledger, etags, home: index }));
    let faults: ObjectStoreChaosReport['faults'];
    try {
      faults = await nemesis(cluster, createRng(options.seed), { rounds: options.faultRounds, progress: acknowledged, operationsBetween: options.operationsBetweenFaults, progressTimeoutMs: 180_000 });
    } finally {
      faulting = false;
    }
    await Promise.all(workload);
    for (const name of names) if (!cluster.isRunning(name)) await cluster.restart(name);
    await cluster.leader();
    for (const name of names) await waitFor(async () => (await fetch(`http://127.0.0.1:${ports.get(name)!}/`).catch(() => undefined))?.status === 403, { timeoutMs: 60_000, what: `the gateway of ${name}` });
    for (const client of clients.values()) client.destroy();
    clients.clear();
    const lostOrTorn: string[] = [];
    for (const [key, value] of ledger) {
      const expected = createHash('sha256').update(ledgerBody(value)).digest('hex');
      for (const name of names) {
        const got = await clientOf(name).send(new GetObjectCommand({ Bucket: bucket, Key: key })).then(async (output) => createHash('sha256').update(await output.Body!.transformToByteArray()).digest('hex'), (error: unknown) => `error ${(error as Error).name}`);
        if (got !== expected) lostOrTorn.push(`${key} through ${name}: ${got}`);
      }
    }
    return {
      operations: history.length, acknowledged: acknowledged(), unknown: history.length - acknowledged(), faults, ledgerAcknowledged: ledger.size, lostOrTorn,
      linearizability: checkLinearizability(bucketModel, history, { stepsMax: 3_000_000 }),
    };
  } finally {
    for (const client of clients.values()) client.destroy();
    await cluster.stop();
  }
}

interface ClientRun {
  readonly id: string;
  readonly rng: Rng;
  readonly clientOf: (name: string) => S3Client;
  readonly running: () => boolean;
  readonly history: Array<HistoryOperation<S3Operation, S3Outcome>>;
  readonly ledger: Map<string, string>;
  readonly etags: Map<string, string>;
  home: number;
}

const etagOf = (value: string): string => `"${createHash('md5').update(value).digest('hex')}"`;

/** One client: sequential operations through its current gateway, moving on when that one fails. */
async function runClient(run: ClientRun): Promise<void> {
  let counter = 0;
  while (run.running()) {
    counter += 1;
    const value = `${run.id}:${counter}`;
    run.etags.set(etagOf(value), value);
    const roll = run.rng.next();
    const key = contended[run.rng.int(0, contended.length - 1)]!;
    const gateway = names[run.home % names.length]!;
    const client = run.clientOf(gateway);
    if (roll < 0.15) {
      const ledgerKey = `ledger/${run.id}/${counter}`;
      const ok = await client.send(new PutObjectCommand({ Bucket: bucket, Key: ledgerKey, Body: ledgerBody(value) })).then(() => true, () => false);
      if (ok) run.ledger.set(ledgerKey, value);
      else run.home += 1;
      continue;
    }
    const operation: S3Operation = roll < 0.4 ? { type: 'put', key, value } : roll < 0.5 ? { type: 'create', key, value } : roll < 0.75 ? { type: 'get', key } : roll < 0.85 ? { type: 'delete', key } : { type: 'list', prefix: 'l/' };
    const call = performance.now();
    const output = await perform(client, operation, run.etags);
    if (output === undefined) run.home += 1;
    run.history.push({ clientId: run.id, input: operation, call, output, return: output === undefined ? Infinity : performance.now() });
  }
}

/** Runs one operation; undefined when its outcome is unknown (a cut connection, a 5xx). */
async function perform(client: S3Client, operation: S3Operation, etags: ReadonlyMap<string, string>): Promise<S3Outcome | undefined> {
  try {
    switch (operation.type) {
      case 'put':
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: operation.key, Body: operation.value }));
        return { type: 'put' };
      case 'create':
        try {
          await client.send(new PutObjectCommand({ Bucket: bucket, Key: operation.key, Body: operation.value, IfNoneMatch: '*' }));
          return { type: 'create', created: true };
        } catch (error) {
          if (error instanceof S3ServiceException && error.name === 'PreconditionFailed') return { type: 'create', created: false };
          throw error;
        }
      case 'get':
        try {
          const output = await client.send(new GetObjectCommand({ Bucket: bucket, Key: operation.key }));
          return { type: 'get', value: await output.Body!.transformToString() };
        } catch (error) {
          if (error instanceof S3ServiceException && error.name === 'NoSuchKey') return { type: 'get', value: null };
          throw error;
        }
      case 'delete':
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: operation.key }));
        return { type: 'delete' };
      case 'list': {
        const output = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: operation.prefix }));
        return { type: 'list', pairs: (output.Contents ?? []).map((object) => [object.Key!, etags.get(object.ETag!) ?? `unknown etag ${object.ETag}`] as const) };
      }
    }
  } catch {
    return undefined;
  }
}

