/**
 * ReadIndex (thesis 6.4): a leader serves a linearizable read by recording its commit index, proving it
 * is still the leader with one round of heartbeats acknowledged by a quorum, and then letting the
 * read proceed once the state machine has applied that index. Requests queue in arrival order; a
 * quorum acknowledging a later request's heartbeat also confirms every earlier one, because the
 * leader's term could not have changed in between.
 */
import { assert } from '../../../runtime/errors.js';
import type { NodeId } from './types.js';

/** A read waiting for a quorum to confirm leadership. `from` is the replica that asked. */
export interface PendingRead {
  readonly context: string;
  readonly index: number;
  readonly from: NodeId;
  readonly acks: Set<NodeId>;
}

/** The leader's queue of unconfirmed reads, keyed by the caller's context. */
export class ReadOnlyQueue {
  #queue: PendingRead[] = [];
  readonly #byContext = new Map<string, PendingRead>();

  get size(): number { return this.#queue.length; }

  has(context: string): boolean { return this.#byContext.has(context); }

  /** The newest context, which the next heartbeat carries. */
  lastContext(): string | null {
    return this.#queue.length === 0 ? null : this.#queue[this.#queue.length - 1]!.context;
  }

  add(read: Omit<PendingRead, 'acks'>, self: NodeId): void {
    assert(!this.#byContext.has(read.context), 'read context already pending', { context: read.context });
    const pending: PendingRead = { ...read, acks: new Set([self]) };
    this.#queue.push(pending);
    this.#byContext.set(read.context, pending);
  }

  /** Records `voter`'s acknowledgement of `context`; returns the acknowledgers so far (or null if unknown). */
  acknowledge(context: string, voter: NodeId): ReadonlySet<NodeId> | null {
    const pending = this.#byContext.get(context);
    if (pending === undefined) return null;
    pending.acks.add(voter);
    return pending.acks;
  }

  /** Removes and returns every read up to and including `context`, oldest first. */
  release(context: string): PendingRead[] {
    const position = this.#queue.findIndex((read) => read.context === context);
    if (position < 0) return [];
    const released = this.#queue.slice(0, position + 1);
    this.#queue = this.#queue.slice(position + 1);
    for (const read of released) this.#byContext.delete(read.context);
    return released;
  }

  clear(): void {
    this.#queue = [];
    this.#byContext.clear();
  }
}
