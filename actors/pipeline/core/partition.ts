/**
 * The partition worker's protocol as a pure state machine (DESIGN.md section 1).
 *
 * One worker owns one Kafka partition. Its durable position is `nextOffset`, the offset of the first
 * message not yet applied, stored in Postgres in the same transaction as the rows the messages made.
 * Invariants:
 *   - a message below `nextOffset` has had its effect and is skipped (duplicates, redeliveries after a
 *     crash between the database commit and the Kafka commit, a zombie consumer after a rebalance);
 *   - `nextOffset` only moves forward (checked here and by a trigger in the database);
 *   - what a message does is a pure function of its bytes: the same log gives the same rows.
 * Kafka's own committed offset is advisory, and a batch fetched before a seek may still arrive after
 * it: a batch that begins beyond `nextOffset` makes the worker ask the consumer to seek back to
 * `nextOffset`. Offsets may legitimately be missing (transaction markers, compaction), so a gap is
 * accepted only when the batch that answers a seek to `nextOffset` begins at the same place as the
 * one that asked for it: the log itself has nothing in between.
 */
import { assert } from '../../../runtime/index.js';
import { chunkText, type ChunkingOptions } from './chunking.js';
import { parseDocument, type DocumentLimits, type PipelineDocument, type PoisonReason } from './document.js';

/** One Kafka message as the worker sees it. */
export interface RawMessage {
  readonly offset: number;
  readonly key: string | null;
  readonly value: Uint8Array | null;
}

/** A document to write, with its chunks (embeddings are added by the shell). */
export interface PlannedDocument {
  readonly offset: number;
  /** The raw message, kept so a late refusal (conflict, embedder) can dead-letter it as it came. */
  readonly key: string | null;
  readonly value: Uint8Array | null;
  readonly document: PipelineDocument;
  readonly chunks: readonly string[];
}

/** A message that goes to the dead-letter table/topic instead. */
export interface PlannedDeadLetter {
  readonly offset: number;
  readonly key: string | null;
  readonly value: Uint8Array | null;
  readonly reason: PoisonReason;
  readonly detail: string;
}

/** Everything one batch does, computed before any I/O. */
export interface BatchPlan {
  readonly topic: string;
  readonly partition: number;
  /** The durable position the plan was made against. */
  readonly fromOffset: number;
  /** The position after the batch: one past its last message. */
  readonly nextOffset: number;
  readonly documents: readonly PlannedDocument[];
  readonly deadLetters: readonly PlannedDeadLetter[];
  /** Messages that were duplicates of a document already in the batch or the store. */
  readonly duplicates: number;
  /** Messages below `fromOffset`, already applied earlier. */
  readonly skipped: number;
}

/** What the worker knows. */
export interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  readonly nextOffset: number;
  /** The last seek asked for: to `nextOffset`, by a batch that began at `firstOffset`. */
  readonly seek?: { readonly offset: number; readonly firstOffset: number };
}

/** Configuration the core needs. */
export interface PlanOptions {
  readonly chunking: ChunkingOptions;
  readonly limits: DocumentLimits;
}

/** Inputs of the worker core. */
export type PartitionInput =
  | { readonly type: 'batch'; readonly messages: readonly RawMessage[] }
  | { readonly type: 'committed'; readonly nextOffset: number };

/** What the shell does for the core. */
export type PartitionEffect =
  | { readonly type: 'persist'; readonly plan: BatchPlan }
  | { readonly type: 'seek'; readonly offset: number }
  | { readonly type: 'upToDate'; readonly nextOffset: number; readonly skipped: number };

/** The key rows are stored under. */
export function documentKey(sourceId: string, version: number): string {
  return `${version}:${sourceId}`;
}

/** A worker that has recovered `nextOffset` from the store. */
export function initialState(topic: string, partition: number, nextOffset: number): PartitionState {
  assert(Number.isSafeInteger(nextOffset) && nextOffset >= 0, 'recovered offset must be a non-negative integer', { nextOffset });
  return { topic, partition, nextOffset };
}

/** Advances the core by one input. */
export function step(state: PartitionState, input: PartitionInput, options: PlanOptions): { state: PartitionState; effects: PartitionEffect[] } {
  if (input.type === 'committed') {
    assert(input.nextOffset >= state.nextOffset, 'offsets only move forward', { from: state.nextOffset, to: input.nextOffset, partition: state.partition });
    return { state: { ...state, nextOffset: input.nextOffset }, effects: [] };
  }
  const messages = input.messages;
  assertAscending(messages);
  const first = messages[0];
  if (first === undefined) return { state, effects: [{ type: 'upToDate', nextOffset: state.nextOffset, skipped: 0 }] };
  const confirmedGap = state.seek !== undefined && state.seek.offset === state.nextOffset && state.seek.firstOffset === first.offset;
  if (first.offset > state.nextOffset && !confirmedGap) {
    // Kafka's committed offset was ahead of ours, or the batch was fetched before an earlier seek: go back.
    return { state: { ...state, seek: { offset: state.nextOffset, firstOffset: first.offset } }, effects: [{ type: 'seek', offset: state.nextOffset }] };
  }
  const { seek: _answered, ...checked } = state;
  const plan = planBatch({ topic: state.topic, partition: state.partition, fromOffset: state.nextOffset, messages }, options);
  if (plan.documents.length === 0 && plan.deadLetters.length === 0 && plan.nextOffset <= state.nextOffset) {
    return { state: checked, effects: [{ type: 'upToDate', nextOffset: state.nextOffset, skipped: plan.skipped }] };
  }
  return { state: checked, effects: [{ type: 'persist', plan }] };
}

function assertAscending(messages: readonly RawMessage[]): void {
  for (let index = 1; index < messages.length; index += 1) {
    assert(messages[index]!.offset > messages[index - 1]!.offset, 'batch offsets must ascend', { index });
  }
}

/**
 * Plans one batch against the durable position `fromOffset`: parses every new message, chunks the
 * documents, and dead-letters what does not parse. A repeated (id, version) inside the batch is a
 * duplicate when its content is equal and a VERSION_CONFLICT when not. Pure.
 */
export function planBatch(input: { topic: string; partition: number; fromOffset: number; messages: readonly RawMessage[] }, options: PlanOptions): BatchPlan {
  const documents: PlannedDocument[] = [];
  const deadLetters: PlannedDeadLetter[] = [];
  const seen = new Map<string, string>();
  let duplicates = 0;
  let skipped = 0;
  let nextOffset = input.fromOffset;
  for (const message of input.messages) {
    if (message.offset < input.fromOffset) {
      skipped += 1;
      continue;
    }
    nextOffset = message.offset + 1;
    const parsed = parseDocument(message.value, options.limits);
    if (!parsed.ok) {
      deadLetters.push({ offset: message.offset, key: message.key, value: message.value, reason: parsed.reason, detail: parsed.detail });
      continue;
    }
    const key = documentKey(parsed.document.sourceId, parsed.document.version);
    const earlier = seen.get(key);
    if (earlier === parsed.document.contentHash) {
      duplicates += 1;
    } else if (earlier !== undefined) {
      deadLetters.push({ offset: message.offset, key: message.key, value: message.value, reason: 'VERSION_CONFLICT', detail: `document ${parsed.document.sourceId} version ${parsed.document.version} already exists with other content` });
    } else {
      seen.set(key, parsed.document.contentHash);
      documents.push({ offset: message.offset, key: message.key, value: message.value, document: parsed.document, chunks: chunkText(parsed.document.body, options.chunking) });
    }
  }
  return { topic: input.topic, partition: input.partition, fromOffset: input.fromOffset, nextOffset, documents, deadLetters, duplicates, skipped };
}

/**
 * Applies what the store already holds (`known`: content hash by `documentKey`): an equal document is
 * a duplicate and is not written (or embedded) again, a different one is a VERSION_CONFLICT. Pure.
 */
export function applyKnown(plan: BatchPlan, known: ReadonlyMap<string, string>): BatchPlan {
  if (known.size === 0) return plan;
  const documents: PlannedDocument[] = [];
  const deadLetters = [...plan.deadLetters];
  let duplicates = plan.duplicates;
  for (const planned of plan.documents) {
    const stored = known.get(documentKey(planned.document.sourceId, planned.document.version));
    if (stored === undefined) documents.push(planned);
    else if (stored === planned.document.contentHash) duplicates += 1;
    else deadLetters.push({ offset: planned.offset, key: planned.key, value: planned.value, reason: 'VERSION_CONFLICT', detail: `document ${planned.document.sourceId} version ${planned.document.version} already exists with other content` });
  }
  deadLetters.sort((a, b) => a.offset - b.offset);
  return { ...plan, documents, deadLetters, duplicates };
}

/**
 * Re-plans against a position read under the database lock, which may have moved since the plan was
 * made (another consumer of the same partition committed first, e.g. during a rebalance): work below
 * the locked position is dropped. Pure.
 */
export function trimPlan(plan: BatchPlan, lockedOffset: number): BatchPlan {
  if (lockedOffset <= plan.fromOffset) return plan;
  const documents = plan.documents.filter((document) => document.offset >= lockedOffset);
  const deadLetters = plan.deadLetters.filter((deadLetter) => deadLetter.offset >= lockedOffset);
  const dropped = plan.documents.length - documents.length + plan.deadLetters.length - deadLetters.length;
  return { ...plan, fromOffset: lockedOffset, nextOffset: Math.max(plan.nextOffset, lockedOffset), documents, deadLetters, skipped: plan.skipped + dropped };
}

/** Moves a document the embedder refused into the dead letters (the retry policy is spent). Pure. */
export function rejectDocument(plan: BatchPlan, offset: number, detail: string): BatchPlan {
  const rejected = plan.documents.find((document) => document.offset === offset);
  assert(rejected !== undefined, 'rejected document must be in the plan', { offset });
  const documents = plan.documents.filter((document) => document !== rejected);
  const deadLetters = [...plan.deadLetters, { offset, key: rejected.key, value: rejected.value, reason: 'EMBED_REJECTED' as const, detail }].sort((a, b) => a.offset - b.offset);
  return { ...plan, documents, deadLetters };
}
