/**
 * The Kafka adapter (kafkajs 2.x): client construction, the dead-letter publisher, and the
 * conversion of fetched batches into the worker's plain messages. The consumer loop itself lives in
 * ingestion.ts, which drives kafkajs's `eachBatch` with manual offset management.
 */
import kafkajs, { Kafka, logLevel, type Batch, type Message, type Producer } from 'kafkajs';
import type { RawMessage } from './core/partition.js';
import { PipelineError } from './errors.js';
import type { DeadLetterRow } from './store.js';

/** Builds a kafkajs client; logs only errors unless `KAFKAJS_LOG=info|debug`. */
export function createKafka(brokers: readonly string[], clientId: string): Kafka {
  const level = process.env.KAFKAJS_LOG === 'debug' ? logLevel.DEBUG : process.env.KAFKAJS_LOG === 'info' ? logLevel.INFO : logLevel.NOTHING;
  return new Kafka({ clientId, brokers: [...brokers], logLevel: level, retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 } });
}

/** Converts a fetched batch to the worker's messages (offsets as numbers: safe far beyond any real log). */
export function toRawMessages(batch: Batch): RawMessage[] {
  return batch.messages.map((message) => ({
    offset: Number(message.offset),
    key: message.key === null ? null : message.key.toString('utf8'),
    value: message.value === null ? null : new Uint8Array(message.value.buffer, message.value.byteOffset, message.value.byteLength),
  }));
}

/** Publishes dead letters; the pipeline calls it after the database commit (outbox). */
export interface DeadLetterPublisher {
  publish(rows: readonly DeadLetterRow[]): Promise<void>;
  close(): Promise<void>;
}

/** Default dead-letter topic of a topic. */
export function deadLetterTopicOf(topic: string): string {
  return `${topic}.dlq`;
}

/** Broker refusals that no retry can change: the record itself is too large or invalid for the topic. */
const permanentRefusals: ReadonlySet<string> = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE', 'POLICY_VIOLATION']);

/** True when `error` (or an error it wraps) is a broker refusal that retrying cannot change. */
export function isPermanentRefusal(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; current = current.cause, depth += 1) {
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string' && permanentRefusals.has(type)) return true;
  }
  return false;
}

/** Options of `kafkaDeadLetterPublisher`. */
export interface DeadLetterPublisherOptions {
  /**
   * The topic whose dead letters go here: a missing dead-letter topic is created with the source's
   * partition count and `max.message.bytes`, since a dead letter is its message plus a longer key and
   * headers and the broker's default limit may be smaller than the source topic's.
   */
  readonly sourceTopic?: string;
  /** Bytes of a value kept when the broker refuses the whole dead letter for good. */
  readonly truncatedValueBytes?: number;
}

/** Default `truncatedValueBytes`. */
export const deadLetterTruncatedValueBytes = 64 * 1024;

/**
 * A publisher to `topic` with an idempotent producer. Each dead letter keeps the original value and
 * carries the reason and origin in headers; its key `<topic>/<partition>/<offset>` lets a reader drop
 * the rare second copy (published again after a crash between publishing and marking).
 *
 * A dead letter the broker refuses for good (MESSAGE_TOO_LARGE and kin) is published again with its
 * value cut to `truncatedValueBytes` (header `truncated: <original bytes>`), and, refused again, with
 * no value: the outbox must drain, or one message would hold its partition's dead letters forever.
 * Transient failures throw KAFKA_FAILED; the caller retries later.
 */
export async function kafkaDeadLetterPublisher(kafka: Kafka, topic: string, options: DeadLetterPublisherOptions = {}): Promise<DeadLetterPublisher> {
  if (options.sourceTopic !== undefined) await ensureDeadLetterTopic(kafka, topic, options.sourceTopic);
  const truncatedValueBytes = options.truncatedValueBytes ?? deadLetterTruncatedValueBytes;
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  try {
    await producer.connect();
  } catch (cause) {
    throw new PipelineError('KAFKA_FAILED', `dead-letter producer could not connect: ${(cause as Error).message}`, { cause });
  }
  const send = async (rows: readonly DeadLetterRow[], shape: 'whole' | 'truncated' | 'empty'): Promise<void> => {
    await producer.send({ topic, acks: -1, messages: rows.map((row) => deadLetterRecord(row, shape, truncatedValueBytes)) });
  };
  return {
    async publish(rows) {
      if (rows.length === 0) return;
      try {
        await send(rows, 'whole');
        return;
      } catch (cause) {
        if (!isPermanentRefusal(cause)) throw new PipelineError('KAFKA_FAILED', `publishing ${rows.length} dead letters to ${topic} failed: ${(cause as Error).message}`, { cause });
      }
      // Some record is too large or invalid for the topic: publish one by one, cutting down those refused.
      for (const row of rows) await publishOne(row, send, topic);
    },
    close: () => producer.disconnect(),
  };
}

async function publishOne(row: DeadLetterRow, send: (rows: readonly DeadLetterRow[], shape: 'whole' | 'truncated' | 'empty') => Promise<void>, topic: string): Promise<void> {
  for (const shape of ['whole', 'truncated', 'empty'] as const) {
    try {
      await send([row], shape);
      return;
    } catch (cause) {
      if (!isPermanentRefusal(cause) || shape === 'empty') {
        throw new PipelineError('KAFKA_FAILED', `publishing the dead letter of ${row.topic}/${row.partition}/${row.offset} to ${topic} failed: ${(cause as Error).message}`, { cause });
      }
    }
  }
}

function deadLetterRecord(row: DeadLetterRow, shape: 'whole' | 'truncated' | 'empty', truncatedValueBytes: number): Message {
  const headers: Record<string, string> = {
    reason: row.reason, detail: row.detail.slice(0, 1000), 'source-topic': row.topic, 'source-partition': String(row.partition), 'source-offset': String(row.offset),
  };
  let value: Buffer | null = row.value === null ? null : Buffer.from(row.value);
  if (shape !== 'whole' && value !== null) {
    headers.truncated = String(value.byteLength);
    value = shape === 'truncated' ? value.subarray(0, truncatedValueBytes) : null;
  }
  return { key: `${row.topic}/${row.partition}/${row.offset}`, value, headers };
}

/** Creates the dead-letter topic if missing, with the source topic's partitions and `max.message.bytes`. */
async function ensureDeadLetterTopic(kafka: Kafka, topic: string, sourceTopic: string): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const existing = await admin.listTopics();
    if (existing.includes(topic)) return;
    const configs = existing.includes(sourceTopic)
      ? await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: sourceTopic, configNames: ['max.message.bytes'] }] })
      : undefined;
    const maxMessageBytes = configs?.resources[0]?.configEntries.find((entry) => entry.configName === 'max.message.bytes')?.configValue;
    const metadata = existing.includes(sourceTopic) ? await admin.fetchTopicMetadata({ topics: [sourceTopic] }) : undefined;
    const numPartitions = metadata?.topics[0]?.partitions.length ?? 1;
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions, ...(maxMessageBytes === undefined ? {} : { configEntries: [{ name: 'max.message.bytes', value: maxMessageBytes }] }) }],
    });
  } catch (cause) {
    throw new PipelineError('KAFKA_FAILED', `could not create the dead-letter topic ${topic}: ${(cause as Error).message}`, { cause });
  } finally {
    await admin.disconnect();
  }
}
