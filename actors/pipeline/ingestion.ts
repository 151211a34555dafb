/**
 * The ingestion supervisor: a one_for_one supervisor with a `consumer` actor that owns the kafkajs
 * consumer-group member, and one `partition-<n>` worker per assigned partition, started as the group
 * assigns partitions and stopped when they are revoked. A worker crash restarts only that worker.
 *
 * Offsets are managed by hand: kafkajs auto-commit is off; `eachBatch` hands the batch to the
 * partition's worker and waits for its reply, which comes only after the rows and the next offset are
 * committed in Postgres. Only then is the offset committed to Kafka, as a hint: on assignment the
 * consumer seeks to the offset stored in Postgres, and the worker asks for a seek if a batch still
 * starts beyond it. A crash between the two commits makes Kafka redeliver, and the worker skips what
 * it already applied.
 */
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { behaviour, describeError, refuseUnknown, type ActorContext, type Behaviour, type Ref } from '../../runtime/index.js';
import { supervisor, type SupervisorReply, type TroupeNode } from '../../supervisors/index.js';
import { defaultChunking, validateChunking, type ChunkingOptions } from './core/chunking.js';
import { defaultDocumentLimits, type DocumentLimits } from './core/document.js';
import type { Embedder } from './core/embedding.js';
import { PipelineError } from './errors.js';
import { createKafka, deadLetterTopicOf, kafkaDeadLetterPublisher, toRawMessages, type DeadLetterPublisher } from './kafka.js';
import type { PipelineStore } from './store.js';
import { partitionWorker, type BatchReply, type PipelineHooks, type WorkerMessage } from './worker.js';

/** Consumer-group tuning (kafkajs names, with units). */
export interface ConsumerTuning {
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** How long a fetch waits for data; heartbeats happen between fetches, so keep it well under the session timeout. */
  readonly maxWaitTimeMs: number;
  readonly maxBytesPerPartition: number;
  /** How long the broker waits for members to rejoin during a rebalance (a killed member never does). */
  readonly rebalanceTimeoutMs: number;
}

/** Defaults for `ConsumerTuning`. */
export const defaultConsumerTuning: ConsumerTuning = { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, maxWaitTimeMs: 500, maxBytesPerPartition: 1024 * 1024, rebalanceTimeoutMs: 60_000 };

/** Options of `startIngestion`. */
export interface IngestionOptions {
  /** Child id under the node's root supervisor. */
  readonly id?: string;
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly groupId: string;
  /** A migrated store. */
  readonly store: PipelineStore;
  readonly embedder: Embedder;
  readonly chunking?: ChunkingOptions;
  readonly limits?: DocumentLimits;
  /** Dead-letter topic; `false` keeps dead letters in Postgres only. Default `<topic>.dlq`. */
  readonly deadLetterTopic?: string | false;
  readonly consumer?: Partial<ConsumerTuning>;
  /** Attempts per text before an embedder refusal dead-letters the message. */
  readonly embedAttempts?: number;
  /** Redeliveries of a batch whose worker crashed before the batch is given up (then the consumer restarts). */
  readonly batchAttempts?: number;
  readonly hooks?: PipelineHooks;
  readonly clientId?: string;
}

/** A running ingestion. */
export interface Ingestion {
  /** The ingestion supervisor. */
  readonly ref: Ref;
  /** Assigned partitions and their workers' positions. */
  status(): Promise<IngestionStatus>;
  /** Stops the consumer and the workers. */
  stop(): Promise<void>;
}

/** Reply of `pipeline.status`. */
export interface IngestionStatus {
  readonly partitions: ReadonlyArray<{ partition: number; nextOffset: number }>;
  readonly batches: number;
}

type ConsumerMessage =
  | { readonly type: 'pipeline.status' }
  | { readonly type: 'pipeline.consumerCrashed'; readonly error: string };

interface ConsumerState {
  readonly consumer: Consumer;
  readonly workers: Map<number, Ref>;
  readonly counters: { batches: number };
  /**
   * Aborted when the actor stops. `consumer.disconnect()` waits for every running `eachBatch`, and a
   * batch may be waiting on an ask to the supervisor that is stopping this very actor (a restart): the
   * waits end at once instead of at their deadlines, so a restart takes no longer than a disconnect.
   */
  readonly stopping: AbortController;
}

interface Shared {
  readonly options: IngestionOptions;
  readonly kafka: Kafka;
  readonly deadLetters: DeadLetterPublisher | undefined;
}

/** Starts the ingestion supervisor under `node`'s root; resolves once the consumer has joined. */
export async function startIngestion(node: TroupeNode, options: IngestionOptions): Promise<Ingestion> {
  validateChunking(options.chunking ?? defaultChunking);
  const id = options.id ?? 'ingest';
  const kafka = createKafka(options.brokers, options.clientId ?? `troupe-pipeline-${options.groupId}`);
  const deadLetterTopic = options.deadLetterTopic ?? deadLetterTopicOf(options.topic);
  const deadLetters = deadLetterTopic === false ? undefined : await kafkaDeadLetterPublisher(kafka, deadLetterTopic);
  const shared: Shared = { options, kafka, deadLetters };
  let ref: Ref;
  try {
    ref = await node.startChild({
      id, kind: 'supervisor', restart: 'permanent', shutdownMs: 30_000,
      start: supervisor({
        name: 'pipeline.ingest', strategy: 'one_for_one', maxRestarts: 20, periodMs: 30_000,
        children: [{ id: 'consumer', kind: 'worker', restart: 'permanent', shutdownMs: 20_000, start: consumerBehaviour(shared) }],
      }),
    });
  } catch (error) {
    await deadLetters?.close();
    throw error;
  }
  const consumerRef: Ref = { node: ref.node, path: `${ref.path}/consumer` };
  return {
    ref,
    status: () => node.system.ask<IngestionStatus>(consumerRef, { type: 'pipeline.status' }, { timeoutMs: 10_000 }),
    async stop() {
      try {
        await node.stopChild(id);
      } finally {
        await deadLetters?.close();
      }
    },
  };
}

function consumerBehaviour(shared: Shared): Behaviour<ConsumerState, ConsumerMessage> {
  const tuning = { ...defaultConsumerTuning, ...shared.options.consumer };
  return behaviour<ConsumerState, ConsumerMessage>({
    name: 'pipeline.consumer',
    async init(ctx) {
      const consumer = shared.kafka.consumer({
        groupId: shared.options.groupId, sessionTimeout: tuning.sessionTimeoutMs, heartbeatInterval: tuning.heartbeatIntervalMs,
        maxWaitTimeInMs: tuning.maxWaitTimeMs, maxBytesPerPartition: tuning.maxBytesPerPartition, rebalanceTimeout: tuning.rebalanceTimeoutMs, retry: { retries: 5 },
      });
      const state: ConsumerState = { consumer, workers: new Map(), counters: { batches: 0 }, stopping: new AbortController() };
      try {
        await consumer.connect();
        await consumer.subscribe({ topic: shared.options.topic, fromBeginning: true });
        consumer.on(consumer.events.GROUP_JOIN, (event) => {
          const assigned = event.payload.memberAssignment[shared.options.topic] ?? [];
          void onAssignment(state, assigned, ctx, shared).catch((error: unknown) => ctx.tell(ctx.self, { type: 'pipeline.consumerCrashed', error: describeError(error).message }));
        });
        consumer.on(consumer.events.CRASH, (event) => {
          // kafkajs restarts itself after retriable errors; anything else is ours to handle.
          if (event.payload.restart !== true) ctx.tell(ctx.self, { type: 'pipeline.consumerCrashed', error: describeError(event.payload.error).message });
        });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: 4,
          eachBatch: (payload) => eachBatch(state, payload, ctx, shared),
        });
      } catch (cause) {
        await consumer.disconnect().catch(() => undefined);
        throw new PipelineError('KAFKA_FAILED', `consumer for ${shared.options.topic} failed to start: ${(cause as Error).message}`, { cause });
      }
      return state;
    },
    receive(state, message, ctx) {
      if (message?.type === 'pipeline.status') {
        const done = ctx.replier();
        void collectStatus(state, ctx).then(done, (error: unknown) => done({ partitions: [], batches: state.counters.batches, error: describeError(error).message }));
        return state;
      }
      if (message?.type === 'pipeline.consumerCrashed') throw new PipelineError('KAFKA_FAILED', `consumer crashed: ${message.error}`);
      refuseUnknown(ctx, message, 'pipeline.consumer');
      return state;
    },
    async onStop(state) {
      state?.stopping.abort();
      await state?.consumer.disconnect();
    },
    describe: (state) => ({ partitions: [...state.workers.keys()].sort((a, b) => a - b), batches: state.counters.batches }),
  });
}

function supervisorRef(ctx: ActorContext): Ref {
  return { node: ctx.self.node, path: ctx.self.path.slice(0, ctx.self.path.lastIndexOf('/')) };
}

/** Starts the worker of a partition if it is not running; returns its ref. */
async function ensureWorker(state: ConsumerState, partition: number, ctx: ActorContext<ConsumerMessage>, shared: Shared): Promise<Ref> {
  const existing = state.workers.get(partition);
  if (existing !== undefined) return existing;
  const options = shared.options;
  const id = `partition-${partition}`;
  const start = partitionWorker({
    group: options.groupId, topic: options.topic, partition, store: options.store, embedder: options.embedder,
    plan: { chunking: options.chunking ?? defaultChunking, limits: options.limits ?? defaultDocumentLimits },
    embedAttempts: options.embedAttempts ?? 3, deadLetters: shared.deadLetters, ...(options.hooks === undefined ? {} : { hooks: options.hooks }),
  });
  const parent = supervisorRef(ctx);
  const reply = await untilStopped(state, ctx.ask<SupervisorReply>(parent, { type: 'supervisor.startChild', spec: { id, kind: 'worker', restart: 'permanent', shutdownMs: 10_000, start, retry: { maxAttempts: options.batchAttempts ?? 3 } } }, { timeoutMs: 60_000 }));
  // NAME_TAKEN: the worker survived a restart of this consumer actor; use it.
  if (!reply.ok && reply.code !== 'NAME_TAKEN') throw new PipelineError('KAFKA_FAILED', `could not start worker for partition ${partition}: ${reply.message}`);
  const ref = { node: parent.node, path: `${parent.path}/${id}` };
  state.workers.set(partition, ref);
  return ref;
}

/** On (re)assignment: stop workers of revoked partitions, start the others and seek to their durable offsets. */
async function onAssignment(state: ConsumerState, assigned: readonly number[], ctx: ActorContext<ConsumerMessage>, shared: Shared): Promise<void> {
  const parent = supervisorRef(ctx);
  for (const partition of [...state.workers.keys()]) {
    if (assigned.includes(partition)) continue;
    state.workers.delete(partition);
    await untilStopped(state, ctx.ask(parent, { type: 'supervisor.stopChild', id: `partition-${partition}` }, { timeoutMs: 60_000 }));
  }
  for (const partition of assigned) {
    const worker = await ensureWorker(state, partition, ctx, shared);
    const position = await untilStopped(state, ctx.ask<{ nextOffset: number }>(worker, { type: 'pipeline.position' } satisfies WorkerMessage, { timeoutMs: 60_000 }));
    state.consumer.seek({ topic: shared.options.topic, partition, offset: String(position.nextOffset) });
  }
}

/** Hands one fetched batch to its worker; commits the Kafka offset only after the worker's database commit. */
async function eachBatch(state: ConsumerState, payload: EachBatchPayload, ctx: ActorContext<ConsumerMessage>, shared: Shared): Promise<void> {
  const { batch } = payload;
  if (batch.messages.length === 0 || !payload.isRunning() || payload.isStale()) return;
  const worker = await ensureWorker(state, batch.partition, ctx, shared);
  const reply = await untilStopped(state, ctx.ask<BatchReply>(worker, { type: 'pipeline.batch', messages: toRawMessages(batch) } satisfies WorkerMessage, { timeoutMs: 120_000 }));
  state.counters.batches += 1;
  if (!reply.ok) {
    state.consumer.seek({ topic: batch.topic, partition: batch.partition, offset: String(reply.offset) });
    return;
  }
  payload.resolveOffset(batch.lastOffset());
  await state.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(reply.nextOffset) }]);
  await payload.heartbeat();
}

/**
 * `work`, or a STOPPING rejection as soon as the consumer actor stops (whichever comes first). The
 * work itself goes on (an ask cannot be withdrawn); a batch a worker finishes after that is simply
 * not committed to Kafka here, and the next owner of the partition skips it by the worker's offsets.
 */
function untilStopped<T>(state: ConsumerState, work: Promise<T>): Promise<T> {
  const signal = state.stopping.signal;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(new PipelineError('STOPPING', 'the consumer is stopping'));
  }
  return new Promise<T>((resolve, reject) => {
    const stopped = (): void => reject(new PipelineError('STOPPING', 'the consumer is stopping'));
    signal.addEventListener('abort', stopped, { once: true });
    work.then(
      (value) => { signal.removeEventListener('abort', stopped); resolve(value); },
      (error: unknown) => { signal.removeEventListener('abort', stopped); reject(error); },
    );
  });
}

async function collectStatus(state: ConsumerState, ctx: ActorContext<ConsumerMessage>): Promise<IngestionStatus> {
  const partitions: Array<{ partition: number; nextOffset: number }> = [];
  for (const [partition, worker] of [...state.workers.entries()].sort((a, b) => a[0] - b[0])) {
    const position = await ctx.ask<{ nextOffset: number }>(worker, { type: 'pipeline.position' }, { timeoutMs: 10_000 });
    partitions.push({ partition, nextOffset: position.nextOffset });
  }
  return { partitions, batches: state.counters.batches };
}
