/**
 * The Raft simulation: real replicas (RaftNode + KvStateMachine, see replica.ts) over a simulated
 * network, disk and clock, driven by one seed. Everything the run does (fault schedule, message
 * delays, drops, duplicates, crashes, membership changes, client workload) comes from that seed, so a
 * failing seed replays exactly.
 *
 * A run has a fault phase, in which a nemesis partitions the network (including cutting off the
 * current leader), crashes and restarts replicas (losing unsynced writes, sometimes tearing the last
 * one), transfers leadership and changes membership, while clients issue KV operations with retries;
 * then a quiet phase in which every fault is healed and the cluster must converge. The invariants of
 * invariants.ts are checked after every event; at the end the client history must be linearizable.
 */
import { createRng, type Rng } from '../../../runtime/rng.js';
import type { KvTextCommand as KvCommand, KvTextResult as KvResult } from '../../../actors/raft/kv-text.js';
import type { Message, NodeId, ProposeResult } from '../../../actors/raft/core/types.js';
import { checkLinearizability, describeFailure, kvModel, type HistoryOperation } from '../../support/linearizability.js';
import { SimClient } from './clients.js';
import { EventQueue } from './event-queue.js';
import { InvariantChecker } from './invariants.js';
import { SimReplica, type ClientReply, type ClientRequest } from './replica.js';
import { profileFromSeed, type SimulationProfile } from './profile.js';

type SimEvent =
  | { readonly type: 'tick'; readonly node: NodeId }
  | { readonly type: 'deliver'; readonly message: Message }
  | { readonly type: 'sync'; readonly node: NodeId; readonly incarnation: number }
  | { readonly type: 'request'; readonly node: NodeId; readonly request: ClientRequest }
  | { readonly type: 'reply'; readonly reply: ClientReply }
  | { readonly type: 'timeout'; readonly client: SimClient; readonly sequence: number; readonly attempt: number }
  | { readonly type: 'think'; readonly client: SimClient }
  | { readonly type: 'retry'; readonly client: SimClient; readonly sequence: number; readonly attempt: number }
  | { readonly type: 'fault' }
  | { readonly type: 'heal' }
  | { readonly type: 'restart'; readonly node: NodeId }
  | { readonly type: 'quiet' }
  | { readonly type: 'churn'; readonly node: NodeId; readonly term: number };

/** What a finished run reports. */
export interface SimulationReport {
  readonly seed: number;
  readonly events: number;
  readonly operations: number;
  readonly completed: number;
  readonly unknown: number;
  readonly elections: number;
  readonly committed: number;
  readonly snapshots: number;
  readonly faults: Readonly<Record<string, number>>;
  readonly messages: { readonly sent: number; readonly dropped: number; readonly duplicated: number };
  /** Messages sent, by type (without the 'raft.' prefix). */
  readonly messageTypes: Readonly<Record<string, number>>;
  readonly disk: { readonly lostWrites: number; readonly tornWrites: number };
}

/** A run that broke a property; its message starts with the seed and the command that replays it. */
export class SimulationFailure extends Error {
  constructor(seed: number, cause: unknown, trace: readonly string[]) {
    const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`raft simulation failed, SEED=${seed} npx vitest run test/sim/raft\n${reason}\nlast events:\n${trace.join('\n')}`, { cause });
    this.name = 'SimulationFailure';
  }
}

/** Runs one seeded simulation; throws SimulationFailure on any violation. */
export function runSimulation(seed: number, overrides: Partial<SimulationProfile> = {}): SimulationReport {
  const world = new World(seed, { ...profileFromSeed(seed), ...overrides });
  return world.run();
}

class World {
  readonly seed: number;
  readonly profile: SimulationProfile;
  readonly rng: Rng;
  readonly invariants = new InvariantChecker();
  readonly #queue = new EventQueue<SimEvent>();
  readonly #replicas = new Map<NodeId, SimReplica>();
  readonly #tickPeriods = new Map<NodeId, number>();
  readonly #clients: SimClient[] = [];
  readonly #history: Array<HistoryOperation<KvCommand, KvResult>> = [];
  readonly #faults: Record<string, number> = {};
  readonly #messageTypes: Record<string, number> = {};
  readonly #trace: string[] = [];
  #now = 0;
  #groups: Map<NodeId, number> | null = null;
  #quiet = false;
  #lastLeaderTerm = 0;
  #events = 0;
  #sent = 0;
  #dropped = 0;
  #duplicated = 0;

  constructor(seed: number, profile: SimulationProfile) {
    this.seed = seed;
    this.profile = profile;
    this.rng = createRng(seed);
  }

  run(): SimulationReport {
    try {
      this.#setUp();
      this.#loop(this.profile.faultMs + this.profile.quietMs);
      this.#checkConvergence();
      this.#checkHistory();
    } catch (error) {
      throw new SimulationFailure(this.seed, error, this.#trace);
    }
    return this.#report();
  }

  #setUp(): void {
    const { profile } = this;
    const initialMembership = { voters: [...profile.initialVoters].sort(), learners: [] };
    for (const id of profile.nodeIds) {
      const replica = new SimReplica(id, { ...profile.raft, initialMembership }, {
        rng: this.rng,
        invariants: this.invariants,
        tornWriteRate: profile.tornWriteRate,
        send: (message) => this.#send(message),
        reply: (reply) => this.#schedule(this.#linkDelay(), { type: 'reply', reply }),
        scheduleSync: (node, incarnation) => this.#schedule(this.rng.int(0, profile.syncDelayMsMax), { type: 'sync', node, incarnation }),
      });
      this.#replicas.set(id, replica);
      // Each replica's clock runs at its own phase and a slightly different rate.
      const period = profile.tickMs + this.rng.int(-1, 1);
      this.#schedule(this.rng.int(0, period - 1), { type: 'tick', node: id });
      this.#tickPeriods.set(id, period);
    }
    for (let index = 0; index < profile.clients; index += 1) {
      const client = new SimClient(`c${index}`, {
        rng: this.rng,
        now: () => this.#now,
        nodeIds: profile.nodeIds,
        accepting: () => this.#now < profile.faultMs,
        sendRequest: (node, request) => this.#sendToReplica(node, request),
        scheduleTimeout: (target, sequence, attempt, delayMs) => this.#schedule(delayMs, { type: 'timeout', client: target, sequence, attempt }),
        scheduleThink: (target, delayMs) => this.#schedule(delayMs, { type: 'think', client: target }),
        scheduleRetry: (target, sequence, attempt, delayMs) => this.#schedule(delayMs, { type: 'retry', client: target, sequence, attempt }),
      }, profile.clientOptions, this.#history);
      this.#clients.push(client);
      this.#schedule(this.rng.int(0, 50), { type: 'think', client });
    }
    this.#schedule(this.#faultDelay(), { type: 'fault' });
    this.#schedule(profile.faultMs, { type: 'quiet' });
  }

  #schedule(delayMs: number, event: SimEvent): void {
    this.#queue.push(this.#now + delayMs, event);
  }

  /** Processes events until `end`, or until `done()` holds after an event. Returns whether `done()` held. */
  #loop(end: number, done: () => boolean = () => false): boolean {
    for (;;) {
      if (this.#queue.peekTime() > end) return false;
      const next = this.#queue.pop()!;
      this.#now = next.time;
      this.#events += 1;
      const touched = this.#handle(next.event);
      if (touched !== null) {
        this.invariants.afterEvent(touched);
        this.#watchForNewLeader(touched);
      }
      if (done()) return true;
    }
  }

  #handle(event: SimEvent): SimReplica | null {
    switch (event.type) {
      case 'tick': {
        this.#schedule(this.#tickPeriods.get(event.node)!, event);
        const replica = this.#replicas.get(event.node)!;
        if (!replica.up) return null;
        replica.tick();
        return replica;
      }
      case 'deliver': return this.#deliver(event.message);
      case 'sync': {
        const replica = this.#replicas.get(event.node)!;
        replica.synced(event.incarnation);
        return replica;
      }
      case 'request': {
        const replica = this.#replicas.get(event.node)!;
        if (!replica.up) return null;
        replica.request(event.request);
        return replica;
      }
      case 'reply':
        this.#clients.find((client) => client.id === event.reply.clientId)!.receive(event.reply);
        return null;
      case 'timeout':
        event.client.timedOut(event.sequence, event.attempt);
        return null;
      case 'think':
        event.client.think();
        return null;
      case 'retry':
        event.client.retry(event.sequence, event.attempt);
        return null;
      case 'fault': return this.#fault();
      case 'heal':
        this.#groups = null;
        this.#note('heal');
        return null;
      case 'restart': return this.#restart(event.node);
      case 'quiet': return this.#beginQuiet();
      case 'churn': return this.#churn(event.node, event.term);
    }
  }

  /** Leader churn: soon after a new leader appears, sometimes crash it or cut it off. */
  #watchForNewLeader(replica: SimReplica): void {
    const status = replica.node.status();
    if (this.#quiet || status.role !== 'leader' || status.term <= this.#lastLeaderTerm) return;
    this.#lastLeaderTerm = status.term;
    if (this.rng.next() < this.profile.leaderChurnRate) {
      this.#schedule(this.rng.int(...this.profile.leaderChurnMs), { type: 'churn', node: replica.id, term: status.term });
    }
  }

  #churn(node: NodeId, term: number): null {
    const replica = this.#replicas.get(node)!;
    if (this.#quiet || !replica.up || replica.node.status().term !== term) return null;
    this.#faults.churn = (this.#faults.churn ?? 0) + 1;
    if (this.rng.next() < 0.5) return this.#crash(replica);
    this.#groups = new Map(this.profile.nodeIds.map((id) => [id, id === node ? 1 : 0]));
    this.#note(`churn: isolate new leader ${node}`);
    this.#schedule(this.rng.int(...this.profile.partitionMs), { type: 'heal' });
    return null;
  }

  #note(line: string): void {
    this.#trace.push(`${this.#now}: ${line}`);
    if (this.#trace.length > 40) this.#trace.shift();
  }

  #linkDelay(): number {
    const { profile, rng } = this;
    if (rng.next() < profile.longDelayRate) return rng.int(profile.delayMsMax, profile.delayMsMax * 8);
    return rng.int(1, profile.delayMsMax);
  }

  #send(message: Message): void {
    this.#sent += 1;
    const type = message.type.slice('raft.'.length);
    this.#messageTypes[type] = (this.#messageTypes[type] ?? 0) + 1;
    const { profile, rng } = this;
    if (!this.#quiet && rng.next() < profile.dropRate) {
      this.#dropped += 1;
      return;
    }
    this.#schedule(this.#linkDelay(), { type: 'deliver', message });
    if (!this.#quiet && rng.next() < profile.duplicateRate) {
      this.#duplicated += 1;
      this.#schedule(this.#linkDelay(), { type: 'deliver', message });
    }
  }

  #deliver(message: Message): SimReplica | null {
    const target = this.#replicas.get(message.to)!;
    if (!target.up || this.#partitioned(message.from, message.to)) return null;
    target.receive(message);
    return target;
  }

  #partitioned(left: NodeId, right: NodeId): boolean {
    return this.#groups !== null && this.#groups.get(left) !== this.#groups.get(right);
  }

  #sendToReplica(node: NodeId, request: ClientRequest): void {
    if (!this.#quiet && this.rng.next() < this.profile.dropRate) return;
    this.#schedule(this.#linkDelay(), { type: 'request', node, request });
  }

  #faultDelay(): number {
    const [low, high] = this.profile.faultIntervalMs;
    return this.rng.int(low, high);
  }

  /** The replica that leads in the highest term, among those running. */
  #leader(): SimReplica | null {
    let best: SimReplica | null = null;
    for (const replica of this.#replicas.values()) {
      if (!replica.up) continue;
      const status = replica.node.status();
      if (status.role === 'leader' && (best === null || status.term > best.node.status().term)) best = replica;
    }
    return best;
  }

  #fault(): SimReplica | null {
    if (this.#quiet) return null;
    this.#schedule(this.#faultDelay(), { type: 'fault' });
    const kind = pickWeighted(this.rng, this.profile.faultWeights);
    this.#faults[kind] = (this.#faults[kind] ?? 0) + 1;
    this.#note(`fault ${kind}`);
    switch (kind) {
      case 'partition': return this.#partition();
      case 'isolateLeader': return this.#isolateLeader();
      case 'crash': return this.#crash(this.#pickUp());
      case 'crashLeader': return this.#crash(this.#leader());
      case 'transfer': return this.#transfer();
      case 'membership': return this.#changeMembership();
      default: return null;
    }
  }

  /** A running replica; half the time one with writes not yet synced, so crashes lose them. */
  #pickUp(): SimReplica | null {
    const up = [...this.#replicas.values()].filter((replica) => replica.up);
    const syncing = up.filter((replica) => replica.syncing);
    const pool = syncing.length > 0 && this.rng.next() < 0.5 ? syncing : up;
    return pool.length === 0 ? null : pool[this.rng.int(0, pool.length - 1)]!;
  }

  #partition(): null {
    const ids = shuffle(this.rng, [...this.profile.nodeIds]);
    const cut = this.rng.int(1, ids.length - 1);
    this.#groups = new Map(ids.map((id, position) => [id, position < cut ? 0 : 1]));
    this.#note(`partition ${ids.slice(0, cut).join(',')} | ${ids.slice(cut).join(',')}`);
    this.#schedule(this.rng.int(...this.profile.partitionMs), { type: 'heal' });
    return null;
  }

  /** Cuts the current leader off from everyone; it keeps believing it leads until check-quorum. */
  #isolateLeader(): null {
    const leader = this.#leader();
    if (leader === null) return null;
    this.#groups = new Map(this.profile.nodeIds.map((id) => [id, id === leader.id ? 1 : 0]));
    this.#note(`isolate leader ${leader.id}`);
    this.#schedule(this.rng.int(...this.profile.partitionMs), { type: 'heal' });
    return null;
  }

  #crash(replica: SimReplica | null): null {
    if (replica === null || !replica.up) return null;
    replica.crash();
    this.#note(`crash ${replica.id}`);
    this.#schedule(this.rng.int(...this.profile.downMs), { type: 'restart', node: replica.id });
    return null;
  }

  #restart(node: NodeId): SimReplica | null {
    const replica = this.#replicas.get(node)!;
    if (replica.up) return null;
    replica.restart();
    this.#note(`restart ${node}`);
    return replica;
  }

  #transfer(): SimReplica | null {
    const leader = this.#leader();
    if (leader === null) return null;
    const voters = leader.node.status().membership.voters.filter((id) => id !== leader.id);
    if (voters.length === 0) return null;
    const target = voters[this.rng.int(0, voters.length - 1)]!;
    this.#note(`transfer ${leader.id} -> ${target}: ${JSON.stringify(leader.node.transferLeadership(target))}`);
    leader.pump();
    return leader;
  }

  /** A random valid single-server change: add a learner, promote one, or remove a member. */
  #changeMembership(): SimReplica | null {
    const leader = this.#leader();
    if (leader === null) return null;
    const { voters, learners } = leader.node.status().membership;
    const outsiders = this.profile.nodeIds.filter((id) => !voters.includes(id) && !learners.includes(id));
    const options: Array<() => ProposeResult> = [];
    for (const node of outsiders) options.push(() => leader.node.proposeMembership({ type: 'addLearner', node }));
    for (const node of learners) {
      options.push(() => leader.node.proposeMembership({ type: 'promoteLearner', node }));
      options.push(() => leader.node.proposeMembership({ type: 'removeNode', node }));
    }
    if (voters.length > this.profile.votersMin) {
      for (const node of voters) options.push(() => leader.node.proposeMembership({ type: 'removeNode', node }));
    }
    if (options.length === 0) return null;
    const result = options[this.rng.int(0, options.length - 1)]!();
    this.#note(`membership at ${leader.id}: ${JSON.stringify(result)}`);
    leader.pump();
    return leader;
  }

  /** Ends the fault phase: heal the network, restart everyone, and let the cluster settle. */
  #beginQuiet(): null {
    this.#quiet = true;
    this.#groups = null;
    this.#note('quiet');
    for (const replica of this.#replicas.values()) {
      if (!replica.up) {
        replica.restart();
        this.invariants.afterEvent(replica);
      }
    }
    return null;
  }

  /**
   * Liveness after healing: within the convergence window there is one leader, no client is still
   * waiting, and every member of the leader's membership has applied everything the leader committed.
   * A cluster that never settles here is a bug too (an election livelock, a lost retransmission).
   */
  #checkConvergence(): void {
    const converged = (): boolean => {
      const leader = this.#leader();
      if (leader === null || this.#clients.some((client) => client.busy)) return false;
      const status = leader.node.status();
      if (status.commit < status.lastIndex) return false;
      return [...status.membership.voters, ...status.membership.learners].every((id) => this.#replicas.get(id)!.machine.appliedIndex === status.commit);
    };
    if (converged() || this.#loop(this.#now + this.profile.convergenceMs, converged)) return;
    const leader = this.#leader();
    const statuses = [...this.#replicas.values()].map((replica) => {
      const status = replica.node.status();
      return `${replica.id} ${replica.up ? 'up' : 'down'} ${status.role} term ${status.term} commit ${status.commit} applied ${replica.machine.appliedIndex} last ${status.lastIndex} members ${JSON.stringify(status.membership)}`;
    });
    const busy = this.#clients.filter((client) => client.busy).map((client) => client.id);
    throw new Error(`no convergence after the quiet period (leader ${leader?.id ?? 'none'}, busy clients ${busy.join(',') || 'none'}):\n${statuses.join('\n')}`);
  }

  #checkHistory(): void {
    const result = checkLinearizability(kvModel, this.#history, { stepsMax: 2_000_000 });
    if (result.ok === false) throw new Error(describeFailure(result));
    if (result.ok === 'unknown') throw new Error('linearizability check ran out of budget');
  }

  #report(): SimulationReport {
    let lostWrites = 0;
    let tornWrites = 0;
    for (const replica of this.#replicas.values()) {
      lostWrites += replica.disk.lostWrites;
      tornWrites += replica.disk.tornWrites;
    }
    return {
      seed: this.seed,
      events: this.#events,
      operations: this.#history.length,
      completed: this.#clients.reduce((sum, client) => sum + client.completed, 0),
      unknown: this.#clients.reduce((sum, client) => sum + client.unknown, 0),
      elections: this.invariants.elections,
      committed: this.invariants.maxCommitted,
      snapshots: this.invariants.snapshotCount,
      faults: { ...this.#faults },
      messages: { sent: this.#sent, dropped: this.#dropped, duplicated: this.#duplicated },
      messageTypes: { ...this.#messageTypes },
      disk: { lostWrites, tornWrites },
    };
  }
}

function pickWeighted<Kind extends string>(rng: Rng, weights: Readonly<Record<Kind, number>>): Kind {
  const entries = Object.entries(weights) as Array<[Kind, number]>;
  const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = rng.next() * total;
  for (const [kind, weight] of entries) {
    roll -= weight;
    if (roll < 0) return kind;
  }
  return entries[entries.length - 1]![0];
}

function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let index = items.length - 1; index > 0; index -= 1) {
    const other = rng.int(0, index);
    [items[index], items[other]] = [items[other]!, items[index]!];
  }
  return items;
}
