/**
 * The replicated key-value state machine: what each replica applies, in log order, from committed
 * entries. Pure and deterministic: replicas that apply the same entries hold the same state.
 *
 * Exactly-once client requests (Raft thesis 6.3): every request carries its client's id and a
 * sequence number, and the state machine remembers, per client, the last sequence it applied and the
 * result. A retry of that sequence (the client timed out, the entry was committed twice through two
 * leaders' logs) returns the remembered result without applying again; an older sequence is refused
 * STALE_REQUEST. Each client keeps at most one request outstanding. Sessions are bounded: past
 * `sessionsMax` the least recently active one is forgotten, by log position, the same on every replica.
 */
import { assert } from '../../../runtime/errors.js';

/** A key-value operation. Keys and values are strings; a scan covers [start, end) in key order. */
export type KvCommand =
  | { readonly type: 'put'; readonly key: string; readonly value: string }
  | { readonly type: 'get'; readonly key: string }
  | { readonly type: 'delete'; readonly key: string }
  | { readonly type: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string }
  | { readonly type: 'scan'; readonly start: string; readonly end: string | null; readonly limit: number };

/** A client's request as it travels through the log. */
export interface KvRequest {
  readonly clientId: string;
  readonly sequence: number;
  readonly command: KvCommand;
}

/** A key and its value, as scans return them. */
export interface KvPair {
  readonly key: string;
  readonly value: string;
}

/** The typed outcome of a command. */
export type KvResult =
  | { readonly ok: true; readonly type: 'put' }
  | { readonly ok: true; readonly type: 'get'; readonly value: string | null }
  | { readonly ok: true; readonly type: 'delete'; readonly existed: boolean }
  | { readonly ok: true; readonly type: 'cas'; readonly swapped: boolean; readonly current: string | null }
  | { readonly ok: true; readonly type: 'scan'; readonly pairs: readonly KvPair[] }
  | { readonly ok: false; readonly code: 'STALE_REQUEST'; readonly lastSequence: number }
  | { readonly ok: false; readonly code: 'INVALID_REQUEST'; readonly reason: string };

/** What applying one entry produced; `duplicate` marks a retry answered from the session table. */
export interface KvApplied {
  readonly result: KvResult;
  readonly duplicate: boolean;
}

/** A client's session: its last applied sequence, that request's result, and when it last applied. */
export interface KvSession {
  readonly clientId: string;
  readonly sequence: number;
  readonly result: KvResult;
  readonly lastIndex: number;
}

/** The state machine as plain data, for snapshots. Pairs and sessions are sorted by key and client id. */
export interface KvSnapshot {
  readonly appliedIndex: number;
  readonly pairs: readonly KvPair[];
  readonly sessions: readonly KvSession[];
}

/** Bounds of the state machine. */
export interface KvLimits {
  readonly keyLengthMax: number;
  readonly valueLengthMax: number;
  readonly scanLimitMax: number;
  /** Client sessions remembered; past it the least recently active session is forgotten. */
  readonly sessionsMax: number;
}

/** Default bounds. */
export const kvDefaultLimits: KvLimits = { keyLengthMax: 1024, valueLengthMax: 1024 * 1024, scanLimitMax: 10_000, sessionsMax: 100_000 };

/** The key-value state of one replica. */
export class KvStateMachine {
  readonly limits: KvLimits;
  readonly #data = new Map<string, string>();
  readonly #sessions = new Map<string, KvSession>();
  #appliedIndex = 0;

  constructor(limits: Partial<KvLimits> = {}) {
    this.limits = { ...kvDefaultLimits, ...limits };
  }

  /** Rebuilds a state machine from a snapshot. */
  static restore(snapshot: KvSnapshot, limits: Partial<KvLimits> = {}): KvStateMachine {
    const machine = new KvStateMachine(limits);
    for (const pair of snapshot.pairs) machine.#data.set(pair.key, pair.value);
    for (const session of snapshot.sessions) machine.#sessions.set(session.clientId, session);
    machine.#appliedIndex = snapshot.appliedIndex;
    return machine;
  }

  get appliedIndex(): number { return this.#appliedIndex; }
  get size(): number { return this.#data.size; }

  /** Marks a log entry that carries no request (a leader's no-op, a membership change) as applied. */
  skip(index: number): void {
    this.#advance(index);
  }

  /** Applies the request committed at `index`, exactly once per (client, sequence). */
  apply(index: number, request: KvRequest): KvApplied {
    this.#advance(index);
    const invalid = invalidRequestReason(request, this.limits);
    if (invalid !== null) return { result: { ok: false, code: 'INVALID_REQUEST', reason: invalid }, duplicate: false };
    const session = this.#sessions.get(request.clientId);
    if (session !== undefined && request.sequence === session.sequence) return { result: session.result, duplicate: true };
    if (session !== undefined && request.sequence < session.sequence) {
      return { result: { ok: false, code: 'STALE_REQUEST', lastSequence: session.sequence }, duplicate: false };
    }
    const result = this.#execute(request.command);
    // Delete then set keeps the map in order of last activity, which makes eviction a look at the front.
    this.#sessions.delete(request.clientId);
    this.#sessions.set(request.clientId, { clientId: request.clientId, sequence: request.sequence, result, lastIndex: index });
    if (this.#sessions.size > this.limits.sessionsMax) this.#sessions.delete(this.#sessions.keys().next().value!);
    return { result, duplicate: false };
  }

  /** Serves a read outside the log (after ReadIndex): a get or a scan, without touching sessions. */
  read(command: Extract<KvCommand, { type: 'get' | 'scan' }>): KvResult {
    const invalid = invalidCommandReason(command, this.limits);
    if (invalid !== null) return { ok: false, code: 'INVALID_REQUEST', reason: invalid };
    return this.#execute(command);
  }

  /** The whole state as plain data. */
  snapshot(): KvSnapshot {
    const pairs = [...this.#data].sort(([left], [right]) => compareKeys(left, right)).map(([key, value]) => ({ key, value }));
    const sessions = [...this.#sessions.values()].sort((left, right) => left.lastIndex - right.lastIndex);
    return { appliedIndex: this.#appliedIndex, pairs, sessions };
  }

  #advance(index: number): void {
    assert(index > this.#appliedIndex, 'entries are applied in log order, once', { index, applied: this.#appliedIndex });
    this.#appliedIndex = index;
  }

  #execute(command: KvCommand): KvResult {
    const data = this.#data;
    switch (command.type) {
      case 'put':
        data.set(command.key, command.value);
        return { ok: true, type: 'put' };
      case 'get':
        return { ok: true, type: 'get', value: data.get(command.key) ?? null };
      case 'delete':
        return { ok: true, type: 'delete', existed: data.delete(command.key) };
      case 'cas': {
        const current = data.get(command.key) ?? null;
        if (current !== command.expected) return { ok: true, type: 'cas', swapped: false, current };
        data.set(command.key, command.value);
        return { ok: true, type: 'cas', swapped: true, current: command.value };
      }
      case 'scan': {
        const keys = [...data.keys()].filter((key) => key >= command.start && (command.end === null || key < command.end));
        keys.sort(compareKeys);
        const pairs = keys.slice(0, command.limit).map((key) => ({ key, value: data.get(key)! }));
        return { ok: true, type: 'scan', pairs };
      }
    }
  }
}

/** Orders keys by UTF-16 code units, the same everywhere (no locale). */
export function compareKeys(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

/** Why a request is malformed, or null. Requests come from the network, so every field is checked. */
export function invalidRequestReason(request: KvRequest, limits: KvLimits = kvDefaultLimits): string | null {
  if (request === null || typeof request !== 'object') return 'request is not an object';
  if (typeof request.clientId !== 'string' || request.clientId === '' || request.clientId.length > 256) return 'clientId must be a string of 1-256 characters';
  if (!Number.isSafeInteger(request.sequence) || request.sequence < 1) return 'sequence must be a positive integer';
  return invalidCommandReason(request.command, limits);
}

/** Why a command is malformed or out of bounds, or null. */
export function invalidCommandReason(command: KvCommand, limits: KvLimits = kvDefaultLimits): string | null {
  if (command === null || typeof command !== 'object') return 'command is not an object';
  const key = (value: unknown, name: string): string | null =>
    typeof value === 'string' && value.length <= limits.keyLengthMax ? null : `${name} must be a string of at most ${limits.keyLengthMax} characters`;
  const text = (value: unknown, name: string): string | null =>
    typeof value === 'string' && value.length <= limits.valueLengthMax ? null : `${name} must be a string of at most ${limits.valueLengthMax} characters`;
  switch (command.type) {
    case 'put': return key(command.key, 'key') ?? text(command.value, 'value');
    case 'get':
    case 'delete': return key(command.key, 'key');
    case 'cas':
      return key(command.key, 'key') ?? (command.expected === null ? null : text(command.expected, 'expected')) ?? text(command.value, 'value');
    case 'scan':
      if (!Number.isSafeInteger(command.limit) || command.limit < 1 || command.limit > limits.scanLimitMax) return `limit must be 1-${limits.scanLimitMax}`;
      return key(command.start, 'start') ?? (command.end === null ? null : key(command.end, 'end'));
    default: return 'unknown command type';
  }
}
