/**
 * A client of the replicated KV service. It finds the leader (following NOT_LEADER hints, trying the
 * replicas in turn when there is none), keeps one request outstanding, and retries a write after a
 * timeout or a lost connection with the SAME (clientId, sequence), so the state machine's session
 * table applies it at most once (Raft thesis 6.3). An operation ends with a definite result, or, once
 * `giveUpMs` has passed, with TIMEOUT: its outcome is then unknown (it may still take effect).
 *
 * Every operation can be recorded as `{ clientId, input, call, output, return }` for a
 * linearizability checker: an unknown outcome is recorded with no output and `return: Infinity`.
 *
 * The transport is whatever reaches a replica: the kernel's `ask` inside a node, or the cluster's
 * client SDK from outside one.
 */
import { TroupeError } from '../../runtime/errors.js';
import type { Ref } from '../../runtime/ref.js';
import { prefixRangeEnd, type KvCommand, type KvEvent, type KvOp, type KvTxn } from '../storage/index.js';
import type { KvAppliedResult } from './core/kv-state-machine.js';
import type { MembershipChange, NodeId } from './core/types.js';
import {
  isReadOnly,
  requestTimeoutMsMax,
  type KvLeaseKeepAliveReply,
  type KvReadRequest,
  type KvReply,
  type KvWatchRequest,
  type KvWriteRequest,
  type MembershipChangeRequest,
  type MembershipReply,
} from './kv-service.js';
import { isTextRead, invalidTextReason, textCommand, textResult, type KvTextCommand, type KvTextResult } from './kv-text.js';
import type { KvWatchReply } from './kv-watch.js';

/** Reaches a replica. Rejects on a transport failure (timeout, node down, lost connection). */
export interface KvTransport {
  ask(replica: NodeId, message: unknown, timeoutMs: number): Promise<unknown>;
}

/** One finished text operation, in the shape linearizability checkers take. */
export interface KvOperationRecord {
  readonly clientId: string;
  readonly input: KvTextCommand;
  readonly call: number;
  /** The result; undefined when the outcome is unknown. */
  readonly output: KvTextResult | undefined;
  /** When the result arrived; Infinity when the outcome is unknown. */
  readonly return: number;
}

/** The outcome is unknown: the request may still take effect. */
export interface KvTimeout {
  readonly ok: false;
  readonly code: 'TIMEOUT';
}

/** What a model command ends with: the state machine's result, or TIMEOUT (outcome unknown). */
export type KvCommandOutcome = KvAppliedResult | KvTimeout;

/** What a text operation ends with. */
export type KvOutcome = KvTextResult | KvTimeout;

/** Options of `watch`: the events of keys in (key, rangeEnd) (or under `prefix`) from `fromRevision` on. */
export interface KvWatchOptions {
  readonly key?: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  /** Watch every key starting with these bytes (instead of key/rangeEnd). */
  readonly prefix?: Uint8Array;
  /** First revision wanted (default: the replica's current revision + 1, only new events). */
  readonly fromRevision?: number;
  /** Pause after a poll that found nothing (default 50). */
  readonly idleMs?: number;
  /** Stops the watch: the iteration ends after the current poll. */
  readonly signal?: AbortSignal;
}

/** A watch cannot continue: its next revision has been compacted away. */
export class KvWatchError extends TroupeError {
  constructor(readonly compactRevision: number, readonly fromRevision: number) {
    super('COMPACTED', `revision ${fromRevision} is compacted (up to ${compactRevision}); restart the watch from a newer revision`, { context: { compactRevision, fromRevision } });
  }
}

/** Options of a client. */
export interface RaftKvClientOptions {
  /** Unique per client, stable across its retries (and restarts, if it wants exactly-once across them). */
  readonly clientId: string;
  readonly replicas: readonly NodeId[];
  readonly transport: KvTransport;
  /** Wait for one attempt (default 2000); the replica is asked to answer TIMEOUT a little earlier. */
  readonly attemptTimeoutMs?: number;
  /** Give up on an operation after this long (default 30000): TIMEOUT, outcome unknown. */
  readonly giveUpMs?: number;
  /** First pause before retrying after a refusal; doubles up to `retryDelayMsMax`. */
  readonly retryDelayMs?: number;
  readonly retryDelayMsMax?: number;
  /** First sequence number minus one (a restarted client resumes above what it used). */
  readonly sequenceStart?: number;
  /** Called with each finished operation. */
  readonly record?: (operation: KvOperationRecord) => void;
  /** Time source for records and deadlines (default performance.now). */
  readonly now?: () => number;
  /** Waits `ms` on the same timeline as `now` (default: a real timer); the simulation passes simulated time. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** How a get or scan is served: ReadIndex (default) or through the log. */
export type ReadMode = 'readIndex' | 'log';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function isTimeout(outcome: { readonly ok: boolean; readonly code?: string }): outcome is KvTimeout {
  return outcome.ok === false && outcome.code === 'TIMEOUT';
}

/** A KV client with leader discovery and exactly-once retries. */
export class RaftKvClient {
  readonly clientId: string;
  readonly #options: Required<Omit<RaftKvClientOptions, 'record' | 'sequenceStart'>> & Pick<RaftKvClientOptions, 'record'>;
  #sequence: number;
  #leader: NodeId | null = null;
  #next = 0;
  /** The newest revision, and compaction, of any outcome this client received (see `#observe`). */
  #seenRevision = 0;
  #seenCompactRevision = 0;
  /** Attempts that hit a transport failure or a TIMEOUT answer (for tests and benchmarks). */
  retries = 0;

  constructor(options: RaftKvClientOptions) {
    if (options.replicas.length === 0) throw new RangeError('a KV client needs at least one replica');
    this.clientId = options.clientId;
    this.#sequence = options.sequenceStart ?? 0;
    this.#options = {
      attemptTimeoutMs: 2_000, giveUpMs: 30_000, retryDelayMs: 20, retryDelayMsMax: 500, now: () => performance.now(), sleep, ...options,
    };
  }

  /** The replica this client believes leads, if any. */
  get leader(): NodeId | null {
    return this.#leader;
  }

  put(key: string, value: string): Promise<KvOutcome> {
    return this.execute({ type: 'put', key, value });
  }

  get(key: string, mode: ReadMode = 'readIndex'): Promise<KvOutcome> {
    return this.execute({ type: 'get', key }, mode);
  }

  delete(key: string): Promise<KvOutcome> {
    return this.execute({ type: 'delete', key });
  }

  /** Sets `key` to `value` if it holds `expected` (null: absent). */
  cas(key: string, expected: string | null, value: string): Promise<KvOutcome> {
    return this.execute({ type: 'cas', key, expected, value });
  }

  /** Keys in [start, end) in byte order of their UTF-8, at most `limit`. */
  scan(start: string, end: string | null, limit: number, mode: ReadMode = 'readIndex'): Promise<KvOutcome> {
    return this.execute({ type: 'scan', start, end, limit }, mode);
  }

  /** Runs one text operation to a definite result or to TIMEOUT, and records it. */
  async execute(command: KvTextCommand, mode: ReadMode = 'readIndex'): Promise<KvOutcome> {
    const { now, giveUpMs } = this.#options;
    const call = now();
    const invalid = invalidTextReason(command);
    const outcome: KvOutcome = invalid !== null
      ? { ok: false, code: 'INVALID_REQUEST', message: invalid }
      : await this.#run(textCommand(command), mode === 'readIndex' && isTextRead(command), call + giveUpMs).then((result) => (isTimeout(result) ? result : textResult(command, result)));
    const output = isTimeout(outcome) ? undefined : outcome;
    this.#options.record?.({ clientId: this.clientId, input: command, call, output, return: output === undefined ? Infinity : now() });
    return outcome;
  }

  /** Runs a command of the model; a read-only transaction goes through ReadIndex unless `mode` is 'log'. */
  async request(command: KvCommand, mode: ReadMode = 'readIndex'): Promise<KvCommandOutcome> {
    const outcome = await this.#run(command, mode === 'readIndex' && isReadOnly(command), this.#options.now() + this.#options.giveUpMs);
    this.#observe(outcome);
    return outcome;
  }

  /**
   * Remembers the newest revision and compaction this client has seen acknowledged, so a later watch
   * is served only by a replica that has applied them (read-your-writes for watches: a watch after
   * an acknowledged compaction is refused COMPACTED, as etcd refuses it, even from a lagging replica).
   */
  #observe(outcome: KvCommandOutcome): void {
    const result = outcome as { ok?: unknown; revision?: unknown; compactRevision?: unknown };
    if (result.ok !== true) return;
    if (typeof result.revision === 'number') this.#seenRevision = Math.max(this.#seenRevision, result.revision);
    if (typeof result.compactRevision === 'number') this.#seenCompactRevision = Math.max(this.#seenCompactRevision, result.compactRevision);
  }

  /** A transaction: compares, then the success or failure ops, at one revision. */
  txn(txn: Partial<KvTxn>, mode: ReadMode = 'readIndex'): Promise<KvCommandOutcome> {
    return this.request({ type: 'txn', txn: { compare: txn.compare ?? [], success: txn.success ?? [], failure: txn.failure ?? [] } }, mode);
  }

  /** One range read (linearizable through ReadIndex by default). */
  range(op: Omit<Extract<KvOp, { type: 'range' }>, 'type'>, mode: ReadMode = 'readIndex'): Promise<KvCommandOutcome> {
    return this.txn({ success: [{ type: 'range', ...op }] }, mode);
  }

  /** Grants a lease of `ttlMs`; its id comes back in the result. */
  grantLease(ttlMs: number): Promise<KvCommandOutcome> {
    return this.request({ type: 'leaseGrant', ttlMs });
  }

  /** Revokes a lease: its keys are deleted at one revision. */
  revokeLease(lease: number): Promise<KvCommandOutcome> {
    return this.request({ type: 'leaseRevoke', lease });
  }

  /** Drops the watch history at or below `revision`. */
  compact(revision: number): Promise<KvCommandOutcome> {
    return this.request({ type: 'compact', revision });
  }

  /** Renews a lease's TTL on the leader. */
  async keepAlive(lease: number): Promise<KvLeaseKeepAliveReply | KvTimeout> {
    const reply = await this.#attempt({ type: 'kv.leaseKeepAlive', lease }, this.#options.now() + this.#options.giveUpMs);
    return reply as KvLeaseKeepAliveReply | KvTimeout;
  }

  /**
   * Streams the events of a key range in revision order, with no gap and no duplicate: each poll asks
   * a replica for the events from the revision after the last one delivered, and after a failure (a
   * lost connection, a killed replica) the next poll goes to the next replica, from that same revision.
   * Ends when `signal` aborts; throws KvWatchError (COMPACTED) when the revision wanted is compacted.
   */
  async *watch(options: KvWatchOptions): AsyncGenerator<KvEvent, void, void> {
    const key = options.prefix ?? options.key;
    if (key === undefined) throw new RangeError('a watch needs a key or a prefix');
    const rangeEnd = options.prefix !== undefined ? prefixRangeEnd(options.prefix) : options.rangeEnd;
    let next = options.fromRevision;
    let failures = 0;
    let replica = this.#next;
    while (options.signal?.aborted !== true) {
      const target = this.#options.replicas[replica % this.#options.replicas.length]!;
      const request: KvWatchRequest = { type: 'kv.watch', key, fromRevision: next ?? 1, ...(rangeEnd === undefined ? {} : { rangeEnd }) };
      let reply: KvWatchReply;
      try {
        reply = (await this.#options.transport.ask(target, request, this.#options.attemptTimeoutMs)) as KvWatchReply;
        if (typeof reply !== 'object' || reply === null || (reply.ok !== true && reply.code !== 'COMPACTED')) throw new Error('the replica could not serve the watch');
      } catch {
        // The next poll goes to another replica, from the same revision.
        failures += 1;
        replica += 1;
        await this.#pause(failures);
        continue;
      }
      if (!reply.ok) throw new KvWatchError(reply.compactRevision, request.fromRevision);
      if ((next !== undefined && reply.revision < next - 1) || reply.revision < this.#seenRevision || reply.compactRevision < this.#seenCompactRevision) {
        // This replica has not applied what the watch already delivered, or what this client saw
        // acknowledged (it lags, or was cut off and does not know it yet): ask another one, from the
        // same revision.
        failures += 1;
        replica += 1;
        await this.#pause(failures);
        continue;
      }
      failures = 0;
      if (next === undefined) {
        // Only new events: start after the revision the first replica asked holds now.
        next = reply.revision + 1;
        continue;
      }
      for (const event of reply.events) yield event;
      next = reply.nextRevision;
      if (reply.events.length === 0) await this.#options.sleep(options.idleMs ?? 50);
    }
  }

  async #run(command: KvCommand, viaReadIndex: boolean, deadline: number): Promise<KvCommandOutcome> {
    const timeoutMs = Math.min(requestTimeoutMsMax, Math.max(1, Math.floor(this.#options.attemptTimeoutMs * 0.8)));
    if (viaReadIndex) return this.#attempt({ type: 'kv.read', command, timeoutMs }, deadline) as Promise<KvCommandOutcome>;
    this.#sequence += 1;
    return this.#attempt({ type: 'kv.request', clientId: this.clientId, sequence: this.#sequence, command, timeoutMs }, deadline) as Promise<KvCommandOutcome>;
  }

  async #attempt(request: KvWriteRequest | KvReadRequest | { type: 'kv.leaseKeepAlive'; lease: number }, deadline: number): Promise<KvReply | KvLeaseKeepAliveReply | KvTimeout> {
    const { now, transport, attemptTimeoutMs } = this.#options;
    let refusals = 0;
    let hints = 0;
    while (now() < deadline) {
      const target = this.#target();
      let reply: KvReply | KvLeaseKeepAliveReply;
      try {
        reply = (await transport.ask(target, request, Math.max(1, Math.min(attemptTimeoutMs, deadline - now())))) as KvReply | KvLeaseKeepAliveReply;
      } catch (error) {
        // A node that refused the request for the client's token (FORBIDDEN) never delivered it: a
        // definite answer that no retry changes, surfaced as the typed error.
        if (isAuthorizationRefusal(error)) throw error;
        // Otherwise the outcome of this attempt is unknown; the retry carries the same sequence number.
        this.retries += 1;
        this.#forget(target);
        refusals += 1;
        await this.#pause(refusals);
        continue;
      }
      if (reply.ok !== false) {
        // Keep the replica that answered: the first one tried is usually the leader (replicas in order).
        this.#leader ??= target;
        return reply;
      }
      switch (reply.code) {
        case 'NOT_LEADER':
          // Follow a hint at once, but not around a loop of stale hints.
          hints += 1;
          if (reply.leaderHint !== null && reply.leaderHint !== target && this.#options.replicas.includes(reply.leaderHint) && hints <= this.#options.replicas.length) {
            this.#leader = reply.leaderHint;
            continue;
          }
          hints = 0;
          this.#forget(target);
          break;
        case 'TIMEOUT':
          this.retries += 1;
          this.#forget(target);
          continue;
        case 'BUSY':
          break;
        default:
          // The model's refusals, STALE_REQUEST, INVALID_REQUEST, TOO_LARGE: definite, nothing was (or will be) applied.
          return reply.code === 'TOO_LARGE' ? { ok: false, code: 'INVALID_REQUEST', message: `request of ${reply.bytes} bytes exceeds ${reply.bytesMax}` } : reply;
      }
      refusals += 1;
      await this.#pause(refusals);
    }
    return { ok: false, code: 'TIMEOUT' };
  }

  /** Backs off before the next attempt, doubling from `retryDelayMs` up to `retryDelayMsMax`. */
  #pause(refusals: number): Promise<void> {
    return this.#options.sleep(Math.min(this.#options.retryDelayMsMax, this.#options.retryDelayMs * 2 ** Math.min(refusals - 1, 10)));
  }

  #target(): NodeId {
    if (this.#leader !== null) return this.#leader;
    const replicas = this.#options.replicas;
    const target = replicas[this.#next % replicas.length]!;
    this.#next += 1;
    return target;
  }

  #forget(target: NodeId): void {
    if (this.#leader === target) this.#leader = null;
  }
}

/** Options of `changeMembership`. */
export interface MembershipChangeOptions {
  readonly replicas: readonly NodeId[];
  readonly transport: KvTransport;
  /** Where an added node's replica lives (default: the leader's choice, `{ node, path: '/root/raft' }`). */
  readonly peerRef?: Ref;
  /** How long the leader waits for the change to commit (default 5000). */
  readonly timeoutMs?: number;
  /** Give up finding a leader after this long (default 10000): TIMEOUT. */
  readonly giveUpMs?: number;
}

/**
 * Sends one membership change to the leader (following NOT_LEADER hints, trying the replicas in turn
 * when there is none) and returns its first definite answer. It is not retried once a leader took it:
 * a change is not idempotent, and after a TIMEOUT the operator looks at `kv status` before trying again.
 */
export async function changeMembership(change: MembershipChange, options: MembershipChangeOptions): Promise<MembershipReply> {
  if (options.replicas.length === 0) throw new RangeError('a membership change needs at least one replica');
  const timeoutMs = Math.min(requestTimeoutMsMax, options.timeoutMs ?? 5_000);
  const request: MembershipChangeRequest = { type: 'raft.changeMembership', change, timeoutMs, ...(options.peerRef ? { peerRef: options.peerRef } : {}) };
  const deadline = performance.now() + (options.giveUpMs ?? 10_000);
  let next = 0;
  let hinted: NodeId | null = null;
  let misses = 0;
  while (performance.now() < deadline) {
    const target: NodeId = hinted ?? options.replicas[next++ % options.replicas.length]!;
    hinted = null;
    let reply: MembershipReply;
    try {
      reply = (await options.transport.ask(target, request, timeoutMs + 1_000)) as MembershipReply;
    } catch {
      reply = { ok: false, code: 'NOT_LEADER', leaderHint: null, leaderRef: null };
    }
    if (reply.ok !== false || reply.code !== 'NOT_LEADER') return reply;
    if (reply.leaderHint !== null && reply.leaderHint !== target && options.replicas.includes(reply.leaderHint)) {
      hinted = reply.leaderHint;
      continue;
    }
    // No leader known here: after a round of the replicas, wait for an election to settle.
    misses += 1;
    if (misses % options.replicas.length === 0) await sleep(100);
  }
  return { ok: false, code: 'TIMEOUT' };
}

/** True for the typed refusals of the cluster's client authorization (cluster/core/scopes.ts). */
function isAuthorizationRefusal(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return code === 'FORBIDDEN' || code === 'CLIENT_UNAUTHORIZED';
}
