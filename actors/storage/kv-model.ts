/**
 * The key-value model: byte keys in byte order, a cluster revision, per-key create/mod revision and
 * version, transactions, ranges, an event log for watches, and leases, after etcd's v3 data model
 * (etcd.io/docs/v3.4/learning/data_model and api). Pure and deterministic: no I/O, no clock, no
 * randomness. Replicas that execute the same commands against the same state make the same writes and
 * return the same results.
 *
 * - The revision starts at 1 (an empty key space) and moves by one for each command that changes at
 *   least one key; every change made by one transaction carries that one revision.
 * - A key's `createRevision` is the revision that created it (since it was last deleted), `modRevision`
 *   the one that last changed it, `version` the number of puts since its creation.
 * - A transaction evaluates its compares against the state before it, then runs `success` or `failure`
 *   in order; a later op sees the writes of earlier ops of the same transaction. A key may be written
 *   at most once per transaction (etcd refuses the same).
 * - A range covers `key` alone, `[key, rangeEnd)`, or every key from `key` on when `rangeEnd` is the
 *   single byte 0x00 (etcd's convention). `prefixRangeEnd` turns a prefix into its range end.
 * - Events (one per key changed, in op order) are kept per revision for watches, at most
 *   `eventsKeptMax` revisions; older ones are compacted, and `compact(revision)` drops more.
 * - A lease has a TTL; keys put with it are deleted when it is revoked. Expiry is decided outside the
 *   model (by a leader's clock) and arrives as a `leaseRevoke` command, so every replica deletes the
 *   same keys at the same revision.
 *
 * Execution reads through a `KvView` and returns `KvMutation`s; the caller lays them out in its engine.
 */

/** A key with its value and MVCC metadata, as ranges and events return it. */
export interface KvKeyValue {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  /** The lease the key is attached to (0: none). */
  readonly lease: number;
}

/** What a compare looks at. */
export type KvCompareTarget = 'value' | 'version' | 'createRevision' | 'modRevision';
/** How a compare relates the key's field to the operand. */
export type KvCompareOperator = '=' | '!=' | '<' | '>';

/** One condition of a transaction. A missing key has version and revisions 0; a value compare on it fails. */
export type KvCompare =
  | { readonly key: Uint8Array; readonly target: 'value'; readonly operator: KvCompareOperator; readonly value: Uint8Array }
  | { readonly key: Uint8Array; readonly target: 'version' | 'createRevision' | 'modRevision'; readonly operator: KvCompareOperator; readonly value: number };

/** A range read. */
export interface KvRangeOp {
  readonly type: 'range';
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  /** Most keys returned (0 or absent: up to `rangeLimitMax`); `more` says whether the range held more. */
  readonly limit?: number;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
}

/** A transaction's operation. */
export type KvOp =
  | { readonly type: 'put'; readonly key: Uint8Array; readonly value: Uint8Array; readonly lease?: number; readonly prevKv?: boolean }
  | { readonly type: 'deleteRange'; readonly key: Uint8Array; readonly rangeEnd?: Uint8Array; readonly prevKv?: boolean }
  | KvRangeOp;

/** A transaction: if every compare holds, `success` runs, otherwise `failure`. */
export interface KvTxn {
  readonly compare: readonly KvCompare[];
  readonly success: readonly KvOp[];
  readonly failure: readonly KvOp[];
}

/** A command of the model: what a log entry or WAL record carries. */
export type KvCommand =
  | { readonly type: 'txn'; readonly txn: KvTxn }
  | { readonly type: 'leaseGrant'; readonly ttlMs: number }
  | { readonly type: 'leaseRevoke'; readonly lease: number }
  | { readonly type: 'compact'; readonly revision: number };

/** The answer of one op. */
export type KvOpResponse =
  | { readonly type: 'put'; readonly prevKv?: KvKeyValue }
  | { readonly type: 'deleteRange'; readonly deleted: number; readonly prevKvs?: readonly KvKeyValue[] }
  | { readonly type: 'range'; readonly kvs: readonly KvKeyValue[]; readonly more: boolean; readonly count: number };

/** Codes of commands refused when executed (decided by the state, so identical on every replica). */
export type KvFailureCode = 'INVALID_REQUEST' | 'LEASE_NOT_FOUND' | 'COMPACTED' | 'FUTURE_REVISION' | 'RANGE_TOO_LARGE' | 'LEASE_FULL' | 'TOO_MANY_LEASES';

/** A refused command: nothing changed. */
export interface KvFailure {
  readonly ok: false;
  readonly code: KvFailureCode;
  readonly message: string;
}

/** The outcome of a command. `revision` is the store's revision after it. */
export type KvResult =
  | { readonly ok: true; readonly type: 'txn'; readonly revision: number; readonly succeeded: boolean; readonly responses: readonly KvOpResponse[] }
  | { readonly ok: true; readonly type: 'leaseGrant'; readonly revision: number; readonly lease: number; readonly ttlMs: number }
  | { readonly ok: true; readonly type: 'leaseRevoke'; readonly revision: number; readonly deleted: number }
  | { readonly ok: true; readonly type: 'compact'; readonly revision: number; readonly compactRevision: number }
  | KvFailure;

/** A change to a key, as watches see it. A delete's `kv` holds the key and the deleting revision only. */
export interface KvEvent {
  readonly type: 'put' | 'delete';
  readonly kv: KvKeyValue;
}

/** A lease as the model keeps it. */
export interface KvLease {
  readonly id: number;
  readonly ttlMs: number;
  /** Keys attached now. */
  readonly keys: number;
}

/** The model's scalar state. */
export interface KvModelState {
  /** The current revision (1: nothing written yet). */
  readonly revision: number;
  /** Events at or below this revision are gone (0: none compacted). */
  readonly compactRevision: number;
  /** The id the next granted lease gets. */
  readonly nextLease: number;
  /** Live leases. */
  readonly leases: number;
}

/** The state a fresh key space starts from. */
export const initialModelState: KvModelState = { revision: 1, compactRevision: 0, nextLease: 1, leases: 0 };

/** Bounds of the model; each names its unit last and says what happens at it. */
export interface KvLimits {
  /** Longest key; longer is refused INVALID_REQUEST. */
  readonly keyBytesMax: number;
  /** Largest value; larger is refused INVALID_REQUEST. */
  readonly valueBytesMax: number;
  /** Most compares plus ops in one transaction; more is refused INVALID_REQUEST. */
  readonly txnOpsMax: number;
  /** Most keys one range returns; a larger or absent limit is clamped to it (`more` reports the rest). */
  readonly rangeLimitMax: number;
  /** Most keys a range, count or delete-range may cover; beyond it the command is refused RANGE_TOO_LARGE. */
  readonly rangeScanKeysMax: number;
  /** Revisions whose events are kept for watches; older ones are compacted as new ones are written. */
  readonly eventsKeptMax: number;
  /** Live leases; a grant beyond it is refused TOO_MANY_LEASES. */
  readonly leasesMax: number;
  /** Keys attached to one lease; a put beyond it is refused LEASE_FULL. */
  readonly leaseKeysMax: number;
  /** Shortest and longest lease TTL; outside is refused INVALID_REQUEST. */
  readonly leaseTtlMsMin: number;
  readonly leaseTtlMsMax: number;
  /** Client sessions remembered (exactly-once requests); past it the least recently active is forgotten. */
  readonly sessionsMax: number;
}

/** Default bounds. */
export const kvLimits: KvLimits = {
  keyBytesMax: 4 * 1024,
  valueBytesMax: 1024 * 1024,
  txnOpsMax: 128,
  rangeLimitMax: 10_000,
  rangeScanKeysMax: 100_000,
  eventsKeptMax: 100_000,
  leasesMax: 100_000,
  leaseKeysMax: 10_000,
  leaseTtlMsMin: 100,
  leaseTtlMsMax: 7 * 24 * 3600 * 1000,
  sessionsMax: 100_000,
};

/** Reads of the state a command executes against. */
export interface KvView {
  get(key: Uint8Array): KvKeyValue | undefined;
  /** Keys in [key, rangeEnd) (see `rangeOf`) in byte order, at most `limit`. */
  range(key: Uint8Array, rangeEnd: Uint8Array | undefined, limit: number): KvKeyValue[];
  lease(id: number): KvLease | undefined;
  /** Keys attached to a lease, at most `limit`. */
  leaseKeys(id: number, limit: number): Uint8Array[];
}

/** A change for the caller to write. Events go to the event log under `revision`. */
export type KvMutation =
  | { readonly type: 'putKey'; readonly kv: KvKeyValue; readonly previousLease: number }
  | { readonly type: 'deleteKey'; readonly key: Uint8Array; readonly previousLease: number }
  | { readonly type: 'putLease'; readonly lease: KvLease }
  | { readonly type: 'deleteLease'; readonly id: number }
  | { readonly type: 'putEvents'; readonly revision: number; readonly events: readonly KvEvent[] }
  | { readonly type: 'deleteEvents'; readonly revision: number };

/** What executing a command produced. */
export interface KvExecution {
  readonly result: KvResult;
  readonly mutations: readonly KvMutation[];
  readonly state: KvModelState;
}

/** Byte order, the one key order everywhere. */
export function compareBytes(left: Uint8Array, right: Uint8Array): number {
  const length = Math.min(left.length, right.length);
  for (let position = 0; position < length; position += 1) {
    if (left[position] !== right[position]) return left[position]! - right[position]!;
  }
  return left.length - right.length;
}

/** Byte equality. */
export function bytesEqual(left: Uint8Array, right: Uint8Array): boolean {
  return left.length === right.length && compareBytes(left, right) === 0;
}

/** The range end covering every key that starts with `prefix` (0x00 for an all-0xFF or empty prefix: to the end). */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  let length = prefix.length;
  while (length > 0 && prefix[length - 1] === 0xff) length -= 1;
  if (length === 0) return Uint8Array.of(0);
  const end = prefix.slice(0, length);
  end[length - 1] = end[length - 1]! + 1;
  return end;
}

/** Whether `key` lies in the range of (`start`, `rangeEnd`), with etcd's conventions. */
export function inRange(key: Uint8Array, start: Uint8Array, rangeEnd: Uint8Array | undefined): boolean {
  if (rangeEnd === undefined || rangeEnd.length === 0) return bytesEqual(key, start);
  if (compareBytes(key, start) < 0) return false;
  return isToEnd(rangeEnd) || compareBytes(key, rangeEnd) < 0;
}

/** A range end of the single byte 0x00 means "every key from the start on". */
export function isToEnd(rangeEnd: Uint8Array): boolean {
  return rangeEnd.length === 1 && rangeEnd[0] === 0;
}

/**
 * Executes a validated command (see kv-validate.ts) at `state`. Never throws for a valid command;
 * a refused one returns a failure and no mutations.
 */
export function executeKvCommand(view: KvView, state: KvModelState, command: KvCommand, limits: KvLimits): KvExecution {
  switch (command.type) {
    case 'txn': return executeTxn(view, state, command.txn, limits);
    case 'leaseGrant': return grantLease(state, command.ttlMs, limits);
    case 'leaseRevoke': return revokeLease(view, state, command.lease, limits);
    case 'compact': return compact(state, command.revision);
  }
}

/** A transaction's writes so far, over the view: what later ops of the same transaction read. */
class TxnOverlay {
  readonly #written = new Map<string, KvKeyValue | null>();
  constructor(readonly view: KvView) {}

  get(key: Uint8Array): KvKeyValue | undefined {
    const written = this.#written.get(hex(key));
    return written === undefined ? this.view.get(key) : written ?? undefined;
  }

  range(key: Uint8Array, rangeEnd: Uint8Array | undefined, limit: number): KvKeyValue[] {
    if (this.#written.size === 0) return this.view.range(key, rangeEnd, limit);
    const merged = new Map<string, KvKeyValue>();
    for (const kv of this.view.range(key, rangeEnd, limit + this.#written.size)) merged.set(hex(kv.key), kv);
    for (const [name, kv] of this.#written) {
      if (kv === null) merged.delete(name);
      else if (inRange(kv.key, key, rangeEnd)) merged.set(name, kv);
    }
    return [...merged.values()].sort((left, right) => compareBytes(left.key, right.key)).slice(0, limit);
  }

  wrote(key: Uint8Array): boolean {
    return this.#written.has(hex(key));
  }

  set(key: Uint8Array, kv: KvKeyValue | null): void {
    this.#written.set(hex(key), kv);
  }
}

function executeTxn(view: KvView, state: KvModelState, txn: KvTxn, limits: KvLimits): KvExecution {
  const succeeded = txn.compare.every((condition) => compareHolds(view.get(condition.key), condition));
  const ops = succeeded ? txn.success : txn.failure;
  const revision = state.revision + 1;
  const overlay = new TxnOverlay(view);
  const leases = new Map<number, KvLease>();
  const mutations: KvMutation[] = [];
  const events: KvEvent[] = [];
  const responses: KvOpResponse[] = [];
  for (const op of ops) {
    const outcome = executeOp(op, { overlay, leases, mutations, events, revision, limits });
    if ('code' in outcome) return refused(state, outcome.code, outcome.message);
    responses.push(outcome);
  }
  for (const lease of leases.values()) mutations.push({ type: 'putLease', lease });
  if (events.length === 0) return { result: { ok: true, type: 'txn', revision: state.revision, succeeded, responses }, mutations: [], state };
  const next = { ...state, revision };
  mutations.push({ type: 'putEvents', revision, events });
  mutations.push(...retireEvents(next, limits));
  return { result: { ok: true, type: 'txn', revision, succeeded, responses }, mutations, state: withCompaction(next, limits) };
}

interface TxnContext {
  readonly overlay: TxnOverlay;
  readonly leases: Map<number, KvLease>;
  readonly mutations: KvMutation[];
  readonly events: KvEvent[];
  readonly revision: number;
  readonly limits: KvLimits;
}

function executeOp(op: KvOp, context: TxnContext): KvOpResponse | { code: KvFailureCode; message: string } {
  switch (op.type) {
    case 'range': return executeRange(context.overlay, op, context.limits);
    case 'put': return executePut(op, context);
    case 'deleteRange': return executeDelete(op, context);
  }
}

function executeRange(overlay: TxnOverlay, op: KvRangeOp, limits: KvLimits): KvOpResponse | { code: KvFailureCode; message: string } {
  const covered = overlay.range(op.key, op.rangeEnd, limits.rangeScanKeysMax + 1);
  if (covered.length > limits.rangeScanKeysMax) return { code: 'RANGE_TOO_LARGE', message: `the range covers more than ${limits.rangeScanKeysMax} keys` };
  if (op.countOnly === true) return { type: 'range', kvs: [], more: false, count: covered.length };
  const limit = op.limit === undefined || op.limit === 0 ? limits.rangeLimitMax : Math.min(op.limit, limits.rangeLimitMax);
  const kvs = covered.slice(0, limit).map((kv) => (op.keysOnly === true ? { ...kv, value: new Uint8Array(0) } : kv));
  return { type: 'range', kvs, more: covered.length > limit, count: covered.length };
}

function executePut(op: Extract<KvOp, { type: 'put' }>, context: TxnContext): KvOpResponse | { code: KvFailureCode; message: string } {
  const { overlay, leases, revision } = context;
  if (overlay.wrote(op.key)) return { code: 'INVALID_REQUEST', message: 'a transaction may write a key only once' };
  const previous = overlay.get(op.key);
  const leaseId = op.lease ?? 0;
  const previousLease = previous?.lease ?? 0;
  if (leaseId !== 0) {
    const lease = leases.get(leaseId) ?? overlay.view.lease(leaseId);
    if (lease === undefined) return { code: 'LEASE_NOT_FOUND', message: `lease ${leaseId} does not exist` };
    if (previousLease !== leaseId) {
      if (lease.keys >= context.limits.leaseKeysMax) return { code: 'LEASE_FULL', message: `lease ${leaseId} holds ${lease.keys} keys, the most it may` };
      leases.set(leaseId, { ...lease, keys: lease.keys + 1 });
    }
  }
  if (previousLease !== 0 && previousLease !== leaseId) detach(previousLease, context);
  const kv: KvKeyValue = {
    key: op.key, value: op.value, lease: leaseId, modRevision: revision,
    createRevision: previous?.createRevision ?? revision, version: (previous?.version ?? 0) + 1,
  };
  overlay.set(op.key, kv);
  context.mutations.push({ type: 'putKey', kv, previousLease });
  context.events.push({ type: 'put', kv });
  return op.prevKv === true && previous !== undefined ? { type: 'put', prevKv: previous } : { type: 'put' };
}

function executeDelete(op: Extract<KvOp, { type: 'deleteRange' }>, context: TxnContext): KvOpResponse | { code: KvFailureCode; message: string } {
  const covered = context.overlay.range(op.key, op.rangeEnd, context.limits.rangeScanKeysMax + 1);
  if (covered.length > context.limits.rangeScanKeysMax) return { code: 'RANGE_TOO_LARGE', message: `the range covers more than ${context.limits.rangeScanKeysMax} keys` };
  for (const kv of covered) {
    if (context.overlay.wrote(kv.key)) return { code: 'INVALID_REQUEST', message: 'a transaction may write a key only once' };
    if (kv.lease !== 0) detach(kv.lease, context);
    context.overlay.set(kv.key, null);
    context.mutations.push({ type: 'deleteKey', key: kv.key, previousLease: kv.lease });
    context.events.push({ type: 'delete', kv: deletedKv(kv.key, context.revision) });
  }
  return op.prevKv === true ? { type: 'deleteRange', deleted: covered.length, prevKvs: covered } : { type: 'deleteRange', deleted: covered.length };
}

function detach(leaseId: number, context: TxnContext): void {
  const lease = context.leases.get(leaseId) ?? context.overlay.view.lease(leaseId);
  if (lease !== undefined) context.leases.set(leaseId, { ...lease, keys: Math.max(0, lease.keys - 1) });
}

function deletedKv(key: Uint8Array, revision: number): KvKeyValue {
  return { key, value: new Uint8Array(0), createRevision: 0, modRevision: revision, version: 0, lease: 0 };
}

/** Whether a compare holds for the key's current state (etcd's applyCompare). */
export function compareHolds(current: KvKeyValue | undefined, condition: KvCompare): boolean {
  let order: number;
  if (condition.target === 'value') {
    if (current === undefined) return false;
    order = compareBytes(current.value, condition.value);
  } else {
    const field = current === undefined ? 0 : current[condition.target];
    order = field === condition.value ? 0 : field < condition.value ? -1 : 1;
  }
  switch (condition.operator) {
    case '=': return order === 0;
    case '!=': return order !== 0;
    case '<': return order < 0;
    case '>': return order > 0;
  }
}

function grantLease(state: KvModelState, ttlMs: number, limits: KvLimits): KvExecution {
  if (state.leases >= limits.leasesMax) return refused(state, 'TOO_MANY_LEASES', `${state.leases} leases are live, the most allowed`);
  const lease: KvLease = { id: state.nextLease, ttlMs, keys: 0 };
  return {
    result: { ok: true, type: 'leaseGrant', revision: state.revision, lease: lease.id, ttlMs },
    mutations: [{ type: 'putLease', lease }],
    state: { ...state, nextLease: state.nextLease + 1, leases: state.leases + 1 },
  };
}

function revokeLease(view: KvView, state: KvModelState, id: number, limits: KvLimits): KvExecution {
  const lease = view.lease(id);
  if (lease === undefined) return refused(state, 'LEASE_NOT_FOUND', `lease ${id} does not exist`);
  const keys = view.leaseKeys(id, limits.leaseKeysMax).sort(compareBytes);
  const mutations: KvMutation[] = [{ type: 'deleteLease', id }];
  const remaining = { ...state, leases: state.leases - 1 };
  if (keys.length === 0) return { result: { ok: true, type: 'leaseRevoke', revision: state.revision, deleted: 0 }, mutations, state: remaining };
  const revision = state.revision + 1;
  const events: KvEvent[] = [];
  for (const key of keys) {
    mutations.push({ type: 'deleteKey', key, previousLease: id });
    events.push({ type: 'delete', kv: deletedKv(key, revision) });
  }
  const next = { ...remaining, revision };
  mutations.push({ type: 'putEvents', revision, events }, ...retireEvents(next, limits));
  return { result: { ok: true, type: 'leaseRevoke', revision, deleted: keys.length }, mutations, state: withCompaction(next, limits) };
}

function compact(state: KvModelState, revision: number): KvExecution {
  if (revision > state.revision) return refused(state, 'FUTURE_REVISION', `revision ${revision} is beyond the current revision ${state.revision}`);
  if (revision <= state.compactRevision) return refused(state, 'COMPACTED', `revision ${revision} is already compacted (up to ${state.compactRevision})`);
  const mutations: KvMutation[] = [];
  // Every revision above 1 has events (a revision moves only when a key changes), so the ones to drop are exactly these.
  for (let dropped = Math.max(2, state.compactRevision + 1); dropped <= revision; dropped += 1) mutations.push({ type: 'deleteEvents', revision: dropped });
  return {
    result: { ok: true, type: 'compact', revision: state.revision, compactRevision: revision },
    mutations,
    state: { ...state, compactRevision: revision },
  };
}

/** The event log keeps `eventsKeptMax` revisions: writing one more drops the oldest. */
function retireEvents(state: KvModelState, limits: KvLimits): KvMutation[] {
  const oldest = state.revision - limits.eventsKeptMax;
  return oldest >= 2 && oldest > state.compactRevision ? [{ type: 'deleteEvents', revision: oldest }] : [];
}

function withCompaction(state: KvModelState, limits: KvLimits): KvModelState {
  const oldest = state.revision - limits.eventsKeptMax;
  return oldest > state.compactRevision ? { ...state, compactRevision: oldest } : state;
}

function refused(state: KvModelState, code: KvFailureCode, message: string): KvExecution {
  return { result: { ok: false, code, message }, mutations: [], state };
}

const hexDigits = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** Hex of bytes, for maps keyed by byte strings. */
export function hex(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += hexDigits[byte]!;
  return text;
}
