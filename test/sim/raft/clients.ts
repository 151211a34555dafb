/**
 * Simulated KV clients. Each keeps one request outstanding, identified by (client id, sequence);
 * retries after a timeout or a refusal reuse the sequence, so the state machine's deduplication makes
 * every retry safe. A client that gives up records the operation's outcome as unknown: it may or may
 * not take effect, at any time after it was invoked. Every operation lands in the history that the
 * linearizability checker reads.
 */
import type { Rng } from '../../../runtime/rng.js';
import type { KvTextCommand as KvCommand, KvTextResult as KvResult } from '../../../actors/raft/kv-text.js';
import type { NodeId } from '../../../actors/raft/core/types.js';
import type { HistoryOperation } from '../../support/linearizability.js';
import type { ClientReply, ClientRequest } from './replica.js';

/** What a client needs from the simulated world. */
export interface ClientWorld {
  readonly rng: Rng;
  now(): number;
  readonly nodeIds: readonly NodeId[];
  /** Whether clients may start new operations (false once the run winds down). */
  accepting(): boolean;
  sendRequest(target: NodeId, request: ClientRequest): void;
  scheduleTimeout(client: SimClient, sequence: number, attempt: number, delayMs: number): void;
  scheduleThink(client: SimClient, delayMs: number): void;
  /** Schedules the next attempt of the current operation after a refusal. */
  scheduleRetry(client: SimClient, sequence: number, attempt: number, delayMs: number): void;
}

/** Client behaviour knobs. */
export interface ClientOptions {
  readonly keys: readonly string[];
  readonly attemptTimeoutMs: number;
  /** A client gives up on an operation (outcome unknown) once this long has passed since its call. */
  readonly giveUpMs: number;
  /** Pause before retrying after a refusal (NOT_LEADER, BUSY), so that an election can finish. */
  readonly retryBackoffMsMax: number;
  readonly thinkMsMax: number;
  /** Scans cover keys from this list only, so the other keys stay independently checkable. */
  readonly scanKeys: readonly string[];
  /** Share of gets and scans served through ReadIndex rather than through the log. */
  readonly readIndexShare: number;
}

interface Outstanding {
  readonly operation: HistoryOperation<KvCommand, KvResult>;
  readonly sequence: number;
  readonly mode: 'log' | 'read';
  attempt: number;
}

/** One client with a sequential workload. */
export class SimClient {
  readonly id: string;
  readonly #world: ClientWorld;
  readonly #options: ClientOptions;
  readonly #history: Array<HistoryOperation<KvCommand, KvResult>>;
  #sequence = 0;
  #values = 0;
  #leaderHint: NodeId | null = null;
  /** The last value this client saw for each key, so its compare-and-swaps often succeed. */
  readonly #seen = new Map<string, string | null>();
  #outstanding: Outstanding | null = null;
  completed = 0;
  unknown = 0;

  constructor(id: string, world: ClientWorld, options: ClientOptions, history: Array<HistoryOperation<KvCommand, KvResult>>) {
    this.id = id;
    this.#world = world;
    this.#options = options;
    this.#history = history;
  }

  get busy(): boolean { return this.#outstanding !== null; }

  /** Starts the next operation if the world still accepts them. */
  think(): void {
    if (this.#outstanding !== null || !this.#world.accepting()) return;
    const command = this.#randomCommand();
    const readable = command.type === 'get' || command.type === 'scan';
    const mode = readable && this.#world.rng.next() < this.#options.readIndexShare ? 'read' : 'log';
    this.#sequence += 1;
    const operation: HistoryOperation<KvCommand, KvResult> = { clientId: this.id, input: command, call: this.#world.now(), output: undefined, return: Infinity };
    this.#history.push(operation);
    this.#outstanding = { operation, sequence: this.#sequence, mode, attempt: 0 };
    this.#attempt();
  }

  #attempt(): void {
    const outstanding = this.#outstanding!;
    outstanding.attempt += 1;
    const { nodeIds, rng } = this.#world;
    const target = this.#leaderHint ?? nodeIds[rng.int(0, nodeIds.length - 1)]!;
    const command = outstanding.operation.input;
    this.#world.sendRequest(target, { clientId: this.id, sequence: outstanding.sequence, attempt: outstanding.attempt, command, mode: outstanding.mode });
    this.#world.scheduleTimeout(this, outstanding.sequence, outstanding.attempt, this.#options.attemptTimeoutMs);
  }

  /** Any reply to the current sequence completes it: deduplication makes every attempt's answer the same. */
  receive(reply: ClientReply): void {
    const outstanding = this.#outstanding;
    if (outstanding === null || reply.sequence !== outstanding.sequence) return;
    if (reply.ok) {
      this.#remember(outstanding.operation.input, reply.result);
      outstanding.operation.output = reply.result;
      outstanding.operation.return = this.#world.now();
      this.completed += 1;
      this.#finish();
      return;
    }
    // A refusal answers one attempt; an older attempt may still be in some leader's log.
    if (reply.attempt !== outstanding.attempt) return;
    this.#leaderHint = reply.code === 'NOT_LEADER' ? reply.leaderHint : null;
    const delayMs = this.#world.rng.int(1, this.#options.retryBackoffMsMax);
    this.#world.scheduleRetry(this, outstanding.sequence, outstanding.attempt, delayMs);
  }

  /** The backoff after a refusal ended. */
  retry(sequence: number, attempt: number): void {
    const outstanding = this.#outstanding;
    if (outstanding === null || outstanding.sequence !== sequence || outstanding.attempt !== attempt) return;
    this.#retryOrGiveUp();
  }

  timedOut(sequence: number, attempt: number): void {
    const outstanding = this.#outstanding;
    if (outstanding === null || outstanding.sequence !== sequence || outstanding.attempt !== attempt) return;
    this.#leaderHint = null;
    this.#retryOrGiveUp();
  }

  #retryOrGiveUp(): void {
    const outstanding = this.#outstanding!;
    if (this.#world.now() - outstanding.operation.call < this.#options.giveUpMs) return this.#attempt();
    // Outcome unknown: the operation stays in the history with no return, or is dropped if it was a
    // read (a read that returned nothing constrains nothing).
    const operation = outstanding.operation;
    if (operation.input.type === 'get' || operation.input.type === 'scan') {
      this.#history.splice(this.#history.indexOf(operation), 1);
    }
    this.unknown += 1;
    this.#finish();
  }

  #remember(command: KvCommand, result: KvResult): void {
    if (!result.ok) return;
    if (command.type === 'put') this.#seen.set(command.key, command.value);
    else if (command.type === 'delete') this.#seen.set(command.key, null);
    else if (result.type === 'get' && command.type === 'get') this.#seen.set(command.key, result.value);
    else if (result.type === 'cas' && command.type === 'cas') this.#seen.set(command.key, result.current);
  }

  #finish(): void {
    this.#outstanding = null;
    this.#world.scheduleThink(this, this.#world.rng.int(0, this.#options.thinkMsMax));
  }

  #randomCommand(): KvCommand {
    const { rng } = this.#world;
    const keys = this.#options.keys;
    const key = keys[rng.int(0, keys.length - 1)]!;
    this.#values += 1;
    const value = `${this.id}-${this.#values}`;
    const roll = rng.next();
    if (roll < 0.3) return { type: 'put', key, value };
    if (roll < 0.55) return { type: 'get', key };
    if (roll < 0.65) return { type: 'delete', key };
    if (roll < 0.85) {
      // Expect the last value seen, so that swaps often succeed and race with other clients.
      const expected = rng.next() < 0.2 ? null : this.#seen.get(key) ?? null;
      return { type: 'cas', key, expected, value };
    }
    // A scan from one of scanKeys up to the key after the last of them.
    const scanKeys = this.#options.scanKeys;
    const start = scanKeys[rng.int(0, scanKeys.length - 1)]!;
    return { type: 'scan', start, end: `${scanKeys[scanKeys.length - 1]!}\u0000`, limit: rng.int(1, 3) };
  }
}
