/**
 * Pipeline benchmark: `npm run bench -- pipeline [documents]`.
 *
 * Against a real Kafka broker and a real PostgreSQL with pgvector (started here from test/services,
 * or KAFKA_BROKERS / DATABASE_URL when set), in one run:
 *   - baseline: raw kafkajs consumption of the topic (a consumer group that only decodes the bytes);
 *   - ours, live: end-to-end ingestion of the same topic (parse, chunk, embed with the hashing
 *     embedder, one transaction per batch with rows + offset, HNSW index maintained row by row);
 *   - ours, bulk: the same into a schema without the index (`index: 'deferred'`, what a replay into an
 *     empty schema uses), then one CREATE INDEX; reported with and without the index build;
 *   - where the time goes: CPU seconds of this process, Postgres and the broker during each run;
 *   - retrieval: query latency p50/p99 and recall@10 against exact search at hnsw.ef_search 40 and 100,
 *     and the paraphrase benchmark (retrieval.ts): recall@10 and MRR of the hashing and MiniLM embedders.
 * Rates are steady state: messages after the first batch over the time from the first batch (raw) or
 * the first commit (ours) to the last, so the group join is left out of both.
 * The last line is the JSON summary; ratio = live ingestion docs/s over raw messages/s.
 */
import { Kafka, logLevel } from 'kafkajs';
import { createRng } from '../../runtime/index.js';
import { createNode } from '../../supervisors/index.js';
import { readdirSync, readFileSync } from 'node:fs';
import { createSearch, hashingEmbedder, PipelineStore, recallAtK, startIngestion } from '../../actors/pipeline/index.js';
import { ensureMiniLmModel } from '../services/minilm.js';
import { runRetrievalBenchmark } from './retrieval.js';
import { createTopicsReady, startKafka } from '../services/kafka.js';
import { startPostgres } from '../services/postgres.js';
import { waitFor } from '../support/wait.js';

const documentCount = Number(process.argv[2] ?? 10_000);
const queryCount = 200;
const partitions = 4;
const words = ('actor mailbox supervisor restart crash message queue offset partition broker replica leader follower term vote log snapshot '
  + 'checkpoint durable fsync batch stream window latency throughput cache shard tenant quota token schema index vector embedding cosine '
  + 'chunk overlap digest replay retry backoff jitter deadline timeout heartbeat member group coordinator commit raft kafka postgres '
  + 'socket frame codec limit budget clock timer seed simulation chaos partition network disk corruption torn write recovery').split(' ');

function sentence(rng: ReturnType<typeof createRng>, length: number): string {
  return Array.from({ length }, () => words[rng.int(0, words.length - 1)]!).join(' ');
}

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

async function produce(kafka: Kafka, brokers: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  const producer = kafka.producer();
  await admin.connect();
  await producer.connect();
  await createTopicsReady(brokers, [{ topic, numPartitions: partitions }]);
  const rng = createRng(42);
  for (let start = 0; start < documentCount; start += 200) {
    const messages = [];
    for (let index = start; index < Math.min(documentCount, start + 200); index += 1) {
      messages.push({ key: `doc-${index}`, value: JSON.stringify({ id: `doc-${index}`, title: `Document ${index}`, body: sentence(rng, 60 + rng.int(0, 140)), metadata: { shard: index % 8 } }) });
    }
    await producer.send({ topic, messages });
  }
  const total = (await admin.fetchTopicOffsets(topic)).reduce((sum, offset) => sum + Number(offset.high), 0);
  await producer.disconnect();
  await admin.disconnect();
  return total;
}

/** CPU seconds (user + system) of each live process whose command line contains one of `needles`, by pid. */
function cpuByPid(needles: readonly string[]): Map<string, number> {
  const ticksPerSecond = 100;
  const times = new Map<string, number>();
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!needles.some((needle) => command.includes(needle))) continue;
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      times.set(pid, (Number(fields[11]) + Number(fields[12])) / ticksPerSecond);
    } catch {
      // The process ended while we looked.
    }
  }
  return times;
}

interface CpuSplit { readonly node: number; readonly postgres: number; readonly kafka: number }
type CpuSnapshot = Record<keyof CpuSplit, Map<string, number>>;

function cpuSnapshot(): CpuSnapshot {
  const usage = process.cpuUsage();
  return { node: new Map([[String(process.pid), (usage.user + usage.system) / 1e6]]), postgres: cpuByPid(['postgres']), kafka: cpuByPid(['kafka.Kafka', 'kafka-server']) };
}

/**
 * CPU seconds each group spent since `before`: per pid, so a process that exited in between (a pooled
 * backend closed when idle) takes nothing away, and one that started counts in full.
 */
function cpuSince(before: CpuSnapshot): CpuSplit {
  const now = cpuSnapshot();
  const delta = (group: keyof CpuSplit): number => {
    let total = 0;
    for (const [pid, seconds] of now[group]) total += seconds - (before[group].get(pid) ?? 0);
    return round(total);
  };
  return { node: delta('node'), postgres: delta('postgres'), kafka: delta('kafka') };
}

/** Baseline: a plain kafkajs group consumer that decodes every value, nothing else; steady-state messages/s. */
async function rawConsume(kafka: Kafka, topic: string, total: number): Promise<{ messagesPerSecond: number; cpu: CpuSplit }> {
  const consumer = kafka.consumer({ groupId: `${topic}-raw`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let bytes = 0;
  let first: { atMs: number; messages: number; cpu: CpuSnapshot } | undefined;
  let lastAtMs = 0;
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      partitionsConsumedConcurrently: partitions,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) bytes += message.value?.toString('utf8').length ?? 0;
        seen += batch.messages.length;
        first ??= { atMs: performance.now(), messages: seen, cpu: cpuSnapshot() };
        lastAtMs = performance.now();
        if (seen >= total) resolve();
      },
    });
  });
  await done;
  const cpu = cpuSince(first!.cpu);
  await consumer.disconnect();
  if (bytes === 0) throw new Error('raw consumer read nothing');
  return { messagesPerSecond: (total - first!.messages) / Math.max(0.001, (lastAtMs - first!.atMs) / 1000), cpu };
}

interface IngestFigures { readonly documentsPerSecond: number; readonly cpu: CpuSplit; readonly indexBuildSeconds?: number; readonly withIndexBuildDocumentsPerSecond?: number }

async function ingest(brokers: string, topic: string, store: PipelineStore, total: number, group: string): Promise<IngestFigures> {
  const node = await createNode({ name: 'bench' });
  let first: { atMs: number; messages: number; cpu: CpuSnapshot } | undefined;
  let committed = 0;
  let lastAtMs = 0;
  const ingestion = await startIngestion(node, {
    brokers: [brokers], topic, groupId: group, store, embedder: hashingEmbedder({ dimensions: 256 }), deadLetterTopic: false,
    consumer: { maxWaitTimeMs: 100 },
    hooks: {
      afterCommit: (_result, plan) => {
        committed += plan.nextOffset - plan.fromOffset;
        first ??= { atMs: performance.now(), messages: committed, cpu: cpuSnapshot() };
        lastAtMs = performance.now();
      },
    },
  });
  await waitFor(async () => (await store.offsets(group)).reduce((sum, row) => sum + row.nextOffset, 0) >= total,
    { timeoutMs: 600_000, intervalMs: 50, what: 'the ingestion to reach the end of the topic' });
  const cpu = cpuSince(first!.cpu);
  await ingestion.stop();
  await node.stop();
  return { documentsPerSecond: (total - first!.messages) / Math.max(0.001, (lastAtMs - first!.atMs) / 1000), cpu };
}

/** Ingestion into a schema without the HNSW index, then one CREATE INDEX. */
async function ingestBulk(brokers: string, databaseUrl: string, topic: string, total: number): Promise<IngestFigures & { store: PipelineStore }> {
  const embedder = hashingEmbedder({ dimensions: 256 });
  const store = new PipelineStore({ url: databaseUrl, schema: `bench_bulk_${Date.now().toString(36)}`, model: embedder.model, dimensions: embedder.dimensions, index: 'deferred' });
  await store.migrate();
  const figures = await ingest(brokers, topic, store, total, `${topic}-bulk`);
  const buildStartedAtMs = performance.now();
  await store.buildIndex();
  const indexBuildSeconds = (performance.now() - buildStartedAtMs) / 1000;
  if (!(await store.hasIndex())) throw new Error('the index was not built');
  const loadSeconds = total / figures.documentsPerSecond;
  return { ...figures, store, indexBuildSeconds: round(indexBuildSeconds), withIndexBuildDocumentsPerSecond: round(total / (loadSeconds + indexBuildSeconds)) };
}

async function queries(store: PipelineStore, efSearch: number): Promise<{ p50Ms: number; p99Ms: number; recallAt10: number }> {
  const search = createSearch(store, hashingEmbedder({ dimensions: 256 }));
  const rng = createRng(7);
  const latencies: number[] = [];
  let recall = 0;
  for (let index = 0; index < queryCount; index += 1) {
    const query = sentence(rng, 3 + rng.int(0, 5));
    const startedAtMs = performance.now();
    const hits = await search.search(query, { k: 10, efSearch });
    latencies.push(performance.now() - startedAtMs);
    recall += recallAtK(hits, await search.searchExact(query, { k: 10 }));
  }
  return { p50Ms: round(percentile(latencies, 0.5)), p99Ms: round(percentile(latencies, 0.99)), recallAt10: round(recall / queryCount) };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

async function main(): Promise<void> {
  const kafkaService = process.env.KAFKA_BROKERS ? undefined : await startKafka();
  const postgresService = process.env.DATABASE_URL ? undefined : await startPostgres();
  const brokers = process.env.KAFKA_BROKERS ?? kafkaService!.brokers;
  const databaseUrl = process.env.DATABASE_URL ?? postgresService!.url;
  const embedder = hashingEmbedder({ dimensions: 256 });
  const store = new PipelineStore({ url: databaseUrl, schema: `bench_${Date.now().toString(36)}`, model: embedder.model, dimensions: embedder.dimensions });
  try {
    const kafka = new Kafka({ clientId: 'bench', brokers: [brokers], logLevel: logLevel.NOTHING });
    const topic = `bench-${Date.now().toString(36)}`;
    const total = await produce(kafka, brokers, topic);
    const raw = await rawConsume(kafka, topic, total);
    await store.migrate();
    const live = await ingest(brokers, topic, store, total, `${topic}-pipeline`);
    const bulk = await ingestBulk(brokers, databaseUrl, topic, total);
    await bulk.store.dropSchema().catch(() => undefined);
    await bulk.store.close();
    const counts = await store.counts();
    const ef40 = await queries(store, 40);
    const ef100 = await queries(store, 100);
    const retrieval = await runRetrievalBenchmark({ databaseUrl, modelDirectory: (await ensureMiniLmModel()).modelDirectory });
    console.log(`documents ${counts.documents}, chunks ${counts.chunks}; raw kafkajs ${raw.messagesPerSecond.toFixed(0)} msg/s (cpu ${JSON.stringify(raw.cpu)})`);
    console.log(`live ingestion (HNSW row by row) ${live.documentsPerSecond.toFixed(0)} docs/s (cpu ${JSON.stringify(live.cpu)})`);
    console.log(`bulk ingestion (no index) ${bulk.documentsPerSecond.toFixed(0)} docs/s (cpu ${JSON.stringify(bulk.cpu)}), then CREATE INDEX ${bulk.indexBuildSeconds} s: ${bulk.withIndexBuildDocumentsPerSecond} docs/s overall`);
    console.log(`ef_search 40: p50 ${ef40.p50Ms} ms, p99 ${ef40.p99Ms} ms, recall@10 ${ef40.recallAt10}; ef_search 100: p50 ${ef100.p50Ms} ms, p99 ${ef100.p99Ms} ms, recall@10 ${ef100.recallAt10}`);
    console.log(`paraphrase retrieval (${retrieval.queries} queries): hashing recall@10 ${retrieval.hashing.recall10} MRR ${retrieval.hashing.mrr}; minilm recall@10 ${retrieval.minilm.recall10} MRR ${retrieval.minilm.mrr}; hybrid recall@10 ${retrieval.hybrid.recall10} MRR ${retrieval.hybrid.mrr}`);
    console.log(JSON.stringify({
      bench: 'pipeline',
      documents: counts.documents,
      chunks: counts.chunks,
      ingestedDocumentsPerSecond: round(live.documentsPerSecond),
      bulk: { documentsPerSecond: round(bulk.documentsPerSecond), indexBuildSeconds: bulk.indexBuildSeconds, withIndexBuildDocumentsPerSecond: bulk.withIndexBuildDocumentsPerSecond, ratio: round(bulk.documentsPerSecond / raw.messagesPerSecond) },
      cpuSeconds: { raw: raw.cpu, live: live.cpu, bulk: bulk.cpu },
      query: { efSearch40: ef40, efSearch100: ef100 },
      retrieval: { hashing: retrieval.hashing, minilm: retrieval.minilm, hybrid: retrieval.hybrid },
      baseline: { rawKafkajsMessagesPerSecond: round(raw.messagesPerSecond) },
      ratio: round(live.documentsPerSecond / raw.messagesPerSecond),
    }));
  } finally {
    await store.dropSchema().catch(() => undefined);
    await store.close();
    await kafkaService?.stop();
    await postgresService?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
