/**
 * The ingestion tree: a rest_for_one supervisor with a `partitions` supervisor, which owns one
 * `partition-<n>` worker per assigned partition, and a `consumer` actor that owns the kafkajs
 * consumer-group member. A worker crash restarts only that worker; a failed `partitions` supervisor
 * restarts the consumer too, which starts the workers again.
 *
 * The consumer lives in its mailbox. kafkajs callbacks only tell it (a group join) or ask it to take
 * a fetched batch (it answers at once, after queuing it); every decision about workers, queues,
 * seeks, pauses and retries is made in `receive`. Each partition is a lane: fetched batches queue
 * there, one merged batch (bounded by bytes) at a time goes to the partition's worker, and the next
 * fetch overlaps the current write. A lane whose queue is full pauses its partition at the broker;
 * nothing a lane waits for (a slow worker, a failing database, a dead letter the broker refuses) ever
 * holds up another partition, because no kafkajs callback waits for a worker.
 *
 * Offsets are managed by hand: kafkajs auto-commit is off; a batch's next offset is committed to
 * Postgres with its rows by the worker, and only then to Kafka, as a hint: on assignment the consumer
 * seeks to the offset stored in Postgres, and the worker asks for a seek if a batch still starts beyond
 * it. A crash between the two commits makes Kafka redeliver, and the worker skips what it applied.
 */
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { behaviour, describeError, refuseUnknown, type ActorContext, type Behaviour, type Ref } from '../../runtime/index.js';
import { supervisor, type SupervisorReply, type TroupeNode } from '../../supervisors/index.js';
import { defaultChunking, validateChunking, type ChunkingOptions } from './core/chunking.js';
import { defaultDocumentLimits, type DocumentLimits } from './core/document.js';
import type { Embedder } from './core/embedding.js';
import type { RawMessage } from './core/partition.js';
import { PipelineError } from './errors.js';
import { createKafka, deadLetterTopicOf, kafkaDeadLetterPublisher, toRawMessages, type DeadLetterPublisher } from './kafka.js';
import { admitFetched, mergeBatches, retryDelayMs, sizeOf, type Lane, type LaneStatus } from './lanes.js';
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

/** Bounds of the per-partition lanes. */
export interface LaneLimits {
  /** Fetched bytes a partition may hold before it is paused at the broker (resumed below half). */
  readonly queueBytesMax: number;
  /** Bytes of messages merged into one worker batch (one transaction); one message may exceed it alone. */
  readonly batchBytesMax: number;
  /** Messages merged into one worker batch. */
  readonly batchMessagesMax: number;
  /** Longest wait between two attempts at a failing batch (the backoff doubles up to this). */
  readonly retryDelayMsMax: number;
  /** How long one batch may take in its worker before it is sent again. */
  readonly batchTimeoutMs: number;
}

/** Defaults for `LaneLimits`. */
export const defaultLaneLimits: LaneLimits = { queueBytesMax: 8 * 1024 * 1024, batchBytesMax: 4 * 1024 * 1024, batchMessagesMax: 5_000, retryDelayMsMax: 30_000, batchTimeoutMs: 120_000 };

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
  readonly lanes?: Partial<LaneLimits>;
  /** Attempts per text before an embedder refusal dead-letters the message. */
  readonly embedAttempts?: number;
  readonly hooks?: PipelineHooks;
  readonly clientId?: string;
}

/** A running ingestion. */
export interface Ingestion {
  /** The ingestion supervisor. */
  readonly ref: Ref;
  /** The consumer actor (it answers `pipeline.status`). */
  readonly consumerRef: Ref;
  /** Assigned partitions, their positions, lag and trouble. */
  status(): Promise<IngestionStatus>;
  /** Stops the consumer and the workers. */
  stop(): Promise<void>;
}

/** Reply of `pipeline.status`. */
export interface IngestionStatus {
  readonly topic: string;
  readonly groupId: string;
  readonly partitions: readonly LaneStatus[];
  readonly batches: number;
}

/**
 * Messages of the consumer actor: `pipeline.status` from anyone; the rest only from its own callbacks,
 * asks and timers, which stamp them with `token`, an object private to the incarnation: a message
 * that came over the network cannot hold it, so a client allowed to send to this path still cannot
 * hand the consumer a forged batch or a forged worker reply.
 */
export type ConsumerMessage =
  | { readonly type: 'pipeline.status' }
  | InternalMessage;

type InternalMessage = { readonly token: object } & (
  | { readonly type: 'pipeline.consumerCrashed'; readonly error: string }
  | { readonly type: 'pipeline.assigned'; readonly partitions: readonly number[] }
  | { readonly type: 'pipeline.fetched'; readonly partition: number; readonly fetchedOffset: number; readonly messages: readonly RawMessage[]; readonly bytes: number; readonly highWatermark: number }
  | { readonly type: 'pipeline.workerReady'; readonly partition: number; readonly epoch: number; readonly worker: Ref; readonly nextOffset: number }
  | { readonly type: 'pipeline.workerFailed'; readonly partition: number; readonly epoch: number; readonly error: string }
  | { readonly type: 'pipeline.batchDone'; readonly partition: number; readonly epoch: number; readonly reply: BatchReply }
  | { readonly type: 'pipeline.batchFailed'; readonly partition: number; readonly epoch: number; readonly error: string }
  | { readonly type: 'pipeline.retry'; readonly partition: number; readonly epoch: number });

interface ConsumerState {
  /** Stamps this incarnation's own messages (see `ConsumerMessage`). */
  readonly token: object;
  readonly consumer: Consumer;
  /** One lane per assigned partition; mutated only in `receive`. */
  readonly lanes: Map<number, Lane>;
  readonly counters: { batches: number; epochs: number };
}

interface Shared {
  readonly options: IngestionOptions;
  readonly limits: LaneLimits;
  readonly kafka: Kafka;
  readonly deadLetters: DeadLetterPublisher | undefined;
  /** The `partitions` supervisor, where the workers live. */
  readonly partitionsRef: Ref;
}

/** Starts the ingestion tree under `node`'s root; resolves once the consumer has joined. */
export async function startIngestion(node: TroupeNode, options: IngestionOptions): Promise<Ingestion> {
  validateChunking(options.chunking ?? defaultChunking);
  const id = options.id ?? 'ingest';
  const kafka = createKafka(options.brokers, options.clientId ?? `troupe-pipeline-${options.groupId}`);
  const deadLetterTopic = options.deadLetterTopic ?? deadLetterTopicOf(options.topic);
  const deadLetters = deadLetterTopic === false ? undefined : await kafkaDeadLetterPublisher(kafka, deadLetterTopic, { sourceTopic: options.topic });
  const treeRef: Ref = { node: node.root.node, path: `${node.root.path}/${id}` };
  const shared: Shared = { options, limits: { ...defaultLaneLimits, ...options.lanes }, kafka, deadLetters, partitionsRef: { node: treeRef.node, path: `${treeRef.path}/partitions` } };
  let ref: Ref;
  try {
    ref = await node.startChild({
      id, kind: 'supervisor', restart: 'permanent', shutdownMs: 30_000,
      start: supervisor({
        name: 'pipeline.ingest', strategy: 'rest_for_one', maxRestarts: 20, periodMs: 30_000,
        children: [
          { id: 'partitions', kind: 'supervisor', restart: 'permanent', shutdownMs: 20_000, start: supervisor({ name: 'pipeline.partitions', strategy: 'one_for_one', maxRestarts: 50, periodMs: 30_000, children: [] }) },
          { id: 'consumer', kind: 'worker', restart: 'permanent', shutdownMs: 20_000, start: consumerBehaviour(shared) },
        ],
      }),
    });
  } catch (error) {
    await deadLetters?.close();
    throw error;
  }
  const consumerRef: Ref = { node: ref.node, path: `${ref.path}/consumer` };
  return {
    ref,
    consumerRef,
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
  const topic = shared.options.topic;
  return behaviour<ConsumerState, ConsumerMessage>({
    name: 'pipeline.consumer',
    async init(ctx) {
      const token = {};
      const consumer = shared.kafka.consumer({
        groupId: shared.options.groupId, sessionTimeout: tuning.sessionTimeoutMs, heartbeatInterval: tuning.heartbeatIntervalMs,
        maxWaitTimeInMs: tuning.maxWaitTimeMs, maxBytesPerPartition: tuning.maxBytesPerPartition, rebalanceTimeout: tuning.rebalanceTimeoutMs, retry: { retries: 5 },
      });
      try {
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        consumer.on(consumer.events.GROUP_JOIN, (event) => {
          ctx.tell(ctx.self, { type: 'pipeline.assigned', token, partitions: [...(event.payload.memberAssignment[topic] ?? [])] });
        });
        consumer.on(consumer.events.CRASH, (event) => {
          // kafkajs restarts itself after retriable errors; anything else is ours to handle.
          if (event.payload.restart !== true) ctx.tell(ctx.self, { type: 'pipeline.consumerCrashed', token, error: describeError(event.payload.error).message });
        });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: 16,
          eachBatch: (payload) => handOver(payload, ctx, token),
        });
      } catch (cause) {
        await consumer.disconnect().catch(() => undefined);
        throw new PipelineError('KAFKA_FAILED', `consumer for ${topic} failed to start: ${(cause as Error).message}`, { cause });
      }
      return { token, consumer, lanes: new Map(), counters: { batches: 0, epochs: 0 } };
    },
    receive(state, message, ctx) {
      if (message?.type !== 'pipeline.status' && (message as { token?: unknown } | undefined)?.token !== state.token) {
        refuseUnknown(ctx, message, 'pipeline.consumer');
        return state;
      }
      switch (message.type) {
        case 'pipeline.status':
          ctx.reply(statusOf(state, shared));
          return state;
        case 'pipeline.consumerCrashed':
          throw new PipelineError('KAFKA_FAILED', `consumer crashed: ${message.error}`);
        case 'pipeline.assigned':
          onAssigned(state, message.partitions, ctx, shared);
          return state;
        case 'pipeline.fetched':
          onFetched(state, message, ctx, shared);
          return state;
        case 'pipeline.workerReady':
          onWorkerReady(state, message, ctx, shared);
          return state;
        case 'pipeline.workerFailed':
        case 'pipeline.batchFailed':
          onFailure(state, message.partition, message.epoch, message.error, ctx, shared);
          return state;
        case 'pipeline.batchDone':
          onBatchDone(state, message.partition, message.epoch, message.reply, ctx, shared);
          return state;
        case 'pipeline.retry':
          onRetry(state, message.partition, message.epoch, ctx, shared);
          return state;
        default:
          refuseUnknown(ctx, message, 'pipeline.consumer');
          return state;
      }
    },
    async onStop(state) {
      await state?.consumer.disconnect();
    },
    describe: (state) => ({ partitions: [...state.lanes.keys()].sort((a, b) => a - b), batches: state.counters.batches }),
  });
}

/**
 * kafkajs's `eachBatch`: hands the batch to the consumer's mailbox and returns as soon as it is queued,
 * so the fetch loop never waits on a worker. The fetch position moves past the batch only once the
 * actor has it; if the actor is gone, the batch is fetched again by whoever owns the partition next.
 */
async function handOver(payload: EachBatchPayload, ctx: ActorContext<ConsumerMessage>, token: object): Promise<void> {
  const { batch } = payload;
  if (batch.isEmpty() || !payload.isRunning() || payload.isStale()) return;
  const messages = toRawMessages(batch);
  const bytes = messages.reduce((sum, message) => sum + sizeOf(message), 0);
  await ctx.ask(ctx.self, { type: 'pipeline.fetched', token, partition: batch.partition, fetchedOffset: fetchedOffsetOf(batch), messages, bytes, highWatermark: Number(batch.highWatermark) } satisfies ConsumerMessage, { timeoutMs: 30_000 });
  payload.resolveOffset(batch.lastOffset());
}

/**
 * Where the fetch that returned `batch` began. kafkajs 2.2 keeps it on every batch (it uses it for
 * log-compacted batches) but leaves it out of its type declarations.
 */
function fetchedOffsetOf(batch: EachBatchPayload['batch']): number {
  const value = Number((batch as unknown as { fetchedOffset?: string | number }).fetchedOffset);
  if (!Number.isSafeInteger(value)) throw new PipelineError('KAFKA_FAILED', `batch of partition ${batch.partition} has no fetch offset`);
  return value;
}

function onAssigned(state: ConsumerState, assigned: readonly number[], ctx: ActorContext<ConsumerMessage>, shared: Shared): void {
  const topic = shared.options.topic;
  for (const partition of [...state.lanes.keys()]) {
    if (assigned.includes(partition)) continue;
    state.lanes.delete(partition);
    // Not awaited: the next owner serialises with this worker on the offset row lock in Postgres.
    ctx.ask<SupervisorReply>(shared.partitionsRef, { type: 'supervisor.stopChild', id: `partition-${partition}` }, { timeoutMs: 60_000 }).catch(() => undefined);
  }
  for (const partition of assigned) {
    if (state.lanes.has(partition)) continue;
    state.counters.epochs += 1;
    const lane: Lane = { partition, epoch: state.counters.epochs, phase: 'starting', queue: [], queuedBytes: 0, paused: false, waiting: false, attempts: 0, batches: 0, documents: 0, deadLetters: 0 };
    state.lanes.set(partition, lane);
    // A partition paused under an earlier assignment must not stay paused.
    state.consumer.resume([{ topic, partitions: [partition] }]);
    startWorker(state, lane, ctx, shared);
  }
}

/** Starts (or finds, after a consumer restart) the partition's worker and reads its durable position. */
function startWorker(state: ConsumerState, lane: Lane, ctx: ActorContext<ConsumerMessage>, shared: Shared): void {
  const { partition, epoch } = lane;
  const options = shared.options;
  const id = `partition-${partition}`;
  const start = partitionWorker({
    group: options.groupId, topic: options.topic, partition, store: options.store, embedder: options.embedder,
    plan: { chunking: options.chunking ?? defaultChunking, limits: options.limits ?? defaultDocumentLimits },
    embedAttempts: options.embedAttempts ?? 3, deadLetters: shared.deadLetters, ...(options.hooks === undefined ? {} : { hooks: options.hooks }),
  });
  const worker: Ref = { node: shared.partitionsRef.node, path: `${shared.partitionsRef.path}/${id}` };
  const run = async (): Promise<void> => {
    const reply = await ctx.ask<SupervisorReply>(shared.partitionsRef, { type: 'supervisor.startChild', spec: { id, kind: 'worker', restart: 'permanent', shutdownMs: 10_000, start } }, { timeoutMs: 60_000 });
    // NAME_TAKEN: the worker survived a restart of this consumer actor; use it.
    if (!reply.ok && reply.code !== 'NAME_TAKEN') throw new PipelineError('KAFKA_FAILED', `could not start the worker of partition ${partition}: ${reply.message}`);
    const position = await ctx.ask<{ nextOffset: number }>(worker, { type: 'pipeline.position' } satisfies WorkerMessage, { timeoutMs: 60_000 });
    ctx.tell(ctx.self, { type: 'pipeline.workerReady', token: state.token, partition, epoch, worker, nextOffset: position.nextOffset } satisfies ConsumerMessage);
  };
  run().catch((error: unknown) => ctx.tell(ctx.self, { type: 'pipeline.workerFailed', token: state.token, partition, epoch, error: describeError(error).message } satisfies ConsumerMessage));
}

/** The lane of `partition` if it is still the incarnation `epoch` names (late answers for a revoked lane are dropped). */
function laneOf(state: ConsumerState, partition: number, epoch?: number): Lane | undefined {
  const lane = state.lanes.get(partition);
  return lane === undefined || (epoch !== undefined && lane.epoch !== epoch) ? undefined : lane;
}

function onFetched(state: ConsumerState, message: Extract<ConsumerMessage, { type: 'pipeline.fetched' }>, ctx: ActorContext<ConsumerMessage>, shared: Shared): void {
  ctx.reply({ ok: true });
  const lane = laneOf(state, message.partition);
  if (lane === undefined) return; // Revoked: its next owner reads it from its durable offset.
  lane.highWatermark = message.highWatermark;
  const last = message.messages[message.messages.length - 1];
  // Before the worker is ready the lane has no frontier: what comes is fetched again after its seek.
  if (lane.phase !== 'ready' || last === undefined) return;
  if (admitFetched(lane, message.fetchedOffset) === 'stale') {
    seekLane(state, lane, lane.frontier!, message.fetchedOffset, shared);
    return;
  }
  if (last.offset < lane.frontier!) return; // Everything in it is already queued or applied.
  lane.frontier = last.offset + 1;
  lane.queue.push(message.messages);
  lane.queuedBytes += message.bytes;
  if (!lane.paused && lane.queuedBytes > shared.limits.queueBytesMax) {
    lane.paused = true;
    state.consumer.pause([{ topic: shared.options.topic, partitions: [lane.partition] }]);
  }
  pump(state, lane, ctx, shared);
}

function onWorkerReady(state: ConsumerState, message: Extract<ConsumerMessage, { type: 'pipeline.workerReady' }>, ctx: ActorContext<ConsumerMessage>, shared: Shared): void {
  const lane = laneOf(state, message.partition, message.epoch);
  if (lane === undefined) return;
  lane.worker = message.worker;
  lane.phase = 'ready';
  lane.attempts = 0;
  delete lane.lastError;
  lane.nextOffset = message.nextOffset;
  lane.queue = [];
  lane.queuedBytes = 0;
  seekLane(state, lane, message.nextOffset, undefined, shared);
  pump(state, lane, ctx, shared);
}

/**
 * Has the fetcher start the partition again at `offset`, which becomes the lane's frontier. Batches
 * already queued end below it and stay; whatever arrives fetched from further on is stale until then.
 */
function seekLane(state: ConsumerState, lane: Lane, offset: number, staleFetchedOffset: number | undefined, shared: Shared): void {
  lane.frontier = offset;
  lane.lastSeek = { offset, staleFetchedOffset };
  state.consumer.seek({ topic: shared.options.topic, partition: lane.partition, offset: String(offset) });
  if (lane.paused) {
    lane.paused = false;
    state.consumer.resume([{ topic: shared.options.topic, partitions: [lane.partition] }]);
  }
}

/** Sends the lane's queued batches, merged, to its worker when it is idle. */
function pump(state: ConsumerState, lane: Lane, ctx: ActorContext<ConsumerMessage>, shared: Shared): void {
  if (lane.phase !== 'ready' || lane.inFlight !== undefined || lane.waiting || lane.queue.length === 0 || lane.worker === undefined) return;
  const { messages, bytes, rest } = mergeBatches(lane.queue, shared.limits);
  lane.queue = rest;
  lane.queuedBytes = Math.max(0, lane.queuedBytes - bytes);
  lane.inFlight = { messages, bytes };
  if (lane.paused && lane.queuedBytes <= shared.limits.queueBytesMax / 2) {
    lane.paused = false;
    state.consumer.resume([{ topic: shared.options.topic, partitions: [lane.partition] }]);
  }
  const { partition, epoch } = lane;
  ctx.ask<BatchReply>(lane.worker, { type: 'pipeline.batch', messages } satisfies WorkerMessage, { timeoutMs: shared.limits.batchTimeoutMs }).then(
    (reply) => ctx.tell(ctx.self, { type: 'pipeline.batchDone', token: state.token, partition, epoch, reply } satisfies ConsumerMessage),
    (error: unknown) => ctx.tell(ctx.self, { type: 'pipeline.batchFailed', token: state.token, partition, epoch, error: describeError(error).message } satisfies ConsumerMessage),
  );
}

function onBatchDone(state: ConsumerState, partition: number, epoch: number, reply: BatchReply, ctx: ActorContext<ConsumerMessage>, shared: Shared): void {
  const lane = laneOf(state, partition, epoch);
  if (lane === undefined) return;
  if (!reply.ok && reply.code === 'RETRY') {
    onFailure(state, partition, epoch, `${reply.errorCode}: ${reply.message}`, ctx, shared);
    return;
  }
  state.counters.batches += 1;
  lane.inFlight = undefined;
  lane.attempts = 0;
  delete lane.lastError;
  if (!reply.ok) {
    // The worker saw a gap it has not confirmed: start again from its durable position.
    lane.queue = [];
    lane.queuedBytes = 0;
    seekLane(state, lane, reply.offset, undefined, shared);
    return;
  }
  lane.batches += 1;
  lane.documents += reply.documents;
  lane.deadLetters += reply.deadLetters;
  lane.nextOffset = reply.nextOffset;
  // A hint only (Postgres holds the truth): a failed commit is repaired by the next one.
  state.consumer.commitOffsets([{ topic: shared.options.topic, partition, offset: String(reply.nextOffset) }]).catch(() => undefined);
  pump(state, lane, ctx, shared);
}

/** A batch (or the worker's start) failed: keep the batch at the head of the lane and try again after a backoff. */
function onFailure(state: ConsumerState, partition: number, epoch: number, error: string, ctx: ActorContext<ConsumerMessage>, shared: Shared): void {
  const lane = laneOf(state, partition, epoch);
  if (lane === undefined) return;
  if (lane.inFlight !== undefined) {
    lane.queue.unshift(lane.inFlight.messages);
    lane.queuedBytes += lane.inFlight.bytes;
    lane.inFlight = undefined;
  }
  lane.attempts += 1;
  lane.lastError = error;
  lane.waiting = true;
  ctx.timers.startSingle(`retry-${partition}`, { type: 'pipeline.retry', token: state.token, partition, epoch }, retryDelayMs(lane.attempts, shared.limits.retryDelayMsMax, ctx.rng.next()));
}

function onRetry(state: ConsumerState, partition: number, epoch: number, ctx: ActorContext<ConsumerMessage>, shared: Shared): void {
  const lane = laneOf(state, partition, epoch);
  if (lane === undefined) return;
  lane.waiting = false;
  if (lane.phase === 'starting') startWorker(state, lane, ctx, shared);
  else pump(state, lane, ctx, shared);
}

function statusOf(state: ConsumerState, shared: Shared): IngestionStatus {
  const partitions = [...state.lanes.values()].sort((a, b) => a.partition - b.partition).map((lane): LaneStatus => ({
    partition: lane.partition,
    phase: lane.waiting ? 'retrying' : lane.phase,
    nextOffset: lane.nextOffset ?? null,
    highWatermark: lane.highWatermark ?? null,
    lag: lane.highWatermark === undefined || lane.nextOffset === undefined ? null : Math.max(0, lane.highWatermark - lane.nextOffset),
    queuedMessages: lane.queue.reduce((sum, batch) => sum + batch.length, 0) + (lane.inFlight?.messages.length ?? 0),
    paused: lane.paused,
    batches: lane.batches,
    documents: lane.documents,
    deadLetters: lane.deadLetters,
    attempts: lane.attempts,
    ...(lane.lastError === undefined ? {} : { lastError: lane.lastError }),
  }));
  return { topic: shared.options.topic, groupId: shared.options.groupId, partitions, batches: state.counters.batches };
}
