/**
 * The partition worker: the actor shell around core.ts for one Kafka partition. It recovers its
 * position from Postgres in `init` (so a restart resumes from the durable offset), and for each batch
 * runs the core's plan, drops documents the store already holds, embeds the rest, commits rows and the
 * next offset in one transaction, then publishes new dead letters from the outbox.
 *
 * Failure handling: a transient failure (database, embedder outage: STORE_FAILED, EMBED_FAILED) is
 * answered with a RETRY reply and changes nothing (the transaction rolled back), so the consumer backs
 * off and sends the batch again instead of crash-looping the worker against its restart intensity; any
 * other error is a bug and crashes the worker into its supervisor. An embedder that refuses one text
 * (EMBED_REJECTED) is retried `embedAttempts` times with backoff, and then that message is
 * dead-lettered, so the partition keeps moving.
 *
 * The dead-letter outbox is published after the reply, from the worker's own timer, never in `init`:
 * a dead letter the broker refuses for good is published truncated (kafka.ts), and one it cannot take
 * now is retried with backoff while the partition keeps ingesting.
 */
import { behaviour, describeError, refuseUnknown, type ActorContext, type Behaviour, type Clock } from '../../runtime/index.js';
import { applyKnown, initialState, rejectDocument, step, type BatchPlan, type PartitionState, type PlanOptions, type RawMessage } from './core/partition.js';
import type { Embedder } from './core/embedding.js';
import { PipelineError } from './errors.js';
import type { DeadLetterPublisher } from './kafka.js';
import type { CommitResult, PipelineStore } from './store.js';

/** Points where tests inject faults: a throw crashes the worker; a hook may also end the process. */
export interface PipelineHooks {
  /** Inside the batch transaction, after the rows were written, before COMMIT. */
  beforeCommit?(plan: BatchPlan): void | Promise<void>;
  /** After COMMIT, before the reply (and so before the Kafka offset commit). */
  afterCommit?(result: CommitResult, plan: BatchPlan): void | Promise<void>;
}

/** What a worker needs. */
export interface WorkerConfig {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly store: PipelineStore;
  readonly embedder: Embedder;
  readonly plan: PlanOptions;
  /** Attempts per text before an EMBED_REJECTED message is dead-lettered. */
  readonly embedAttempts: number;
  readonly deadLetters: DeadLetterPublisher | undefined;
  readonly hooks?: PipelineHooks;
}

/** Messages a worker handles. */
export type WorkerMessage =
  | { readonly type: 'pipeline.batch'; readonly messages: readonly RawMessage[] }
  | { readonly type: 'pipeline.position' }
  /** The worker's own timer: publish the dead-letter outbox. */
  | { readonly type: 'pipeline.publishOutbox' };

/** Reply to `pipeline.batch`. */
export type BatchReply =
  | { readonly ok: true; readonly nextOffset: number; readonly documents: number; readonly deadLetters: number; readonly duplicates: number; readonly skipped: number }
  | { readonly ok: false; readonly code: 'SEEK'; readonly offset: number }
  /** A transient failure (database or embedder); nothing changed; send the batch again later. */
  | { readonly ok: false; readonly code: 'RETRY'; readonly errorCode: string; readonly message: string };

/** Codes of failures that are worth the same batch again after a pause. */
const retriableCodes: ReadonlySet<string> = new Set(['STORE_FAILED', 'EMBED_FAILED']);

/** Backoff of outbox publishing and of embedder refusals. */
const outboxRetryDelayMsMax = 30_000;
const embedRetryDelayMsMax = 1_000;

interface WorkerState {
  readonly core: PartitionState;
  readonly batches: number;
  /** Failed outbox publications in a row (0 when the last one succeeded). */
  readonly outboxFailures: number;
  readonly lastOutboxError?: string;
}

/** The behaviour of the worker for one partition. */
export function partitionWorker(config: WorkerConfig): Behaviour<WorkerState, WorkerMessage> {
  return behaviour<WorkerState, WorkerMessage>({
    name: 'pipeline.partition',
    async init(ctx) {
      const nextOffset = await config.store.readOffset(config.group, config.topic, config.partition);
      // Start-up never waits on the dead-letter topic: what an earlier incarnation left is published later.
      if (config.deadLetters !== undefined) ctx.timers.startSingle('outbox', { type: 'pipeline.publishOutbox' }, 0);
      return { core: initialState(config.topic, config.partition, nextOffset), batches: 0, outboxFailures: 0 };
    },
    async receive(state, message, ctx) {
      if (message?.type === 'pipeline.position') {
        ctx.reply({ nextOffset: state.core.nextOffset });
        return state;
      }
      if (message?.type === 'pipeline.batch') return handleBatchOrRetry(state, message.messages, ctx, config);
      if (message?.type === 'pipeline.publishOutbox') return publishOutboxOrRetry(state, ctx, config);
      refuseUnknown(ctx, message, 'pipeline.partition');
      return state;
    },
    describe: (state) => ({
      partition: config.partition, nextOffset: state.core.nextOffset, batches: state.batches, outboxFailures: state.outboxFailures,
      ...(state.lastOutboxError === undefined ? {} : { lastOutboxError: state.lastOutboxError }),
    }),
  });
}

/** Runs a batch; a transient failure is answered RETRY with the state as it was (the transaction rolled back). */
async function handleBatchOrRetry(state: WorkerState, messages: readonly RawMessage[], ctx: ActorContext<WorkerMessage>, config: WorkerConfig): Promise<WorkerState> {
  try {
    return await handleBatch(state, messages, ctx, config);
  } catch (error) {
    if (!(error instanceof PipelineError) || !retriableCodes.has(error.code)) throw error;
    ctx.reply({ ok: false, code: 'RETRY', errorCode: error.code, message: error.message } satisfies BatchReply);
    return state;
  }
}

async function handleBatch(state: WorkerState, messages: readonly RawMessage[], ctx: ActorContext<WorkerMessage>, config: WorkerConfig): Promise<WorkerState> {
  const { state: core, effects } = step(state.core, { type: 'batch', messages }, config.plan);
  let next: WorkerState = { ...state, core, batches: state.batches + 1 };
  for (const effect of effects) {
    if (effect.type === 'seek') {
      ctx.reply({ ok: false, code: 'SEEK', offset: effect.offset } satisfies BatchReply);
    } else if (effect.type === 'upToDate') {
      ctx.reply({ ok: true, nextOffset: effect.nextOffset, documents: 0, deadLetters: 0, duplicates: 0, skipped: effect.skipped } satisfies BatchReply);
    } else {
      const known = await config.store.knownDocuments(effect.plan.documents.map(({ document }) => ({ sourceId: document.sourceId, version: document.version })));
      const { plan, embeddings } = await embedPlan(applyKnown(effect.plan, known), config, ctx.clock);
      const result = await config.store.commitBatch(config.group, plan, embeddings, config.hooks?.beforeCommit);
      await config.hooks?.afterCommit?.(result, plan);
      next = { ...next, core: step(next.core, { type: 'committed', nextOffset: result.nextOffset }, config.plan).state };
      if (result.deadLettersInserted > 0 && config.deadLetters !== undefined && next.outboxFailures === 0) ctx.timers.startSingle('outbox', { type: 'pipeline.publishOutbox' }, 0);
      ctx.reply({
        ok: true, nextOffset: result.nextOffset, documents: result.documentsInserted, deadLetters: result.deadLettersInserted,
        duplicates: plan.duplicates, skipped: plan.skipped + result.alreadyApplied,
      } satisfies BatchReply);
    }
  }
  return next;
}

/** Embeds every chunk of the plan; a document the embedder keeps refusing is moved to dead letters. */
async function embedPlan(plan: BatchPlan, config: WorkerConfig, clock: Clock): Promise<{ plan: BatchPlan; embeddings: number[][][] }> {
  const texts = plan.documents.flatMap((document) => document.chunks);
  try {
    const vectors = await config.embedder.embed(texts);
    return { plan, embeddings: splitByDocument(plan, vectors) };
  } catch (error) {
    if (!(error instanceof PipelineError) || error.code !== 'EMBED_REJECTED') throw error;
  }
  // Some text was refused: embed document by document to find which, retrying each per policy.
  let current = plan;
  const embeddings: number[][][] = [];
  for (const document of plan.documents) {
    const vectors = await embedWithRetry(document.chunks, config, clock);
    if (typeof vectors === 'string') current = rejectDocument(current, document.offset, vectors);
    else embeddings.push(vectors);
  }
  return { plan: current, embeddings };
}

async function embedWithRetry(texts: readonly string[], config: WorkerConfig, clock: Clock): Promise<number[][] | string> {
  let detail = '';
  for (let attempt = 1; attempt <= config.embedAttempts; attempt += 1) {
    // A refusal may be the embedder's passing trouble with this text: pause before asking again.
    if (attempt > 1) await pause(clock, Math.min(embedRetryDelayMsMax, 50 * 2 ** (attempt - 2)));
    try {
      return await config.embedder.embed(texts);
    } catch (error) {
      if (!(error instanceof PipelineError) || error.code !== 'EMBED_REJECTED') throw error;
      detail = error.message;
    }
  }
  return detail;
}

function splitByDocument(plan: BatchPlan, vectors: readonly number[][]): number[][][] {
  const result: number[][][] = [];
  let index = 0;
  for (const document of plan.documents) {
    result.push(vectors.slice(index, index + document.chunks.length));
    index += document.chunks.length;
  }
  if (index !== vectors.length) throw new PipelineError('EMBED_FAILED', `embedder returned ${vectors.length} vectors for ${index} texts`);
  return result;
}

function pause(clock: Clock, delayMs: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, delayMs));
}

/** Publishes the outbox; when the dead-letter topic cannot take it now, tries again later with backoff. */
async function publishOutboxOrRetry(state: WorkerState, ctx: ActorContext<WorkerMessage>, config: WorkerConfig): Promise<WorkerState> {
  try {
    await publishOutbox(config);
    return { ...state, outboxFailures: 0 };
  } catch (error) {
    const failures = state.outboxFailures + 1;
    const delayMs = Math.min(outboxRetryDelayMsMax, 100 * 2 ** Math.min(failures, 10)) * (0.5 + ctx.rng.next() / 2);
    ctx.timers.startSingle('outbox', { type: 'pipeline.publishOutbox' }, delayMs);
    const { lastOutboxError: _previous, ...rest } = state;
    return { ...rest, outboxFailures: failures, lastOutboxError: describeError(error).message };
  }
}

/** Publishes unpublished dead letters of the partition, then marks them; a crash between repeats them. */
async function publishOutbox(config: WorkerConfig): Promise<void> {
  if (config.deadLetters === undefined) return;
  for (;;) {
    const rows = await config.store.unpublishedDeadLetters(config.topic, config.partition);
    if (rows.length === 0) return;
    await config.deadLetters.publish(rows);
    await config.store.markPublished(config.topic, config.partition, rows.map((row) => row.offset));
  }
}
