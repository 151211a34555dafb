/**
 * The replicated log's client: a transaction goes to every replica, and its outcome is the answer
 * f + 1 replicas agree on (at least one of them is correct), so a lying replica cannot fake a result.
 * Reads work the same way. The transport is whatever reaches a replica (the client SDK's `ask`).
 */
import { TroupeError } from '../../runtime/errors.js';
import { faultsTolerated } from './core/quorum.js';
import type { LogTransaction, SubmitReply } from './log-host.js';

/** How the client reaches replica `index`. */
export interface MvbaLogTransport {
  ask(replica: number, message: unknown, timeoutMs: number): Promise<unknown>;
}

/** Raised when f + 1 matching answers did not arrive in time. */
export class MvbaClientError extends TroupeError {}

/** A client of one replicated log of `replicas` parties. */
export class MvbaLogClient {
  private readonly faults: number;

  constructor(private readonly options: { readonly replicas: number; readonly transport: MvbaLogTransport; readonly timeoutMs?: number }) {
    this.faults = faultsTolerated(options.replicas);
  }

  /** Submits `tx` and resolves with the outcome f + 1 replicas agree on. */
  submit(tx: LogTransaction): Promise<SubmitReply> {
    return this.agreed({ type: 'bftlog.submit', tx }) as Promise<SubmitReply>;
  }

  /** Reads `key` as f + 1 replicas report it at the same log position. */
  read(key: string): Promise<{ ok: true; instance: number; value: string | null }> {
    return this.agreed({ type: 'bftlog.read', key }) as Promise<{ ok: true; instance: number; value: string | null }>;
  }

  private agreed(message: unknown): Promise<unknown> {
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const tally = new Map<string, number>();
      const errors: string[] = [];
      let settled = false;
      let answered = 0;
      const finish = (): void => {
        answered += 1;
        if (!settled && answered === this.options.replicas) {
          settled = true;
          reject(new MvbaClientError('NO_AGREEMENT', `fewer than ${this.faults + 1} replicas gave the same answer${errors.length > 0 ? ` (${errors.join('; ')})` : ''}`, { context: { answers: [...tally], errors } }));
        }
      };
      for (let replica = 0; replica < this.options.replicas; replica += 1) {
        this.options.transport.ask(replica, message, timeoutMs).then((reply) => {
          const key = JSON.stringify(reply);
          const count = (tally.get(key) ?? 0) + 1;
          tally.set(key, count);
          if (!settled && count >= this.faults + 1) {
            settled = true;
            resolve(reply);
          }
          finish();
        }, (error: unknown) => {
          errors.push(`replica ${replica}: ${error instanceof Error ? error.message : String(error)}`);
          finish();
        });
      }
    });
  }
}
