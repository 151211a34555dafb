/**
 * The session layer of the replicated key-value state machine: exactly-once client requests over the
 * storage component's key-value model (actors/storage kv-model.ts executes the commands; kv-machine.ts
 * joins the two). Pure and deterministic.
 *
 * Exactly-once client requests (Raft thesis 6.3): every client request carries its client's id and a
 * sequence number, and the state machine remembers, per client, the last sequence it applied and the
 * result. A retry of that sequence (the client timed out, the entry was committed twice through two
 * leaders' logs) returns the remembered result without applying again; an older sequence is refused
 * STALE_REQUEST. Each client keeps at most one request outstanding. Sessions are bounded: past
 * `sessionsMax` the least recently active one is forgotten, by log position, the same on every replica.
 *
 * A request without a client id is the replicas' own (a leader revoking an expired lease): it applies
 * every time it commits, which is safe because such commands are idempotent (a second revoke of the
 * same lease is refused LEASE_NOT_FOUND and changes nothing).
 */
import type { KvCommand, KvResult } from '../../storage/index.js';

/** A request as it travels through the log. */
export interface KvRequest {
  /** The client's id and its request's sequence number; absent for the replicas' own requests. */
  readonly clientId?: string;
  readonly sequence?: number;
  readonly command: KvCommand;
}

/** A retry of a request older than the client's last one. */
export interface KvStaleRequest {
  readonly ok: false;
  readonly code: 'STALE_REQUEST';
  readonly lastSequence: number;
}

/** What a request applied to: the model's result, or the session layer's refusal. */
export type KvAppliedResult = KvResult | KvStaleRequest;

/** What applying one entry produced; `duplicate` marks a retry answered from the session table. */
export interface KvApplied {
  readonly result: KvAppliedResult;
  readonly duplicate: boolean;
}

/** A client's session: its last applied sequence, that request's result, and when it last applied. */
export interface KvSession {
  readonly clientId: string;
  readonly sequence: number;
  readonly result: KvAppliedResult;
  readonly lastIndex: number;
}

/** What to do with a request, given its client's session. */
export type SessionDecision = { readonly kind: 'execute' } | { readonly kind: 'answer'; readonly applied: KvApplied };

/** Decides a request against its client's session (undefined: none, or a request without a client). */
export function decideSession(session: KvSession | undefined, request: KvRequest): SessionDecision {
  if (request.clientId === undefined || request.sequence === undefined || session === undefined) return { kind: 'execute' };
  if (request.sequence === session.sequence) return { kind: 'answer', applied: { result: session.result, duplicate: true } };
  if (request.sequence < session.sequence) return { kind: 'answer', applied: { result: { ok: false, code: 'STALE_REQUEST', lastSequence: session.sequence }, duplicate: false } };
  return { kind: 'execute' };
}

/**
 * The order of sessions by last activity, to evict the least recently active one. Every replica holds
 * the same sessions and applies the same entries, so every replica evicts the same client at the same
 * index.
 */
export class SessionActivity {
  /** Client id -> last active index, in order of last activity. */
  readonly #order = new Map<string, number>();

  get size(): number { return this.#order.size; }

  /** Loads sessions (any order). */
  load(sessions: ReadonlyArray<{ readonly clientId: string; readonly lastIndex: number }>): void {
    this.#order.clear();
    for (const session of [...sessions].sort((left, right) => left.lastIndex - right.lastIndex)) this.#order.set(session.clientId, session.lastIndex);
  }

  /** Records that `clientId` applied at `index`; returns the client to forget, if the bound is passed. */
  touch(clientId: string, index: number, sessionsMax: number): string | undefined {
    this.#order.delete(clientId);
    this.#order.set(clientId, index);
    if (this.#order.size <= sessionsMax) return undefined;
    const oldest = this.#order.keys().next().value!;
    this.#order.delete(oldest);
    return oldest;
  }
}

/** Why a request's session fields are malformed, or null. Requests come from the network: every field is checked. */
export function invalidSessionReason(request: { readonly clientId?: unknown; readonly sequence?: unknown }): string | null {
  if (request.clientId === undefined && request.sequence === undefined) return null;
  if (typeof request.clientId !== 'string' || request.clientId === '' || request.clientId.length > 256) return 'clientId must be a string of 1-256 characters';
  if (typeof request.sequence !== 'number' || !Number.isSafeInteger(request.sequence) || request.sequence < 1) return 'sequence must be a positive integer';
  return null;
}
