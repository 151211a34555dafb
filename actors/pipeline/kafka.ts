/**
 * The Kafka adapter (kafkajs 2.x): client construction, the dead-letter publisher, and the
 * conversion of fetched batches into the worker's plain messages. The consumer loop itself lives in
 * ingestion.ts, which drives kafkajs's `eachBatch` with manual offset management.
 */
import { Kafka, logLevel, type Batch, type Producer } from 'kafkajs';
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

/**
 * A publisher to `topic` with an idempotent producer. Each dead letter keeps the original value and
 * carries the reason and origin in headers; its key `<topic>/<partition>/<offset>` lets a reader drop
 * the rare second copy (published again after a crash between publishing and marking).
 */
export async function kafkaDeadLetterPublisher(kafka: Kafka, topic: string): Promise<DeadLetterPublisher> {
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  try {
    await producer.connect();
  } catch (cause) {
    throw new PipelineError('KAFKA_FAILED', `dead-letter producer could not connect: ${(cause as Error).message}`, { cause });
  }
  return {
    async publish(rows) {
      if (rows.length === 0) return;
      try {
        await producer.send({
          topic,
          acks: -1,
          messages: rows.map((row) => ({
            key: `${row.topic}/${row.partition}/${row.offset}`,
            value: row.value === null ? null : Buffer.from(row.value),
            headers: { reason: row.reason, detail: row.detail.slice(0, 1000), 'source-topic': row.topic, 'source-partition': String(row.partition), 'source-offset': String(row.offset) },
          })),
        });
      } catch (cause) {
        throw new PipelineError('KAFKA_FAILED', `publishing ${rows.length} dead letters to ${topic} failed: ${(cause as Error).message}`, { cause });
      }
    },
    close: () => producer.disconnect(),
  };
}
