/**
 * A linearizability checker for client histories, after Wing and Gong's algorithm with Lowe's
 * memoisation ("Testing for linearizability", 2017), the approach of Porcupine and Knossos:
 *
 * - The history becomes a list of call and return events in real-time order. The search walks it,
 *   trying to linearize each pending call (apply it to the sequential model and lift it out of the
 *   list) until it meets a return whose call is not yet linearized, where it must backtrack.
 * - A configuration (set of linearized operations, model state) that has been explored once is never
 *   explored again: the cache makes the search tractable on real histories.
 * - P-compositionality (Horn and Kroening): a history is linearizable exactly when each of its
 *   partitions over independent parts of the state (here: keys) is, so each is checked alone.
 *
 * Operations whose outcome is unknown (a client timed out) have no output and return at +infinity:
 * the search may place them at any point after their call, including after everything else, which is
 * the same as their never having happened.
 */
import type { KvTextCommand, KvTextPair as KvPair, KvTextResult } from '../../actors/raft/index.js';

/** One client operation. */
export interface HistoryOperation<Input, Output> {
  readonly clientId: string;
  readonly input: Input;
  /** When the client invoked it. */
  call: number;
  /** The result, or undefined when the outcome is unknown. */
  output: Output | undefined;
  /** When the result arrived; Infinity when the outcome is unknown. */
  return: number;
}

/** A sequential specification. */
export interface Model<State, Input, Output> {
  init(): State;
  /** The state after `input` produced `output` (any output when undefined), or null if it could not have. */
  step(state: State, input: Input, output: Output | undefined): State | null;
  /** A string equal for equal states, for memoisation. */
  key(state: State): string;
  /** Splits a history into independently checkable parts; the whole history when absent. */
  partition?(history: ReadonlyArray<HistoryOperation<Input, Output>>): Array<Array<HistoryOperation<Input, Output>>>;
}

/** The verdict. `unknown` means the search budget ran out before an answer. */
export type LinearizabilityResult<Input, Output> =
  | { readonly ok: true; readonly partitions: number }
  | { readonly ok: false; readonly partitions: number; readonly failed: ReadonlyArray<HistoryOperation<Input, Output>>; readonly longestPrefix: ReadonlyArray<HistoryOperation<Input, Output>> }
  | { readonly ok: 'unknown'; readonly partitions: number };

/** Search limits. */
export interface CheckOptions {
  /** Search steps per partition before giving up with `unknown`. */
  readonly stepsMax?: number;
}

interface ListNode {
  readonly operation: number;
  readonly isCall: boolean;
  prev: ListNode | null;
  next: ListNode | null;
  /** For a call: its return event. */
  match: ListNode | null;
}

/** Checks a history against a model. */
export function checkLinearizability<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: ReadonlyArray<HistoryOperation<Input, Output>>,
  options: CheckOptions = {},
): LinearizabilityResult<Input, Output> {
  const partitions = model.partition?.(history) ?? [[...history]];
  let unknown = false;
  for (const partition of partitions) {
    const verdict = checkPartition(model, partition, options.stepsMax ?? 5_000_000);
    if (verdict === 'unknown') unknown = true;
    else if (verdict !== true) return { ok: false, partitions: partitions.length, failed: partition, longestPrefix: verdict.longestPrefix };
  }
  return unknown ? { ok: 'unknown', partitions: partitions.length } : { ok: true, partitions: partitions.length };
}

function buildEventList<Input, Output>(operations: ReadonlyArray<HistoryOperation<Input, Output>>): ListNode {
  const events: Array<{ time: number; node: ListNode }> = [];
  operations.forEach((operation, index) => {
    const call: ListNode = { operation: index, isCall: true, prev: null, next: null, match: null };
    const returned: ListNode = { operation: index, isCall: false, prev: null, next: null, match: null };
    call.match = returned;
    events.push({ time: operation.call, node: call }, { time: operation.return, node: returned });
  });
  // At equal times calls come first: operations that touch in time count as concurrent, never ordered.
  events.sort((left, right) => left.time - right.time || Number(right.node.isCall) - Number(left.node.isCall) || left.node.operation - right.node.operation);
  const head: ListNode = { operation: -1, isCall: false, prev: null, next: null, match: null };
  let tail = head;
  for (const { node } of events) {
    tail.next = node;
    node.prev = tail;
    tail = node;
  }
  return head;
}

function lift(call: ListNode): void {
  call.prev!.next = call.next;
  if (call.next !== null) call.next.prev = call.prev;
  const returned = call.match!;
  returned.prev!.next = returned.next;
  if (returned.next !== null) returned.next.prev = returned.prev;
}

function unlift(call: ListNode): void {
  const returned = call.match!;
  returned.prev!.next = returned;
  if (returned.next !== null) returned.next.prev = returned;
  call.prev!.next = call;
  if (call.next !== null) call.next.prev = call;
}

function checkPartition<State, Input, Output>(
  model: Model<State, Input, Output>,
  operations: ReadonlyArray<HistoryOperation<Input, Output>>,
  stepsMax: number,
): true | 'unknown' | { longestPrefix: Array<HistoryOperation<Input, Output>> } {
  for (const operation of operations) {
    if (!(operation.return >= operation.call)) throw new RangeError(`operation returns before its call: ${JSON.stringify(operation.input)}`);
  }
  const head = buildEventList(operations);
  const linearized = new Uint32Array(Math.ceil(operations.length / 32));
  const cache = new Set<string>();
  const stack: Array<{ call: ListNode; state: State }> = [];
  let longest: number[] = [];
  let state = model.init();
  let entry = head.next;
  for (let steps = 0; head.next !== null; steps += 1) {
    if (steps >= stepsMax) return 'unknown';
    if (entry!.isCall) {
      const operation = operations[entry!.operation]!;
      const next = model.step(state, operation.input, operation.output);
      if (next !== null) {
        const word = entry!.operation >>> 5;
        const bit = 1 << (entry!.operation & 31);
        linearized[word]! |= bit;
        const key = `${linearized.join(',')}|${model.key(next)}`;
        if (!cache.has(key)) {
          cache.add(key);
          stack.push({ call: entry!, state });
          state = next;
          lift(entry!);
          entry = head.next;
          continue;
        }
        linearized[word]! &= ~bit;
      }
      entry = entry!.next;
      continue;
    }
    // A return whose call is not linearized: every order tried from here fails; undo the last choice.
    if (stack.length > longest.length) longest = stack.map((frame) => frame.call.operation);
    const frame = stack.pop();
    if (frame === undefined) return { longestPrefix: longest.map((index) => operations[index]!) };
    state = frame.state;
    linearized[frame.call.operation >>> 5]! &= ~(1 << (frame.call.operation & 31));
    unlift(frame.call);
    entry = frame.call.next;
  }
  return true;
}

/**
 * A two-key transaction, sent as one model txn (`compare value(first) = expected` (null: absent),
 * success `put first, put second`, failure `range first, range second`): both keys change at one
 * revision or neither does. What the checker's KV model understands beside the text operations.
 */
export interface KvPairCommand {
  readonly type: 'pair';
  readonly first: string;
  readonly second: string;
  readonly expected: string | null;
  readonly values: readonly [string, string];
}

/** The outcome of a pair transaction: whether it swapped, and both keys' values after it. */
export interface KvPairResult {
  readonly ok: true;
  readonly type: 'pair';
  readonly swapped: boolean;
  readonly current: readonly [string | null, string | null];
}

/** What the KV model checks: the text operations and the two-key transaction. */
export type KvCommand = KvTextCommand | KvPairCommand;
/** Their outcomes. */
export type KvResult = KvTextResult | KvPairResult;

/** The KV model's state: the values of the keys a partition covers. */
export type KvModelState = ReadonlyMap<string, string>;

/** Keys named by single-key operations, in one sorted list, so scans can be tied to the keys they cover. */
function singleKeys(history: ReadonlyArray<HistoryOperation<KvCommand, KvResult>>): string[] {
  const keys = new Set<string>();
  for (const { input } of history) {
    if (input.type === 'pair') {
      keys.add(input.first);
      keys.add(input.second);
    } else if (input.type !== 'scan') keys.add(input.key);
  }
  return [...keys].sort(utf8Order);
}

/** Keys are ordered by their UTF-8 bytes, as the store orders them. */
function utf8Order(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));
}

function inScan(key: string, command: Extract<KvCommand, { type: 'scan' }>): boolean {
  return utf8Order(key, command.start) >= 0 && (command.end === null || command.end === '' || utf8Order(key, command.end) < 0);
}

function keysOf(command: KvCommand, allKeys: readonly string[]): string[] {
  if (command.type === 'pair') return [command.first, command.second];
  if (command.type !== 'scan') return [command.key];
  return allKeys.filter((key) => inScan(key, command));
}

function scanOf(state: KvModelState, command: Extract<KvCommand, { type: 'scan' }>): KvPair[] {
  return [...state]
    .filter(([key]) => inScan(key, command))
    .sort(([left], [right]) => utf8Order(left, right))
    .slice(0, command.limit)
    .map(([key, value]) => ({ key, value }));
}

function withValue(state: KvModelState, key: string, value: string | null): KvModelState {
  const next = new Map(state);
  if (value === null) next.delete(key);
  else next.set(key, value);
  return next;
}

/** The sequential specification of the replicated KV: put, get, delete, cas, scan and the two-key transaction. */
export const kvModel: Model<KvModelState, KvCommand, KvResult> = {
  init: () => new Map(),
  step(state, command, output) {
    // A refused request (malformed, stale) changed nothing and is consistent with any state.
    if (output !== undefined && !output.ok) return state;
    const current = command.type === 'scan' || command.type === 'pair' ? null : state.get(command.key) ?? null;
    switch (command.type) {
      case 'put':
        return output === undefined || output.type === 'put' ? withValue(state, command.key, command.value) : null;
      case 'get':
        return output === undefined || (output.type === 'get' && output.value === current) ? state : null;
      case 'delete':
        if (output !== undefined && (output.type !== 'delete' || output.existed !== (current !== null))) return null;
        return current === null ? state : withValue(state, command.key, null);
      case 'cas': {
        const swapped = current === command.expected;
        if (output !== undefined) {
          if (output.type !== 'cas' || output.swapped !== swapped) return null;
          if (output.current !== (swapped ? command.value : current)) return null;
        }
        return swapped ? withValue(state, command.key, command.value) : state;
      }
      case 'pair': {
        const before = [state.get(command.first) ?? null, state.get(command.second) ?? null] as const;
        const swapped = before[0] === command.expected;
        if (output !== undefined) {
          if (output.type !== 'pair' || output.swapped !== swapped) return null;
          const after = swapped ? command.values : before;
          if (output.current[0] !== after[0] || output.current[1] !== after[1]) return null;
        }
        return swapped ? withValue(withValue(state, command.first, command.values[0]), command.second, command.values[1]) : state;
      }
      case 'scan': {
        if (output === undefined) return state;
        if (output.type !== 'scan') return null;
        const expected = scanOf(state, command);
        const same = expected.length === output.pairs.length && expected.every((pair, index) => pair.key === output.pairs[index]!.key && pair.value === output.pairs[index]!.value);
        return same ? state : null;
      }
    }
  },
  key: (state) => JSON.stringify([...state].sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0))),
  partition(history) {
    const allKeys = singleKeys(history);
    const parent = new Map<string, string>(allKeys.map((key) => [key, key]));
    const find = (key: string): string => {
      let root = key;
      while (parent.get(root) !== root) root = parent.get(root)!;
      parent.set(key, root);
      return root;
    };
    const keyed = history.map((operation) => ({ operation, keys: keysOf(operation.input, allKeys) }));
    for (const { keys } of keyed) for (const key of keys.slice(1)) parent.set(find(key), find(keys[0]!));
    const groups = new Map<string, Array<HistoryOperation<KvCommand, KvResult>>>();
    const alone: Array<Array<HistoryOperation<KvCommand, KvResult>>> = [];
    for (const { operation, keys } of keyed) {
      if (keys.length === 0) {
        alone.push([operation]);
        continue;
      }
      const root = find(keys[0]!);
      const group = groups.get(root) ?? [];
      group.push(operation);
      groups.set(root, group);
    }
    return [...groups.values(), ...alone];
  },
};

/** Describes a failed check for a test failure message. */
export function describeFailure<Input, Output>(result: LinearizabilityResult<Input, Output>): string {
  if (result.ok !== false) return `linearizability: ${String(result.ok)}`;
  const show = (operation: HistoryOperation<Input, Output>): string =>
    `  ${operation.clientId} [${operation.call}, ${operation.return}] ${JSON.stringify(operation.input)} -> ${operation.output === undefined ? '?' : JSON.stringify(operation.output)}`;
  return [
    `not linearizable: partition of ${result.failed.length} operations`,
    ...result.failed.map(show),
    'longest linearizable prefix:',
    ...result.longestPrefix.map(show),
  ].join('\n');
}
