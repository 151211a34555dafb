/**
 * Pipeline benchmark: `npm run bench -- pipeline [documents]`.
 *
 * Against a real Kafka broker and a real PostgreSQL with pgvector (started here from test/services,
 * or KAFKA_BROKERS / DATABASE_URL when set), in one run:
 *   - baseline: raw kafkajs consumption of the topic (a consumer group that only decodes the bytes);
 *   - ours: end-to-end ingestion of the same topic (parse, chunk, embed with the hashing embedder,
 *     one transaction per batch with rows + offset, HNSW index maintained), in documents/s;
 *   - retrieval: query latency p50/p99 and recall@10 against exact search at hnsw.ef_search 40 and 100.
 * The last line is the JSON summary; ratio = ingestion docs/s over raw consumption messages/s.
 */
import { Kafka, logLevel } from 'kafkajs';
import { createRng } from '../../runtime/index.js';
import { createNode } from '../../supervisors/index.js';
import { createSearch, hashingEmbedder, PipelineStore, recallAtK, startIngestion } from '../../actors/pipeline/index.js';
import { createTopicsReady, startKafka } from '../services/kafka.js';
import { startPostgres } from '../services/postgres.js';
import { waitFor } from '../support/wait.js';

const documentCount = Number(process.argv[2] ?? 3000);
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

/** Baseline: a plain kafkajs group consumer that decodes every value, nothing else. */
async function rawConsume(kafka: Kafka, topic: string, total: number): Promise<number> {
  const consumer = kafka.consumer({ groupId: `${topic}-raw`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let bytes = 0;
  const startedAtMs = performance.now();
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      partitionsConsumedConcurrently: partitions,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) bytes += message.value?.toString('utf8').length ?? 0;
        seen += batch.messages.length;
        if (seen >= total) resolve();
      },
    });
  });
  await done;
  const seconds = (performance.now() - startedAtMs) / 1000;
  await consumer.disconnect();
  if (bytes === 0) throw new Error('raw consumer read nothing');
  return total / seconds;
}

async function ingest(brokers: string, topic: string, store: PipelineStore, total: number): Promise<number> {
  const node = await createNode({ name: 'bench' });
  const startedAtMs = performance.now();
  const ingestion = await startIngestion(node, {
    brokers: [brokers], topic, groupId: `${topic}-pipeline`, store, embedder: hashingEmbedder({ dimensions: 256 }), deadLetterTopic: false,
    consumer: { maxWaitTimeMs: 100 },
  });
  await waitFor(async () => (await store.offsets(`${topic}-pipeline`)).reduce((sum, row) => sum + row.nextOffset, 0) >= total,
    { timeoutMs: 300_000, intervalMs: 50, what: 'the ingestion to reach the end of the topic' });
  const seconds = (performance.now() - startedAtMs) / 1000;
  await ingestion.stop();
  await node.stop();
  return total / seconds;
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
    const rawMessagesPerSecond = await rawConsume(kafka, topic, total);
    await store.migrate();
    const documentsPerSecond = await ingest(brokers, topic, store, total);
    const counts = await store.counts();
    const ef40 = await queries(store, 40);
    const ef100 = await queries(store, 100);
    console.log(`documents ${counts.documents}, chunks ${counts.chunks}; raw kafkajs ${rawMessagesPerSecond.toFixed(0)} msg/s; ingestion ${documentsPerSecond.toFixed(0)} docs/s`);
    console.log(`ef_search 40: p50 ${ef40.p50Ms} ms, p99 ${ef40.p99Ms} ms, recall@10 ${ef40.recallAt10}; ef_search 100: p50 ${ef100.p50Ms} ms, p99 ${ef100.p99Ms} ms, recall@10 ${ef100.recallAt10}`);
    console.log(JSON.stringify({
      bench: 'pipeline',
      documents: counts.documents,
      chunks: counts.chunks,
      ingestedDocumentsPerSecond: round(documentsPerSecond),
      query: { efSearch40: ef40, efSearch100: ef100 },
      baseline: { rawKafkajsMessagesPerSecond: round(rawMessagesPerSecond) },
      ratio: round(documentsPerSecond / rawMessagesPerSecond),
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
