/**
 * The client side of one replica as a pure table: which answer each waiting request gets, and when.
 * The shell (replica-requests.ts) proposes to the Raft core, records the request here under a token
 * (its handle on the reply channel), feeds in what the Ready batches report, and carries out the
 * answers this table hands back. No I/O, no clock (time comes in as `nowMs`), no randomness (the
 * read-id nonce comes in from the host).
 *
 * The rules, each with a unit test (test/unit/raft/requests.test.ts):
 * - A client has one request outstanding, so writes wait by client id. A newer sequence from the same
 *   client replaces an older one still waiting; the older is answered TIMEOUT (outcome unknown: it may
 *   still apply, and the client has moved on).
 * - A write is answered with its result once its entry applies (a retry answered from the session
 *   table included: the result of the sequence that waits is the one returned).
 * - On leaving leadership (Ready's soft state), reads not yet confirmed are refused NOT_LEADER: a read
 *   has no effect, so that is exact. Writes and membership changes are answered TIMEOUT: they may still
 *   commit under the next leader, and their clients retry with the same sequence at once.
 * - A read confirmed by ReadIndex (thesis 6.4) waits until the state machine has applied its index,
 *   then is served; a confirmed read survives a leadership change (its index is already safe).
 * - A membership change is answered when the entry at its index commits: success if that entry is the
 *   change appended (same term), TIMEOUT if another leader's entry took the index.
 * - Every request has a deadline; past it the answer is TIMEOUT. When the incarnation ends, every
 *   waiting request is answered TIMEOUT.
 * - Read ids (the ReadIndex context, which also travels to the leader when a follower forwards the
 *   read) are `<replica>/<nonce>/<counter>`, where the nonce is drawn anew by each incarnation of the
 *   process (Rng, see the host). A counter alone restarts at 0 after a crash, so a leader still
 *   confirming the old process's read would answer the new process's read of the same id with the
 *   old, possibly stale, index.
 */
import type { Entry, MembershipChange, NodeId, ReadState, Role } from './types.js';

/** The shell's handle on a reply channel. */
export type RequestToken = number;

/** A client request as it appears in an applied entry: who sent it, with which sequence. */
export interface AppliedRequest<Result> {
  readonly index: number;
  /** Null for entries that carry no client request (no-ops, membership changes). */
  readonly clientId: string | null;
  readonly sequence: number;
  readonly result: Result | null;
}

/** What the shell must do for one waiting request. */
export type RequestAnswer<Command, Result> =
  | { readonly type: 'timeout'; readonly token: RequestToken }
  | { readonly type: 'notLeader'; readonly token: RequestToken; readonly leader: NodeId | null }
  | { readonly type: 'result'; readonly token: RequestToken; readonly result: Result }
  /** Serve the read now: the state machine has applied the index ReadIndex confirmed. */
  | { readonly type: 'serveRead'; readonly token: RequestToken; readonly command: Command }
  | { readonly type: 'changeCommitted'; readonly token: RequestToken; readonly change: MembershipChange; readonly index: number };

interface WriteWaiter {
  readonly sequence: number;
  readonly token: RequestToken;
  readonly deadlineMs: number;
}

interface ReadWaiter<Command> {
  readonly command: Command;
  readonly token: RequestToken;
  readonly deadlineMs: number;
  /** The index the read must see, once ReadIndex confirmed it. */
  index: number | null;
}

interface ChangeWaiter {
  readonly term: number;
  readonly change: MembershipChange;
  readonly token: RequestToken;
  readonly deadlineMs: number;
}

/** Options of a request table. */
export interface RequestTableOptions {
  /** This replica's id (the first part of each read id). */
  readonly id: NodeId;
  /** Unique to this incarnation of the process (see the module comment). */
  readonly nonce: string;
  /** Requests waiting at once; `admits` refuses more (the shell answers BUSY). */
  readonly pendingMax: number;
}

/** The requests waiting at one replica. */
export class RequestTable<Command, Result> {
  readonly #options: RequestTableOptions;
  readonly #writes = new Map<string, WriteWaiter>();
  readonly #reads = new Map<string, ReadWaiter<Command>>();
  /** Membership changes by the index of their entry. */
  readonly #changes = new Map<number, ChangeWaiter>();
  #readCounter = 0;
  #leading = false;

  constructor(options: RequestTableOptions) {
    this.#options = options;
  }

  get pendingWrites(): number { return this.#writes.size; }
  get pendingReads(): number { return this.#reads.size; }
  get pendingChanges(): number { return this.#changes.size; }

  /**
   * Whether one more request may wait. A write from a client that already waits takes its place, so
   * it is admitted even at the bound.
   */
  admits(clientId: string | null = null): boolean {
    if (clientId !== null && this.#writes.has(clientId)) return true;
    return this.#writes.size + this.#reads.size + this.#changes.size < this.#options.pendingMax;
  }

  /** The id for the next read: unique across this replica's restarts (see the module comment). */
  nextReadId(): string {
    this.#readCounter += 1;
    return `${this.#options.id}/${this.#options.nonce}/${this.#readCounter}`;
  }

  /** A write was proposed (appended or forwarded): wait for it to apply. */
  write(request: { readonly clientId: string; readonly sequence: number; readonly token: RequestToken; readonly deadlineMs: number }): RequestAnswer<Command, Result>[] {
    const answers: RequestAnswer<Command, Result>[] = [];
    const existing = this.#writes.get(request.clientId);
    // The same sequence again (a retry) takes over the reply channel; the old attempt's channel is told TIMEOUT.
    if (existing !== undefined && existing.token !== request.token) answers.push({ type: 'timeout', token: existing.token });
    this.#writes.set(request.clientId, { sequence: request.sequence, token: request.token, deadlineMs: request.deadlineMs });
    return answers;
  }

  /** A read went to ReadIndex under `readId` (from `nextReadId`). */
  read(request: { readonly readId: string; readonly command: Command; readonly token: RequestToken; readonly deadlineMs: number }): void {
    this.#reads.set(request.readId, { command: request.command, token: request.token, deadlineMs: request.deadlineMs, index: null });
  }

  /** A membership change was appended at `index` in `term`: wait for it to commit. */
  change(request: { readonly index: number; readonly term: number; readonly change: MembershipChange; readonly token: RequestToken; readonly deadlineMs: number }): void {
    this.#changes.set(request.index, { term: request.term, change: request.change, token: request.token, deadlineMs: request.deadlineMs });
  }

  /**
   * The replica's role as the latest Ready reports it (etcd's SoftState). Losing leadership answers
   * what this replica can no longer finish: unconfirmed reads NOT_LEADER, writes and changes TIMEOUT.
   */
  softState(role: Role, leader: NodeId | null): RequestAnswer<Command, Result>[] {
    const leading = role === 'leader';
    const lost = this.#leading && !leading;
    this.#leading = leading;
    if (!lost) return [];
    const answers: RequestAnswer<Command, Result>[] = [];
    for (const [readId, waiter] of this.#reads) {
      if (waiter.index !== null) continue;
      this.#reads.delete(readId);
      answers.push({ type: 'notLeader', token: waiter.token, leader });
    }
    for (const waiter of this.#writes.values()) answers.push({ type: 'timeout', token: waiter.token });
    this.#writes.clear();
    for (const waiter of this.#changes.values()) answers.push({ type: 'timeout', token: waiter.token });
    this.#changes.clear();
    return answers;
  }

  /** Entries applied to the state machine, in order: answers the writes waiting on them. */
  applied(entries: readonly AppliedRequest<Result>[]): RequestAnswer<Command, Result>[] {
    const answers: RequestAnswer<Command, Result>[] = [];
    for (const entry of entries) {
      if (entry.clientId === null || entry.result === null) continue;
      const waiter = this.#writes.get(entry.clientId);
      if (waiter === undefined || waiter.sequence !== entry.sequence) continue;
      this.#writes.delete(entry.clientId);
      answers.push({ type: 'result', token: waiter.token, result: entry.result });
    }
    return answers;
  }

  /** Entries committed, in order: answers the membership changes waiting on their index. */
  committed(entries: readonly Entry[]): RequestAnswer<Command, Result>[] {
    const answers: RequestAnswer<Command, Result>[] = [];
    if (this.#changes.size === 0) return answers;
    for (const entry of entries) {
      const waiter = this.#changes.get(entry.index);
      if (waiter === undefined) continue;
      this.#changes.delete(entry.index);
      // Another leader's entry took this index: the change was lost, which TIMEOUT (unknown) covers.
      if (entry.type !== 'membership' || entry.term !== waiter.term) answers.push({ type: 'timeout', token: waiter.token });
      else answers.push({ type: 'changeCommitted', token: waiter.token, change: waiter.change, index: entry.index });
    }
    return answers;
  }

  /** ReadIndex confirmed these reads: each may be served once the state machine reaches its index. */
  readsConfirmed(states: readonly ReadState[]): void {
    for (const confirmed of states) {
      const waiter = this.#reads.get(confirmed.context);
      if (waiter !== undefined && waiter.index === null) waiter.index = confirmed.index;
    }
  }

  /** The confirmed reads the state machine, now at `appliedIndex`, can serve; they leave the table. */
  servable(appliedIndex: number): RequestAnswer<Command, Result>[] {
    const answers: RequestAnswer<Command, Result>[] = [];
    for (const [readId, waiter] of this.#reads) {
      if (waiter.index === null || waiter.index > appliedIndex) continue;
      this.#reads.delete(readId);
      answers.push({ type: 'serveRead', token: waiter.token, command: waiter.command });
    }
    return answers;
  }

  /** Answers TIMEOUT to every request whose deadline is at or before `nowMs`. */
  expire(nowMs: number): RequestAnswer<Command, Result>[] {
    const answers: RequestAnswer<Command, Result>[] = [];
    const sweep = <Key>(table: Map<Key, { readonly token: RequestToken; readonly deadlineMs: number }>): void => {
      for (const [key, waiter] of table) {
        if (waiter.deadlineMs > nowMs) continue;
        table.delete(key);
        answers.push({ type: 'timeout', token: waiter.token });
      }
    };
    sweep(this.#writes);
    sweep(this.#reads);
    sweep(this.#changes);
    return answers;
  }

  /** The incarnation ends: every waiting request learns that its outcome is unknown. */
  failAll(): RequestAnswer<Command, Result>[] {
    const answers: RequestAnswer<Command, Result>[] = [];
    for (const table of [this.#writes, this.#reads, this.#changes] as Array<Map<unknown, { readonly token: RequestToken }>>) {
      for (const waiter of table.values()) answers.push({ type: 'timeout', token: waiter.token });
      table.clear();
    }
    return answers;
  }
}
