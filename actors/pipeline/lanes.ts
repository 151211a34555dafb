/**
 * The consumer's per-partition lanes: what a lane holds, and the pure rules it follows (how fetched
 * batches merge into one worker batch, how long a failing batch waits). The consumer actor
 * (ingestion.ts) owns the lanes and mutates them only inside its mailbox.
 */
import type { RawMessage } from './core/partition.js';

/** One assigned partition, as the consumer actor tracks it. */
export interface Lane {
  readonly partition: number;
  /** Which assignment this lane belongs to: answers meant for an earlier one are dropped. */
  readonly epoch: number;
  phase: 'starting' | 'ready';
  worker?: { readonly node: string; readonly path: string };
  /** Fetched batches not yet sent to the worker, oldest first. */
  queue: Array<readonly RawMessage[]>;
  queuedBytes: number;
  /** The merged batch the worker is working on. */
  inFlight?: { readonly messages: readonly RawMessage[]; readonly bytes: number } | undefined;
  /** Paused at the broker because the queue is full. */
  paused: boolean;
  /** Backing off after a failure; a timer ends it. */
  waiting: boolean;
  /** The offset the lane needs next from the fetcher: one past the last message it took (set when the worker is ready). */
  frontier?: number;
  /** The last seek the lane asked for, and the fetch position of the stale batch that made it. */
  lastSeek?: { readonly offset: number; readonly staleFetchedOffset: number | undefined };
  /** The durable next offset, as the worker last reported it. */
  nextOffset?: number;
  /** The partition's end, as of the last fetch. */
  highWatermark?: number;
  /** Failures in a row of the current batch (or of starting the worker). */
  attempts: number;
  lastError?: string;
  batches: number;
  documents: number;
  deadLetters: number;
}

/** One lane in `pipeline.status`. */
export interface LaneStatus {
  readonly partition: number;
  readonly phase: 'starting' | 'ready' | 'retrying';
  readonly nextOffset: number | null;
  readonly highWatermark: number | null;
  /** Messages between the durable position and the partition's end. */
  readonly lag: number | null;
  readonly queuedMessages: number;
  readonly paused: boolean;
  readonly batches: number;
  readonly documents: number;
  /** Dead letters this consumer committed (the store holds them all). */
  readonly deadLetters: number;
  readonly attempts: number;
  readonly lastError?: string;
}

/**
 * Takes queued batches, oldest first, into one ascending list of messages of at most
 * `batchBytesMax` bytes and `batchMessagesMax` messages (a single larger batch still goes alone).
 * A batch joins only if it continues the list (starts at most one past its last offset): a batch that
 * starts further on goes in a later call, so a gap between two fetches (a batch fetched before a seek)
 * is seen by the worker, which asks for a seek, and is never papered over. Messages at or below an
 * offset already taken are dropped (batches fetched before and after a seek may overlap). `bytes`
 * counts the taken batches as they were queued. Pure.
 */
export function mergeBatches(queue: ReadonlyArray<readonly RawMessage[]>, limits: { batchBytesMax: number; batchMessagesMax: number }): { messages: RawMessage[]; bytes: number; rest: Array<readonly RawMessage[]> } {
  const messages: RawMessage[] = [];
  let bytes = 0;
  let takenBytes = 0;
  let index = 0;
  for (; index < queue.length; index += 1) {
    const batch = queue[index]!;
    const batchBytes = batch.reduce((sum, message) => sum + sizeOf(message), 0);
    const last = messages[messages.length - 1];
    if (last !== undefined && (takenBytes + batchBytes > limits.batchBytesMax || messages.length + batch.length > limits.batchMessagesMax)) break;
    if (last !== undefined && batch.length > 0 && batch[0]!.offset > last.offset + 1) break;
    for (const message of batch) {
      const previous = messages[messages.length - 1];
      if (previous !== undefined && message.offset <= previous.offset) continue;
      messages.push(message);
      takenBytes += sizeOf(message);
    }
    bytes += batchBytes;
  }
  return { messages, bytes, rest: queue.slice(index) };
}

/** Bytes a message holds in a lane (value plus key). */
export function sizeOf(message: RawMessage): number {
  return (message.value?.byteLength ?? 0) + (message.key?.length ?? 0);
}

/** Exponential backoff with jitter: 100 ms doubling per attempt up to `delayMsMax`, scaled by [0.5, 1). */
export function retryDelayMs(attempt: number, delayMsMax: number, random: number): number {
  const base = Math.min(delayMsMax, 100 * 2 ** Math.min(Math.max(0, attempt - 1), 20));
  return Math.round(base * (0.5 + random / 2));
}

/**
 * Whether a fetched batch continues the lane. kafkajs says where each fetch began (`fetchedOffset`):
 * a fetch that began at or before the lane's frontier continues it (a first message beyond the
 * frontier then means the log holds nothing in between: compaction or transaction markers). A fetch
 * that began beyond it was issued before the lane's last seek took effect (stale), or followed a fetch
 * kafkajs handled alone (only transaction markers); the lane seeks back to its frontier, and the same
 * fetch position seen again right after that seek proves the second case. Pure.
 */
export function admitFetched(lane: { readonly frontier?: number | undefined; readonly lastSeek?: { readonly offset: number; readonly staleFetchedOffset: number | undefined } | undefined }, fetchedOffset: number): 'continue' | 'stale' {
  if (lane.frontier === undefined) return 'stale';
  if (fetchedOffset <= lane.frontier) return 'continue';
  const seek = lane.lastSeek;
  return seek !== undefined && seek.offset === lane.frontier && seek.staleFetchedOffset === fetchedOffset ? 'continue' : 'stale';
}
