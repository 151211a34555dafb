/**
 * The partition worker: the actor shell around core.ts for one Kafka partition. It recovers its
 * position from Postgres in `init` (so a restart resumes from the durable offset), and for each batch
 * runs the core's plan, drops documents the store already holds, embeds the rest, commits rows and the
 * next offset in one transaction, then publishes new dead letters from the outbox.
 *
 * Failure handling: a transient failure (database, embedder outage) throws, which crashes the worker
 * into its supervisor; the restarted worker re-reads its offset and the batch is retried (the child
 * spec's retry policy redelivers it). An embedder that refuses one text (EMBED_REJECTED) is retried
 * `embedAttempts` times and then that message is dead-lettered, so the partition keeps moving.
 */
import { behaviour, refuseUnknown, type ActorContext, type Behaviour } from '../../runtime/index.js';
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
  | { readonly type: 'pipeline.position' };

/** Reply to `pipeline.batch`. */
export type BatchReply =
  | { readonly ok: true; readonly nextOffset: number; readonly documents: number; readonly deadLetters: number; readonly duplicates: number; readonly skipped: number }
  | { readonly ok: false; readonly code: 'SEEK'; readonly offset: number };

interface WorkerState {
  readonly core: PartitionState;
  readonly batches: number;
}

/** The behaviour of the worker for one partition. */
export function partitionWorker(config: WorkerConfig): Behaviour<WorkerState, WorkerMessage> {
  return behaviour<WorkerState, WorkerMessage>({
    name: 'pipeline.partition',
    async init() {
      const nextOffset = await config.store.readOffset(config.group, config.topic, config.partition);
      await publishOutbox(config);
      return { core: initialState(config.topic, config.partition, nextOffset), batches: 0 };
    },
    async receive(state, message, ctx) {
      if (message?.type === 'pipeline.position') {
        ctx.reply({ nextOffset: state.core.nextOffset });
        return state;
      }
      if (message?.type === 'pipeline.batch') return handleBatch(state, message.messages, ctx, config);
      refuseUnknown(ctx, message, 'pipeline.partition');
      return state;
    },
    describe: (state) => ({ partition: config.partition, nextOffset: state.core.nextOffset, batches: state.batches }),
  });
}

async function handleBatch(state: WorkerState, messages: readonly RawMessage[], ctx: ActorContext<WorkerMessage>, config: WorkerConfig): Promise<WorkerState> {
  const { state: core, effects } = step(state.core, { type: 'batch', messages }, config.plan);
  let next: WorkerState = { core, batches: state.batches + 1 };
  for (const effect of effects) {
    if (effect.type === 'seek') {
      ctx.reply({ ok: false, code: 'SEEK', offset: effect.offset } satisfies BatchReply);
    } else if (effect.type === 'upToDate') {
      ctx.reply({ ok: true, nextOffset: effect.nextOffset, documents: 0, deadLetters: 0, duplicates: 0, skipped: effect.skipped } satisfies BatchReply);
    } else {
      const known = await config.store.knownDocuments(effect.plan.documents.map(({ document }) => ({ sourceId: document.sourceId, version: document.version })));
      const { plan, embeddings } = await embedPlan(applyKnown(effect.plan, known), config);
      const result = await config.store.commitBatch(config.group, plan, embeddings, config.hooks?.beforeCommit);
      await config.hooks?.afterCommit?.(result, plan);
      next = { ...next, core: step(next.core, { type: 'committed', nextOffset: result.nextOffset }, config.plan).state };
      if (result.deadLettersInserted > 0) await publishOutbox(config);
      ctx.reply({
        ok: true, nextOffset: result.nextOffset, documents: result.documentsInserted, deadLetters: result.deadLettersInserted,
        duplicates: plan.duplicates, skipped: plan.skipped + result.alreadyApplied,
      } satisfies BatchReply);
    }
  }
  return next;
}

/** Embeds every chunk of the plan; a document the embedder keeps refusing is moved to dead letters. */
async function embedPlan(plan: BatchPlan, config: WorkerConfig): Promise<{ plan: BatchPlan; embeddings: number[][][] }> {
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
    const vectors = await embedWithRetry(document.chunks, config);
    if (typeof vectors === 'string') current = rejectDocument(current, document.offset, vectors);
    else embeddings.push(vectors);
  }
  return { plan: current, embeddings };
}

async function embedWithRetry(texts: readonly string[], config: WorkerConfig): Promise<number[][] | string> {
  let detail = '';
  for (let attempt = 1; attempt <= config.embedAttempts; attempt += 1) {
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
