/**
 * Object store benchmark: the S3 gateways of a 3-node cluster of processes (each node a Raft replica
 * and a gateway; test/support/objectstore-cluster.ts), beside a single-node MinIO server on the same
 * machine in the same run (built from the Go module proxy by test/services/s3-peers.ts), both driven
 * by the AWS SDK from this process with the same workload:
 *   - PUT and GET of 4 KiB and 1 MiB objects at 1 and 32 concurrent clients: objects/s and MB/s
 *     (clients spread over the three gateways of the cluster);
 *   - LIST: ListObjectsV2 pages of 1000 keys over a bucket of `OBJECTSTORE_BENCH_LIST_KEYS` keys
 *     (default 100,000), p50 and p99 per page and the whole walk, and whether both systems list the
 *     same keys with the same ETags (with and without a delimiter).
 * `ratio` = geometric mean over the eight PUT/GET phases of (our objects/s / MinIO's objects/s); each
 * phase's own ratio is in `ratios`. Run with `npm run bench -- objectstore`; the last line is the JSON.
 */
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';
import { startMinio } from '../services/s3-peers.js';
import { startGatewayCluster } from '../support/objectstore-cluster.js';

const phaseMs = Number(process.env.OBJECTSTORE_BENCH_MS ?? '4000');
const listKeys = Number(process.env.OBJECTSTORE_BENCH_LIST_KEYS ?? '100000');
const warmupMs = 300;

interface Target {
  readonly name: string;
  /** Clients, one per gateway the target has (round robin). */
  readonly clients: readonly S3Client[];
}

function clientFor(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }): S3Client {
  return new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 3,
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) }),
  });
}

interface Figures {
  readonly objectsPerSecond: number;
  readonly megabytesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const percentile = (sorted: readonly number[], fraction: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0;
const round = (value: number): number => Math.round(value * 100) / 100;

async function measure(workers: number, bytes: number, operation: (worker: number, counter: number) => Promise<void>): Promise<Figures> {
  const latencies: number[] = [];
  const warmupEnd = performance.now() + warmupMs;
  const end = warmupEnd + phaseMs;
  await Promise.all(Array.from({ length: workers }, async (_, worker) => {
    for (let counter = 0; performance.now() < end; counter += 1) {
      const before = performance.now();
      await operation(worker, counter);
      if (before >= warmupEnd) latencies.push(performance.now() - before);
    }
  }));
  latencies.sort((a, b) => a - b);
  const objectsPerSecond = latencies.length / (phaseMs / 1000);
  return { objectsPerSecond: round(objectsPerSecond), megabytesPerSecond: round((objectsPerSecond * bytes) / 1_000_000), p50Ms: round(percentile(latencies, 0.5)), p99Ms: round(percentile(latencies, 0.99)) };
}

async function throughput(target: Target, bucket: string): Promise<Record<string, Figures>> {
  const figures: Record<string, Figures> = {};
  for (const [label, bytes] of [['4k', 4096], ['1m', 1024 * 1024]] as const) {
    const body = Buffer.alloc(bytes, 0x61);
    const keys = 64;
    // Every key the GET phases read exists before any phase runs.
    await Promise.all(Array.from({ length: keys }, (_, key) => target.clients[key % target.clients.length]!.send(new PutObjectCommand({ Bucket: bucket, Key: `${label}/${key}`, Body: body }))));
    for (const workers of [1, 32]) {
      figures[`put${label}x${workers}`] = await measure(workers, bytes, async (worker, counter) => {
        await target.clients[worker % target.clients.length]!.send(new PutObjectCommand({ Bucket: bucket, Key: `${label}/${(worker * 7 + counter) % keys}`, Body: body }));
      });
      figures[`get${label}x${workers}`] = await measure(workers, bytes, async (worker, counter) => {
        const got = await target.clients[worker % target.clients.length]!.send(new GetObjectCommand({ Bucket: bucket, Key: `${label}/${(worker * 13 + counter) % keys}` }));
        await got.Body!.transformToByteArray();
      });
    }
  }
  return figures;
}

async function fillList(target: Target, bucket: string): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async (_, worker) => {
    for (let index = next++; index < listKeys; index = next++) {
      const key = `dir${index % 10}/sub${index % 7}/object-${String(index).padStart(7, '0')}`;
      await target.clients[worker % target.clients.length]!.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `v${index}` }));
    }
  }));
}

async function listWalk(target: Target, bucket: string, delimiter?: string, prefix?: string): Promise<{ pages: number[]; entries: string[] }> {
  const pages: number[] = [];
  const entries: string[] = [];
  let token: string | undefined;
  do {
    const before = performance.now();
    const page = await target.clients[0]!.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000, ContinuationToken: token, Delimiter: delimiter, Prefix: prefix }));
    pages.push(performance.now() - before);
    for (const object of page.Contents ?? []) entries.push(`${object.Key} ${object.ETag} ${object.Size}`);
    for (const common of page.CommonPrefixes ?? []) entries.push(`prefix ${common.Prefix}`);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return { pages, entries };
}

async function listFigures(target: Target, bucket: string): Promise<{ figures: Record<string, number>; listings: string[][] }> {
  const before = performance.now();
  const all = await listWalk(target, bucket);
  const walkMs = performance.now() - before;
  const folded = await listWalk(target, bucket, '/', 'dir3/');
  const sorted = [...all.pages].sort((a, b) => a - b);
  return { figures: { keys: all.entries.length, pages: all.pages.length, pageP50Ms: round(percentile(sorted, 0.5)), pageP99Ms: round(percentile(sorted, 0.99)), walkMs: round(walkMs) }, listings: [all.entries, folded.entries] };
}

async function run(target: Target): Promise<{ throughput: Record<string, Figures>; list: Record<string, number>; listings: string[][]; fillMs: number }> {
  await target.clients[0]!.send(new CreateBucketCommand({ Bucket: 'bench' }));
  await target.clients[0]!.send(new CreateBucketCommand({ Bucket: 'listing' }));
  const figures = await throughput(target, 'bench');
  console.error(`${target.name} throughput: ${JSON.stringify(figures)}`);
  const fillStart = performance.now();
  await fillList(target, 'listing');
  const fillMs = performance.now() - fillStart;
  const list = await listFigures(target, 'listing');
  console.error(`${target.name} list: ${JSON.stringify(list.figures)} (filled ${listKeys} keys in ${Math.round(fillMs)} ms)`);
  return { throughput: figures, list: list.figures, listings: list.listings, fillMs: round(fillMs) };
}

const cluster = await startGatewayCluster();
const minio = await startMinio().catch(async (error: unknown) => {
  await cluster.stop();
  throw error;
});
try {
  const ours = await run({ name: 'troupe', clients: cluster.names.map((name) => clientFor(cluster.endpoint(name), { accessKeyId: 'TROUPECLUSTERKEY0001', secretAccessKey: 'troupe-cluster-secret-000000000000000000' })) });
  const theirs = await run({ name: 'minio', clients: [clientFor(minio.endpoint, minio.credentials)] });
  const ratios = Object.fromEntries(Object.keys(ours.throughput).map((phase) => [phase, round(ours.throughput[phase]!.objectsPerSecond / theirs.throughput[phase]!.objectsPerSecond)]));
  const values = Object.values(ratios);
  const ratio = round(Math.exp(values.reduce((sum, value) => sum + Math.log(Math.max(value, 1e-6)), 0) / values.length));
  const sameList = ours.listings.every((listing, index) => JSON.stringify(listing) === JSON.stringify(theirs.listings[index]));
  console.log(JSON.stringify({
    bench: 'objectstore', phaseMs, listKeys,
    troupe: { ...ours.throughput, list: ours.list, listFillMs: ours.fillMs }, baseline: { name: 'minio (single node)', ...theirs.throughput, list: theirs.list, listFillMs: theirs.fillMs },
    ratios, listRatio: round(theirs.list.walkMs! / ours.list.walkMs!), sameList, ratio,
  }));
} finally {
  await minio.process.stop();
  await cluster.stop();
}
