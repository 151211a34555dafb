/**
 * The process chaos scenario for Raft: a cluster of real node processes under a client workload
 * while a nemesis kill -9s the leader, isolates it with the partition proxies, and kills and restarts
 * followers, on a seeded schedule. The run is a budget of work, not of wall time: a fixed number of
 * fault rounds, each after the clients have made progress since the last, and a workload that goes on
 * until the minimum of acknowledged operations is reached, so a loaded machine makes the run slower,
 * never weaker. Afterwards everything is healed and restarted, and the run is judged:
 *   - every acknowledged write survives: each client also writes keys nobody else touches (a ledger),
 *     and every acknowledged ledger write must read back with its value;
 *   - the whole history (unknown outcomes included) is linearizable (test/support/linearizability.ts);
 *   - every replica converges to the same state digest at the same applied index.
 */
import { RaftKvClient, type KvTextCommand as KvCommand, type KvOperationRecord, type KvOutcome } from '../../actors/raft/index.js';
import { createRng, type Rng } from '../../runtime/index.js';
import { describe, expect, it } from 'vitest';
import { checkLinearizability, describeFailure, kvModel, type LinearizabilityResult } from './linearizability.js';
import { RaftProcessCluster } from './raft-cluster.js';
import { waitFor } from './wait.js';

/** Knobs of a run. */
export interface ChaosOptions {
  readonly names: readonly string[];
  readonly seed: number;
  /** Faults injected (the first three cover each kind once; later ones are drawn). */
  readonly faultRounds: number;
  /** Acknowledged operations the clients complete before each fault. */
  readonly operationsBetweenFaults: number;
  /** The workload goes on after the last fault until this many operations, and `ledgerMin` ledger writes, are acknowledged. */
  readonly acknowledgedMin: number;
  readonly ledgerMin: number;
  /** Failure bound: the workload stops after this long whatever it reached (the assertions then say what is missing). */
  readonly workloadMsMax: number;
  readonly clients: number;
  readonly snapshotThreshold?: number;
}

/** What a run did and found. */
export interface ChaosReport {
  readonly seed: number;
  readonly operations: number;
  readonly acknowledged: number;
  readonly unknown: number;
  readonly faults: { leaderKills: number; followerKills: number; partitions: number };
  readonly ledgerAcknowledged: number;
  /** Acknowledged ledger writes that did not read back (must be empty). */
  readonly lostWrites: readonly string[];
  readonly linearizability: LinearizabilityResult<KvCommand, unknown>;
  readonly convergedAt: number;
  readonly retries: number;
}

const sharedKeys = ['k0', 'k1', 'k2', 'k3'];
const rangeKeys = ['r/0', 'r/1'];

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the scenario and returns its report; the cluster is always stopped. */
export async function runRaftChaos(options: ChaosOptions): Promise<ChaosReport> {
  const cluster = await RaftProcessCluster.start({ names: options.names, snapshotThreshold: options.snapshotThreshold ?? 200 });
  try {
    await cluster.leader();
    const history: KvOperationRecord[] = [];
    const ledger = new Map<string, { value: string; outcome: KvOutcome }>();
    const clients = Array.from({ length: options.clients }, (_, index) => new RaftKvClient({
      clientId: `chaos-${index}`, replicas: cluster.names, transport: cluster.transport, attemptTimeoutMs: 1_500, giveUpMs: 20_000,
      record: (operation) => history.push(operation),
    }));
    const acknowledged = (): number => history.reduce((count, operation) => count + (operation.output !== undefined ? 1 : 0), 0);
    const ledgerAcknowledgedNow = (): number => [...ledger.values()].reduce((count, entry) => count + (entry.outcome.ok ? 1 : 0), 0);
    let faulting = true;
    const stopAt = Date.now() + options.workloadMsMax;
    const running = (): boolean => Date.now() < stopAt && (faulting || acknowledged() < options.acknowledgedMin || ledgerAcknowledgedNow() < options.ledgerMin);
    const workload = clients.map((client, index) => runClient(client, createRng(options.seed * 31 + index), running, ledger));
    let faults: ChaosReport['faults'];
    try {
      faults = await nemesis(cluster, createRng(options.seed), { rounds: options.faultRounds, progress: acknowledged, operationsBetween: options.operationsBetweenFaults });
    } finally {
      faulting = false;
    }
    await Promise.all(workload);
    for (const name of cluster.names) if (!cluster.isRunning(name)) await cluster.restart(name);
    await cluster.leader();
    const converged = await cluster.converged();
    const checker = new RaftKvClient({ clientId: 'checker', replicas: cluster.names, transport: cluster.transport, record: (operation) => history.push(operation) });
    for (const key of [...sharedKeys, ...rangeKeys]) await checker.get(key);
    const lostWrites: string[] = [];
    let ledgerAcknowledged = 0;
    for (const [key, { value, outcome }] of ledger) {
      if (!outcome.ok) continue;
      ledgerAcknowledged += 1;
      const read = await checker.get(key, 'readIndex');
      if (!(read.ok && read.type === 'get' && read.value === value)) lostWrites.push(`${key}=${value} read ${JSON.stringify(read)}`);
    }
    const contended = history.filter((operation) => !('key' in operation.input && operation.input.key.startsWith('ledger/')));
    return {
      seed: options.seed,
      operations: history.length,
      acknowledged: history.filter((operation) => operation.output !== undefined).length,
      unknown: history.filter((operation) => operation.output === undefined).length,
      faults,
      ledgerAcknowledged,
      lostWrites,
      linearizability: checkLinearizability(kvModel, contended, { stepsMax: 3_000_000 }) as LinearizabilityResult<KvCommand, unknown>,
      convergedAt: converged.appliedIndex,
      retries: clients.reduce((sum, client) => sum + client.retries, 0),
    };
  } finally {
    await cluster.stop();
  }
}

/** One client's sequential workload until `running()` turns false. */
async function runClient(client: RaftKvClient, rng: Rng, running: () => boolean, ledger: Map<string, { value: string; outcome: KvOutcome }>): Promise<void> {
  let counter = 0;
  const seen = new Map<string, string | null>();
  while (running()) {
    counter += 1;
    const value = `${client.clientId}:${counter}`;
    const key = sharedKeys[rng.int(0, sharedKeys.length - 1)]!;
    const roll = rng.next();
    if (roll < 0.25) {
      const ledgerKey = `ledger/${client.clientId}/${counter}`;
      ledger.set(ledgerKey, { value, outcome: await client.put(ledgerKey, value) });
    } else if (roll < 0.45) {
      await client.put(key, value);
    } else if (roll < 0.6) {
      const outcome = await client.cas(key, seen.get(key) ?? null, value);
      if (outcome.ok && outcome.type === 'cas') seen.set(key, outcome.current);
    } else if (roll < 0.75) {
      const outcome = await client.get(key, rng.next() < 0.8 ? 'readIndex' : 'log');
      if (outcome.ok && outcome.type === 'get') seen.set(key, outcome.value);
    } else if (roll < 0.8) {
      await client.delete(key);
    } else if (roll < 0.9) {
      await client.put(rangeKeys[rng.int(0, rangeKeys.length - 1)]!, value);
    } else {
      await client.scan('r/', 'r0', 10, rng.next() < 0.8 ? 'readIndex' : 'log');
    }
  }
}

/**
 * Injects `rounds` faults, each once the clients have acknowledged `operationsBetween` more operations
 * (so every fault lands on a cluster doing work, however slow the machine); always leaves every node
 * running and connected. The pauses are the faults' own lengths (how long a node stays dead or cut
 * off), drawn from the seed, not waits for anything.
 */
export async function nemesis(cluster: RaftProcessCluster, rng: Rng, plan: { rounds: number; progress: () => number; operationsBetween: number; progressTimeoutMs?: number }): Promise<ChaosReport['faults']> {
  const faults = { leaderKills: 0, followerKills: 0, partitions: 0 };
  for (let round = 0; round < plan.rounds; round += 1) {
    const mark = plan.progress();
    await waitFor(() => plan.progress() >= mark + plan.operationsBetween, { timeoutMs: plan.progressTimeoutMs ?? 120_000, intervalMs: 50, what: `${plan.operationsBetween} acknowledged operations before fault ${round + 1}` });
    const leader = await cluster.leader(undefined, 60_000);
    // The first rounds cover each kind of fault once; later ones are drawn.
    const action = round < 3 ? round : rng.int(0, 2);
    if (action === 0) {
      await cluster.kill(leader);
      faults.leaderKills += 1;
      await pause(rng.int(500, 2_000));
      await cluster.restart(leader);
    } else if (action === 1) {
      cluster.proxies.isolate(leader);
      faults.partitions += 1;
      await pause(rng.int(1_500, 3_500));
      cluster.proxies.heal();
    } else {
      const followers = cluster.names.filter((name) => name !== leader);
      const victim = followers[rng.int(0, followers.length - 1)]!;
      await cluster.kill(victim);
      faults.followerKills += 1;
      await pause(rng.int(500, 2_000));
      await cluster.restart(victim);
    }
  }
  return faults;
}

/**
 * The process-chaos suite for a cluster of `names`: a client workload while the leader is kill -9ed,
 * isolated by a partition proxy and restarted, and followers are killed and restarted. Every
 * acknowledged write survives, the history is linearizable, and the replicas converge.
 * SEED=... replays a schedule (`defaultSeed` otherwise).
 */
export function describeRaftChaos(names: readonly string[], defaultSeed: number): void {
  const seed = Number(process.env.SEED ?? defaultSeed);
  describe(`raft chaos, ${names.length} node processes`, () => {
    it(`keeps every acknowledged write and stays linearizable through leader kills and partitions (seed ${seed})`, async () => {
      const report = await runRaftChaos({ names, seed, faultRounds: 5, operationsBetweenFaults: 25, acknowledgedMin: 150, ledgerMin: 30, workloadMsMax: 240_000, clients: 4 });
      console.log(`raft chaos ${names.length} nodes: ${JSON.stringify({ ...report, linearizability: report.linearizability.ok })}`);
      expect(report.faults.leaderKills).toBeGreaterThanOrEqual(1);
      expect(report.faults.partitions).toBeGreaterThanOrEqual(1);
      expect(report.faults.followerKills).toBeGreaterThanOrEqual(1);
      expect(report.lostWrites).toEqual([]);
      expect(report.ledgerAcknowledged).toBeGreaterThan(20);
      expect(report.acknowledged).toBeGreaterThan(100);
      expect(report.linearizability.ok, `seed ${seed}: ${describeFailure(report.linearizability)}`).toBe(true);
    }, 480_000);
  });
}

