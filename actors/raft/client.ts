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
import type { KvCommand, KvResult } from './core/kv-state-machine.js';
import type { Ref } from '../../runtime/ref.js';
import type { MembershipChange, NodeId } from './core/types.js';
import { requestTimeoutMsMax, type KvReadRequest, type KvReply, type KvWriteRequest, type MembershipChangeRequest, type MembershipReply } from './kv-service.js';

/** Reaches a replica. Rejects on a transport failure (timeout, node down, lost connection). */
export interface KvTransport {
  ask(replica: NodeId, message: unknown, timeoutMs: number): Promise<unknown>;
}

/** One finished operation, in the shape linearizability checkers take. */
export interface KvOperationRecord {
  readonly clientId: string;
  readonly input: KvCommand;
  readonly call: number;
  /** The result; undefined when the outcome is unknown. */
  readonly output: KvResult | undefined;
  /** When the result arrived; Infinity when the outcome is unknown. */
  readonly return: number;
}

/** What an operation ends with: the state machine's result, or TIMEOUT (outcome unknown). */
export type KvOutcome = KvResult | { readonly ok: false; readonly code: 'TIMEOUT' };

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

/** A KV client with leader discovery and exactly-once retries. */
export class RaftKvClient {
  readonly clientId: string;
  readonly #options: Required<Omit<RaftKvClientOptions, 'record' | 'sequenceStart'>> & Pick<RaftKvClientOptions, 'record'>;
  #sequence: number;
  #leader: NodeId | null = null;
  #next = 0;
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

  /** Keys in [start, end) in order, at most `limit`. */
  scan(start: string, end: string | null, limit: number, mode: ReadMode = 'readIndex'): Promise<KvOutcome> {
    return this.execute({ type: 'scan', start, end, limit }, mode);
  }

  /** Runs one command to a definite result or to TIMEOUT, and records it. */
  async execute(command: KvCommand, mode: ReadMode = 'readIndex'): Promise<KvOutcome> {
    const { now, giveUpMs } = this.#options;
    const call = now();
    const request = this.#request(command, mode);
    const outcome = await this.#attempt(request, call + giveUpMs);
    const output = outcome.ok === false && outcome.code === 'TIMEOUT' ? undefined : (outcome as KvResult);
    this.#options.record?.({ clientId: this.clientId, input: command, call, output, return: output === undefined ? Infinity : now() });
    return outcome;
  }

  #request(command: KvCommand, mode: ReadMode): KvWriteRequest | KvReadRequest {
    const timeoutMs = Math.min(requestTimeoutMsMax, Math.max(1, Math.floor(this.#options.attemptTimeoutMs * 0.8)));
    if (mode === 'readIndex' && (command.type === 'get' || command.type === 'scan')) return { type: 'kv.read', command, timeoutMs };
    this.#sequence += 1;
    return { type: 'kv.request', clientId: this.clientId, sequence: this.#sequence, command, timeoutMs };
  }

  async #attempt(request: KvWriteRequest | KvReadRequest, deadline: number): Promise<KvOutcome> {
    const { now, transport, attemptTimeoutMs } = this.#options;
    let refusals = 0;
    let hints = 0;
    while (now() < deadline) {
      const target = this.#target();
      let reply: KvReply;
      try {
        reply = (await transport.ask(target, request, Math.max(1, Math.min(attemptTimeoutMs, deadline - now())))) as KvReply;
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
          // STALE_REQUEST, INVALID_REQUEST, TOO_LARGE: definite, nothing was (or will be) applied.
          return reply.code === 'TOO_LARGE' ? { ok: false, code: 'INVALID_REQUEST', reason: `request of ${reply.bytes} bytes exceeds ${reply.bytesMax}` } : reply;
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
