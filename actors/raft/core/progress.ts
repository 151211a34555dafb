/**
 * Per-follower replication progress at the leader, in the etcd-io/raft shape (`tracker/progress.go`):
 *
 * - probe: the leader does not know where the follower's log matches; it sends one AppendEntries at a
 *   time and waits for the answer (or the next heartbeat) before sending another;
 * - replicate: the logs match up to `match`; the leader pipelines AppendEntries optimistically, bounded
 *   by the in-flight window (messages and bytes), which is the flow control a slow follower exerts;
 * - snapshot: the follower needs entries the leader has compacted; the leader streams snapshot chunks.
 *
 * Invariant: match < next. A stale or reordered response never moves `match` back.
 */
import { assert } from '../../../runtime/errors.js';
import type { ProgressState } from './types.js';

/** A bounded window of in-flight AppendEntries: each message is remembered by its last index and size. */
export class Inflights {
  readonly #messagesMax: number;
  readonly #bytesMax: number;
  #lastIndexes: number[] = [];
  #sizes: number[] = [];
  #bytes = 0;

  constructor(messagesMax: number, bytesMax: number) {
    this.#messagesMax = messagesMax;
    this.#bytesMax = bytesMax;
  }

  get count(): number { return this.#lastIndexes.length; }
  get bytes(): number { return this.#bytes; }

  /** Full when either cap is reached; one message may overshoot the byte cap so large entries still move. */
  full(): boolean {
    return this.#lastIndexes.length >= this.#messagesMax || this.#bytes >= this.#bytesMax;
  }

  add(lastIndex: number, bytes: number): void {
    assert(!this.full(), 'in-flight window overflow');
    const previous = this.#lastIndexes[this.#lastIndexes.length - 1];
    assert(previous === undefined || lastIndex > previous, 'in-flight messages must carry increasing indexes');
    this.#lastIndexes.push(lastIndex);
    this.#sizes.push(bytes);
    this.#bytes += bytes;
  }

  /** Forgets every message whose entries are all acknowledged (last index at or below `index`). */
  freeUpTo(index: number): void {
    let count = 0;
    while (count < this.#lastIndexes.length && this.#lastIndexes[count]! <= index) {
      this.#bytes -= this.#sizes[count]!;
      count += 1;
    }
    if (count === 0) return;
    this.#lastIndexes = this.#lastIndexes.slice(count);
    this.#sizes = this.#sizes.slice(count);
  }

  reset(): void {
    this.#lastIndexes = [];
    this.#sizes = [];
    this.#bytes = 0;
  }
}

/** A snapshot being streamed to one follower: chunks sent, chunks acknowledged, ticks without progress. */
export interface SnapshotTransfer {
  readonly index: number;
  readonly chunkCount: number;
  sentChunks: number;
  ackedChunks: number;
  stalledTicks: number;
}

/** The leader's view of one peer's log. */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an AppendEntries is out and we wait before sending another. */
  probeSent = false;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** Heartbeat answers in a row during which `match` did not move although entries are outstanding. */
  stalledHeartbeats = 0;
  learner: boolean;
  snapshot: SnapshotTransfer | null = null;
  readonly inflights: Inflights;

  constructor(options: { next: number; learner: boolean; inflightMessagesMax: number; inflightBytesMax: number }) {
    this.next = options.next;
    this.learner = options.learner;
    this.inflights = new Inflights(options.inflightMessagesMax, options.inflightBytesMax);
  }

  becomeProbe(): void {
    this.state = 'probe';
    this.next = this.match + 1;
    this.#reset();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.#reset();
  }

  becomeSnapshot(transfer: Omit<SnapshotTransfer, 'sentChunks' | 'ackedChunks' | 'stalledTicks'>): void {
    this.#reset();
    this.state = 'snapshot';
    this.snapshot = { ...transfer, sentChunks: 0, ackedChunks: 0, stalledTicks: 0 };
  }

  /** An acknowledgement up to `index`; returns whether it moved `match` (stale answers do not). */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
      this.stalledHeartbeats = 0;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /** Pipelining: assume the entries up to `lastIndex` will arrive and send the next ones right away. */
  optimisticUpdate(lastIndex: number): void {
    this.next = lastIndex + 1;
  }

  /**
   * A rejection of the AppendEntries whose prevLogIndex was `rejected`; `probeHint` is the highest index
   * the follower's answer says may match. Returns false for a stale rejection that must be ignored.
   */
  maybeDecreaseTo(rejected: number, probeHint: number): boolean {
    // While a snapshot streams, every rejection answers an AppendEntries sent before it started.
    if (this.state === 'snapshot') return false;
    if (this.state === 'replicate') {
      // In replicate state a rejection below match answers an old message: the logs match up to match.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In probe state only the answer to the probe we sent last (prevLogIndex = next - 1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, probeHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Whether the leader must hold back AppendEntries to this peer for now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe': return this.probeSent;
      case 'replicate': return this.inflights.full();
      case 'snapshot': return true;
    }
  }

  checkInvariant(): void {
    assert(this.match < this.next, 'progress: match must stay below next', { match: this.match, next: this.next });
  }

  #reset(): void {
    this.probeSent = false;
    this.stalledHeartbeats = 0;
    this.inflights.reset();
    if (this.state !== 'snapshot') this.snapshot = null;
  }
}
