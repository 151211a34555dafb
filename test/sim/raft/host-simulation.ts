/**
 * The host simulation: the production replica host (host.ts: request table, DurableLog on the WAL,
 * Ready execution with the leader's parallel write) N times over a simulated network, disks and clock
 * (host-world.ts), driven by the production client's retry logic (RaftKvClient), under a nemesis that
 * partitions, isolates leaders, crashes processes (losing, keeping or tearing unsynced writes),
 * restarts them from their disks, transfers leadership and changes membership through the service
 * requests operators use. One seed decides everything, so a failure replays exactly.
 *
 * Checked: one leader per term; replicas apply the same command at each index and derive the same
 * events at each revision; the client history is linearizable (test/support/linearizability.ts); two
 * production watches (every key, and one key) deliver each revision's events in order with no gap and
 * no duplicate, across the replicas they move between (host-watch.ts); and after the faults heal, the
 * cluster converges (one leader, every member applied everything committed, no client still waiting)
 * and the watches catch up with the last revision.
 */
import { RaftKvClient } from '../../../actors/raft/client.js';
import type { Entry, MembershipChange, NodeId } from '../../../actors/raft/core/types.js';
import type { HostOptions } from '../../../actors/raft/host.js';
import type { Rng } from '../../../runtime/index.js';
import type { CrashMode } from '../../../actors/storage/index.js';
import { checkLinearizability, describeFailure, kvModel, type HistoryOperation, type KvCommand, type KvPairCommand, type KvResult } from '../../support/linearizability.js';
import { fingerprint } from './invariants.js';
import { World } from './host-world.js';
import { profileFromSeed, type FaultKind, type SimulationProfile } from './profile.js';
import { WatchReference, WatchStream, type WatchTotals } from './host-watch.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What one finished run reports. */
export interface HostSimulationReport {
  readonly seed: number;
  readonly events: number;
  readonly operations: number;
  readonly unknown: number;
  readonly elections: number;
  readonly crashes: number;
  readonly watch: Readonly<WatchTotals>;
  readonly faults: Readonly<Record<string, number>>;
  readonly messageTypes: Readonly<Record<string, number>>;
}

/** A run that broke a property; its message starts with the command that replays it. */
export class HostSimulationFailure extends Error {
  constructor(seed: number, cause: unknown, trace: readonly string[]) {
    const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`raft host simulation failed, SEED=${seed} npx vitest run test/sim/raft\n${reason}\nlast events:\n${trace.join('\n')}`, { cause });
    this.name = 'HostSimulationFailure';
  }
}

/** Runs one seeded simulation of the production host; rejects with HostSimulationFailure on any violation. */
export async function runHostSimulation(seed: number, overrides: Partial<SimulationProfile> = {}): Promise<HostSimulationReport> {
  const run = new HostRun(seed, { ...hostProfile(seed), ...overrides });
  return run.run();
}

/** The core simulation's profile, shortened: each event here runs the whole host, WAL included. */
function hostProfile(seed: number): SimulationProfile {
  const profile = profileFromSeed(seed);
  // A third of the runs give up early, so operations with unknown outcomes reach the checker too.
  const giveUpMs = seed % 3 === 0 ? 250 : profile.clientOptions.giveUpMs;
  return { ...profile, faultMs: 800, quietMs: 300, clients: Math.min(profile.clients, 3), clientOptions: { ...profile.clientOptions, giveUpMs } };
}

class HostRun {
  readonly #seed: number;
  readonly #profile: SimulationProfile;
  readonly #world: World;
  readonly #rng: Rng;
  readonly #history: Array<HistoryOperation<KvCommand, KvResult>> = [];
  readonly #applied = new Map<number, string>();
  readonly #leaders = new Map<number, NodeId>();
  readonly #faults: Record<string, number> = {};
  readonly #trace: string[] = [];
  readonly #reference = new WatchReference();
  readonly #watchTotals: WatchTotals = { events: 0, restarts: 0, revisionsChecked: 0 };
  readonly #watches: WatchStream[] = [];
  #busyClients = 0;
  #unknown = 0;
  #lastLeaderTerm = 0;

  constructor(seed: number, profile: SimulationProfile) {
    this.#seed = seed;
    this.#profile = profile;
    const initialMembership = { voters: [...profile.initialVoters].sort(), learners: [] };
    const peers = Object.fromEntries(profile.nodeIds.map((id) => [id, { node: id, path: '/raft' }]));
    const hostOptions = (id: NodeId): HostOptions => ({
      id, peers, directory: `/data/${id}`, initialMembership, raft: profile.raft,
      requestTimeoutMs: Math.floor(profile.clientOptions.attemptTimeoutMs * 0.8), pendingRequestsMax: 1_000,
    });
    this.#world = new World({
      seed,
      nodeIds: profile.nodeIds,
      weather: profile,
      hostOptions,
      observe: (node, entry, applied) => this.#checkApplied(node, entry, applied),
      observeEvents: (node, revision, events) => this.#reference.record(node, revision, events),
    });
    this.#rng = this.#world.rng;
  }

  async run(): Promise<HostSimulationReport> {
    const world = this.#world;
    try {
      for (const id of this.#profile.nodeIds) world.start(id);
      this.#startTicks();
      for (let index = 0; index < this.#profile.clients; index += 1) this.#startClient(`c${index}`);
      this.#startWatch('every key', { key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0), everyKey: true });
      this.#startWatch('key c', { key: encoder.encode('c'), everyKey: false });
      world.after(this.#faultDelay(), () => this.#fault());
      world.after(this.#profile.faultMs, () => this.#beginQuiet());
      await world.run(this.#profile.faultMs + this.#profile.quietMs, () => this.#afterEvent());
      await this.#checkConvergence();
      this.#checkHistory();
      await this.#checkWatches();
    } catch (error) {
      throw new HostSimulationFailure(this.#seed, error, this.#trace);
    }
    return {
      seed: this.#seed, events: world.stats.events, operations: this.#history.length, unknown: this.#unknown,
      elections: this.#leaders.size, crashes: world.stats.crashes, watch: { ...this.#watchTotals }, faults: { ...this.#faults }, messageTypes: { ...world.stats.messageTypes },
    };
  }

  #note(line: string): void {
    this.#trace.push(`${this.#world.now}: ${line}`);
    if (this.#trace.length > 40) this.#trace.shift();
  }

  /** Each node's ticks run at its own phase and a slightly different rate, through crashes. */
  #startTicks(): void {
    for (const node of this.#world.nodes.values()) {
      const period = this.#profile.tickMs + this.#rng.int(-1, 1);
      const tick = (): void => {
        node.host?.tick();
        this.#world.after(period, tick);
      };
      this.#world.after(this.#rng.int(0, period - 1), tick);
    }
  }

  /** One production client with a sequential workload until the fault phase ends. */
  #startClient(clientId: string): void {
    const world = this.#world;
    const options = this.#profile.clientOptions;
    const client = new RaftKvClient({
      clientId, replicas: this.#profile.nodeIds, transport: world.clientTransport(),
      attemptTimeoutMs: options.attemptTimeoutMs, giveUpMs: options.giveUpMs, retryDelayMs: 2, retryDelayMsMax: options.retryBackoffMsMax,
      now: () => world.now, sleep: (ms) => world.sleep(ms),
      record: (operation) => this.#record(operation),
    });
    this.#busyClients += 1;
    const loop = async (): Promise<void> => {
      let values = 0;
      while (world.now < this.#profile.faultMs) {
        const command = this.#randomCommand(clientId, (values += 1));
        const readable = command.type === 'get' || command.type === 'scan';
        if (command.type === 'pair') await this.#pair(client, command);
        else await client.execute(command, readable && this.#rng.next() < options.readIndexShare ? 'readIndex' : 'log');
        await world.sleep(this.#rng.int(0, options.thinkMsMax));
      }
    };
    loop().then(() => { this.#busyClients -= 1; }, (error: unknown) => world.fail(error));
  }

  /** A production watch from revision 1, checked as its events arrive and against the replicas at the end. */
  #startWatch(name: string, range: { key: Uint8Array; rangeEnd?: Uint8Array; everyKey: boolean }): void {
    const world = this.#world;
    const options = this.#profile.clientOptions;
    const client = new RaftKvClient({
      clientId: `watch ${name}`, replicas: this.#profile.nodeIds, transport: world.clientTransport(),
      attemptTimeoutMs: options.attemptTimeoutMs, giveUpMs: options.giveUpMs, retryDelayMs: 2, retryDelayMsMax: options.retryBackoffMsMax,
      now: () => world.now, sleep: (ms) => world.sleep(ms),
    });
    const stream = new WatchStream({ name, ...range, totals: this.#watchTotals });
    this.#watches.push(stream);
    stream.run(client, 1).catch((error: unknown) => world.fail(error));
  }

  /** Once converged: every watch reaches the last revision, and what each delivered matches the replicas. */
  async #checkWatches(): Promise<void> {
    const world = this.#world;
    const last = this.#reference.revisionMax;
    const caughtUp = (): boolean => this.#watches.every((stream) => stream.caughtUp(this.#reference) || stream.failure !== null);
    if (!caughtUp() && !(await world.run(world.now + this.#profile.convergenceMs, () => this.#afterEvent(), caughtUp))) {
      const behind = this.#watches.filter((stream) => !stream.caughtUp(this.#reference)).map((stream) => `${stream.name} at ${stream.lastRevision}`);
      throw new Error(`watches stopped behind the replicas (last revision ${last}): ${behind.join(', ')}`);
    }
    for (const stream of this.#watches) {
      stream.stop();
      stream.check(this.#reference, last);
    }
  }

  /** A two-key transaction through the production client's model API, recorded like the text operations. */
  async #pair(client: RaftKvClient, command: KvPairCommand): Promise<void> {
    const call = this.#world.now;
    const [first, second] = [encoder.encode(command.first), encoder.encode(command.second)];
    const outcome = await client.txn({
      compare: [command.expected === null
        ? { key: first, target: 'version', operator: '=', value: 0 }
        : { key: first, target: 'value', operator: '=', value: encoder.encode(command.expected) }],
      success: [{ type: 'put', key: first, value: encoder.encode(command.values[0]) }, { type: 'put', key: second, value: encoder.encode(command.values[1]) }],
      failure: [{ type: 'range', key: first }, { type: 'range', key: second }],
    });
    let output: KvResult | undefined;
    if (!outcome.ok) output = outcome.code === 'TIMEOUT' ? undefined : outcome;
    else if (outcome.type !== 'txn') throw new Error(`a pair transaction answered ${outcome.type}`);
    else if (outcome.succeeded) output = { ok: true, type: 'pair', swapped: true, current: command.values };
    else {
      const valueOf = (index: number): string | null => {
        const response = outcome.responses[index];
        return response?.type === 'range' && response.kvs.length > 0 ? decoder.decode(response.kvs[0]!.value) : null;
      };
      output = { ok: true, type: 'pair', swapped: false, current: [valueOf(0), valueOf(1)] };
    }
    this.#record({ clientId: client.clientId, input: command, call, output, return: output === undefined ? Infinity : this.#world.now });
  }

  #record(operation: HistoryOperation<KvCommand, KvResult>): void {
    if (operation.output === undefined) {
      this.#unknown += 1;
      // A read that never returned constrains nothing.
      if (operation.input.type === 'get' || operation.input.type === 'scan') return;
    }
    this.#history.push({ ...operation });
  }

  #randomCommand(clientId: string, counter: number): KvCommand {
    const rng = this.#rng;
    const { keys, scanKeys } = this.#profile.clientOptions;
    const key = keys[rng.int(0, keys.length - 1)]!;
    const value = `${clientId}-${counter}`;
    const roll = rng.next();
    if (roll < 0.3) return { type: 'put', key, value };
    if (roll < 0.55) return { type: 'get', key };
    if (roll < 0.65) return { type: 'delete', key };
    if (roll < 0.78) return { type: 'cas', key, expected: rng.next() < 0.3 ? null : `c${rng.int(0, 2)}-${rng.int(1, Math.max(1, counter))}`, value };
    if (roll < 0.85) {
      // Both keys outside the scanned ones, in either order, so pairs tie c and d into one checked partition.
      const [first, second] = rng.next() < 0.5 ? ['c', 'd'] : ['d', 'c'];
      const expected = rng.next() < 0.3 ? null : `c${rng.int(0, 2)}-${rng.int(1, Math.max(1, counter))}`;
      return { type: 'pair', first, second, expected, values: [value, `${value}/2`] };
    }
    const start = scanKeys[rng.int(0, scanKeys.length - 1)]!;
    return { type: 'scan', start, end: `${scanKeys[scanKeys.length - 1]!}\u0000`, limit: rng.int(1, 3) };
  }

  /** State-machine safety: every replica applies the same entry at each index. */
  #checkApplied(node: NodeId, entry: Entry, _applied: unknown): void {
    const print = fingerprint(entry);
    const known = this.#applied.get(entry.index);
    if (known === undefined) this.#applied.set(entry.index, print);
    else if (known !== print) this.#world.fail(new Error(`state-machine safety: ${node} applied ${print} at ${entry.index}, another replica ${known}`));
  }

  /** Election safety after every event, and leader churn: a new leader is sometimes crashed or cut off at once. */
  #afterEvent(): void {
    for (const node of this.#world.nodes.values()) {
      const status = node.host?.node.status();
      if (status === undefined || status.role !== 'leader') continue;
      const known = this.#leaders.get(status.term);
      if (known !== undefined && known !== node.id) throw new Error(`election safety: ${known} and ${node.id} both lead term ${status.term}`);
      this.#leaders.set(status.term, node.id);
      if (this.#world.quiet || status.term <= this.#lastLeaderTerm) continue;
      this.#lastLeaderTerm = status.term;
      if (this.#rng.next() < this.#profile.leaderChurnRate) {
        const term = status.term;
        this.#world.after(this.#rng.int(...this.#profile.leaderChurnMs), () => this.#churn(node.id, term));
      }
    }
  }

  #churn(id: NodeId, term: number): void {
    const node = this.#world.nodes.get(id)!;
    if (this.#world.quiet || node.host?.node.status().term !== term) return;
    this.#faults.churn = (this.#faults.churn ?? 0) + 1;
    if (this.#rng.next() < 0.5) return this.#crash(id);
    this.#isolate(id);
  }

  #faultDelay(): number {
    return this.#rng.int(...this.#profile.faultIntervalMs);
  }

  #fault(): void {
    if (this.#world.quiet) return;
    this.#world.after(this.#faultDelay(), () => this.#fault());
    const kind = pickWeighted(this.#rng, this.#profile.faultWeights);
    this.#faults[kind] = (this.#faults[kind] ?? 0) + 1;
    this.#note(`fault ${kind}`);
    const leader = this.#leader();
    switch (kind) {
      case 'partition': return this.#partition();
      case 'isolateLeader': return leader === null ? undefined : this.#isolate(leader);
      case 'crash': return this.#crash(this.#pick(this.#profile.nodeIds));
      case 'crashLeader': return leader === null ? undefined : this.#crash(leader);
      case 'transfer': return leader === null ? undefined : this.#transfer(leader);
      case 'membership': return leader === null ? undefined : this.#changeMembership(leader);
      case 'none': return;
    }
  }

  #pick<T>(items: readonly T[]): T {
    return items[this.#rng.int(0, items.length - 1)]!;
  }

  #leader(): NodeId | null {
    let best: { id: NodeId; term: number } | null = null;
    for (const node of this.#world.nodes.values()) {
      const status = node.host?.node.status();
      if (status?.role === 'leader' && (best === null || status.term > best.term)) best = { id: node.id, term: status.term };
    }
    return best?.id ?? null;
  }

  #partition(): void {
    const ids = [...this.#profile.nodeIds];
    for (let index = ids.length - 1; index > 0; index -= 1) {
      const other = this.#rng.int(0, index);
      [ids[index], ids[other]] = [ids[other]!, ids[index]!];
    }
    const cut = this.#rng.int(1, ids.length - 1);
    this.#world.partition(new Map(ids.map((id, position) => [id, position < cut ? 0 : 1])));
    this.#note(`partition ${ids.slice(0, cut).join(',')} | ${ids.slice(cut).join(',')}`);
    this.#healLater();
  }

  #isolate(id: NodeId): void {
    this.#world.partition(new Map(this.#profile.nodeIds.map((other) => [other, other === id ? 1 : 0])));
    this.#note(`isolate ${id}`);
    this.#healLater();
  }

  #healLater(): void {
    this.#world.after(this.#rng.int(...this.#profile.partitionMs), () => {
      this.#world.partition(null);
      this.#note('heal');
    });
  }

  #crash(id: NodeId): void {
    const node = this.#world.nodes.get(id)!;
    if (node.host === null) return;
    const roll = this.#rng.next();
    const mode: CrashMode = roll < 0.4 ? 'tear' : roll < 0.7 ? 'drop' : 'keep';
    this.#world.crash(id, mode);
    this.#note(`crash ${id} (${mode})`);
    this.#world.after(this.#rng.int(...this.#profile.downMs), () => {
      this.#world.start(id);
      this.#note(`restart ${id}`);
    });
  }

  #transfer(leader: NodeId): void {
    const host = this.#world.nodes.get(leader)!.host!;
    const voters = host.node.status().membership.voters.filter((id) => id !== leader);
    if (voters.length === 0) return;
    const target = this.#pick(voters);
    host.request({ type: 'raft.transferLeader', target }, (reply) => this.#note(`transfer ${leader} -> ${target}: ${JSON.stringify(reply)}`));
  }

  /** A random valid single-server change, sent as the operator's service request. */
  #changeMembership(leader: NodeId): void {
    const host = this.#world.nodes.get(leader)!.host!;
    const { voters, learners } = host.node.status().membership;
    const outsiders = this.#profile.nodeIds.filter((id) => !voters.includes(id) && !learners.includes(id));
    const options: MembershipChange[] = [
      ...outsiders.map((node): MembershipChange => ({ type: 'addLearner', node })),
      ...learners.flatMap((node): MembershipChange[] => [{ type: 'promoteLearner', node }, { type: 'removeNode', node }]),
      ...(voters.length > this.#profile.votersMin ? voters.map((node): MembershipChange => ({ type: 'removeNode', node })) : []),
    ];
    if (options.length === 0) return;
    const change = this.#pick(options);
    host.request({ type: 'raft.changeMembership', change, timeoutMs: 500, peerRef: { node: change.node, path: '/raft' } }, (reply) => {
      this.#note(`membership ${JSON.stringify(change)} at ${leader}: ${JSON.stringify(reply)}`);
    });
  }

  #beginQuiet(): void {
    this.#world.quiet = true;
    this.#world.partition(null);
    this.#note('quiet');
    for (const id of this.#profile.nodeIds) this.#world.start(id);
  }

  /** Liveness after healing: one leader, no client waiting, every member applied everything committed. */
  async #checkConvergence(): Promise<void> {
    const world = this.#world;
    const converged = (): boolean => {
      const leader = this.#leader();
      if (leader === null || this.#busyClients > 0) return false;
      const status = world.nodes.get(leader)!.host!.node.status();
      if (status.commit < status.lastIndex) return false;
      return [...status.membership.voters, ...status.membership.learners].every((id) => world.nodes.get(id)!.host?.machine.appliedIndex === status.commit);
    };
    if (converged() || (await world.run(world.now + this.#profile.convergenceMs, () => this.#afterEvent(), converged))) return;
    const statuses = [...world.nodes.values()].map((node) => {
      const status = node.host?.node.status();
      return status === undefined ? `${node.id} down` : `${node.id} ${status.role} term ${status.term} commit ${status.commit} applied ${node.host!.machine.appliedIndex} last ${status.lastIndex}`;
    });
    throw new Error(`no convergence after the quiet period (busy clients ${this.#busyClients}):\n${statuses.join('\n')}`);
  }

  #checkHistory(): void {
    const result = checkLinearizability(kvModel, this.#history, { stepsMax: 2_000_000 });
    if (result.ok === false) throw new Error(describeFailure(result));
    if (result.ok === 'unknown') throw new Error('linearizability check ran out of budget');
  }
}

function pickWeighted(rng: Rng, weights: Readonly<Record<FaultKind, number>>): FaultKind {
  const entries = Object.entries(weights) as Array<[FaultKind, number]>;
  const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = rng.next() * total;
  for (const [kind, weight] of entries) {
    roll -= weight;
    if (roll < 0) return kind;
  }
  return entries[entries.length - 1]![0];
}
