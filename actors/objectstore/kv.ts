/**
 * The object store's view of the replicated KV: transactions through the log and linearizable reads
 * (ReadIndex), over a pool of `RaftKvClient`s (each keeps one request outstanding, so the pool size is
 * how many KV requests one gateway has in flight). A request that ends in TIMEOUT has an unknown
 * outcome and surfaces as S3's 503 ServiceUnavailable; a refusal of the model is an invariant breach of
 * this layer (it builds every command) and surfaces as 500 InternalError.
 */
import { RaftKvClient, type KvCommandOutcome, type KvTransport } from '../raft/index.js';
import type { KvKeyValue, KvOp, KvOpResponse, KvRangeOp, KvTxn } from '../storage/index.js';
import { S3Error } from './errors.js';

/** The outcome of a transaction that was applied. */
export interface TxnOutcome {
  readonly succeeded: boolean;
  readonly revision: number;
  readonly responses: readonly KvOpResponse[];
}

/** One range's answer. */
export interface RangeAnswer {
  readonly kvs: readonly KvKeyValue[];
  readonly more: boolean;
}

/** What the object store needs from the KV. */
export interface ObjectKv {
  txn(txn: KvTxn): Promise<TxnOutcome>;
  /** Linearizable reads, all at one revision. */
  read(ranges: readonly KvRangeOp[]): Promise<RangeAnswer[]>;
}

/** Options of a pool. */
export interface KvPoolOptions {
  /** Prefix of the pool's client ids; unique per gateway incarnation. */
  readonly clientIdPrefix: string;
  readonly replicas: readonly string[];
  readonly transport: KvTransport;
  /** Clients, i.e. KV requests in flight at most (default 32). */
  readonly size?: number;
  readonly attemptTimeoutMs?: number;
  readonly giveUpMs?: number;
}

/** A pool of KV clients that implements `ObjectKv`. */
export class KvPool implements ObjectKv {
  readonly #idle: RaftKvClient[] = [];
  readonly #waiting: Array<(client: RaftKvClient) => void> = [];

  constructor(options: KvPoolOptions) {
    const size = options.size ?? 32;
    for (let index = 0; index < size; index += 1) {
      this.#idle.push(new RaftKvClient({
        clientId: `${options.clientIdPrefix}-${index}`, replicas: options.replicas, transport: options.transport,
        attemptTimeoutMs: options.attemptTimeoutMs ?? 3_000, giveUpMs: options.giveUpMs ?? 20_000,
      }));
    }
  }

  /** Requests waiting for a client (for inspection). */
  get queued(): number {
    return this.#waiting.length;
  }

  async #with<T>(work: (client: RaftKvClient) => Promise<T>): Promise<T> {
    const client = this.#idle.pop() ?? await new Promise<RaftKvClient>((resolve) => this.#waiting.push(resolve));
    try {
      return await work(client);
    } finally {
      const next = this.#waiting.shift();
      if (next !== undefined) next(client);
      else this.#idle.push(client);
    }
  }

  async txn(txn: KvTxn): Promise<TxnOutcome> {
    const outcome = await this.#with((client) => client.txn(txn, 'log'));
    return txnResult(outcome);
  }

  async read(ranges: readonly KvRangeOp[]): Promise<RangeAnswer[]> {
    const outcome = await this.#with((client) => client.txn({ success: ranges as KvOp[] }));
    const result = txnResult(outcome);
    return result.responses.map((response) => {
      if (response.type !== 'range') throw new S3Error('InternalError', 'a read answered with a non-range response');
      return { kvs: response.kvs, more: response.more };
    });
  }
}

function txnResult(outcome: KvCommandOutcome): TxnOutcome {
  if (outcome.ok && outcome.type === 'txn') return { succeeded: outcome.succeeded, revision: outcome.revision, responses: outcome.responses };
  if (!outcome.ok && outcome.code === 'TIMEOUT') throw new S3Error('ServiceUnavailable', 'the replicated store did not answer in time; the outcome of this request is unknown');
  const detail = outcome.ok ? outcome.type : `${outcome.code}${'message' in outcome ? `: ${String(outcome.message)}` : ''}`;
  throw new S3Error('InternalError', `the replicated store refused a request (${detail})`);
}
