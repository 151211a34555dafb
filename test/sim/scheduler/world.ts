/**
 * A seeded simulation of the scheduling core against a simulated cluster: thousands of gang
 * submissions (with client retries and conflicting reuse of keys), pod starts, completions and
 * failures, node losses and removals, and control-plane crashes at any point between two effects
 * (a bind cut half way included), each followed by recovery from the persisted job records and a
 * resync of every pod's phase.
 *
 * The simulated executor is the ground truth the invariants are checked against:
 *  - no partial gang: outside a crash window, every attempt with bound pods has all of them; an attempt
 *    a crash cut short is completed or deleted by the recovery's own effects;
 *  - no GPU held by two live pods on one node;
 *  - quotas: the core's checks (nominal + borrowing limit per queue, nominal sum per cohort) after every step;
 *  - liveness: after the faults stop, every job ends Succeeded, or Failed/Refused with a reason, and
 *    every Succeeded job completed exactly one attempt.
 */
import {
  checkInvariants, emptyState, nextWakeMs, podCount, recover, resolveConfig, step, type JobRecord, type JobSpecInput, type NodeSpec, type PodPhase,
  type SchedulerConfig, type SchedulerEffect, type SchedulerInput, type SchedulerState,
} from '../../../actors/scheduler/index.js';
import { createRng, type Rng } from '../../../runtime/rng.js';

export const H100 = 'NVIDIA-H100-80GB-HBM3';
export const A100 = 'NVIDIA-A100-SXM4-40GB';

interface SimPod {
  readonly jobId: string;
  readonly attempt: number;
  readonly pod: string;
  readonly node: string;
  readonly gpuIndices: readonly number[];
  phase: PodPhase;
}

interface Event {
  readonly atMs: number;
  readonly order: number;
  readonly run: () => void;
}

/** What one run did, for the report and for coverage assertions. */
export interface WorldReport {
  seed: number;
  submissions: number;
  jobs: number;
  succeeded: number;
  failed: number;
  refused: number;
  crashes: number;
  cutBinds: number;
  nodeLosses: number;
  evictions: Record<string, number>;
  conflicts: number;
  steps: number;
}

/** Shape of one run. */
export interface WorldOptions {
  readonly seed: number;
  readonly jobs: number;
  readonly nodes: number;
  readonly crashProbability: number;
  readonly nodeLossProbability: number;
  readonly podFailureProbability: number;
}

export class World {
  readonly rng: Rng;
  private readonly events: Event[] = [];
  private order = 0;
  nowMs = 0;
  readonly config: SchedulerConfig;
  core: SchedulerState | undefined;
  readonly kv = new Map<string, string>();
  readonly nodes = new Map<string, { spec: NodeSpec; up: boolean; removed: boolean }>();
  readonly pods = new Map<string, SimPod>();
  /** Bound pod names per `<jobId>#<attempt>`, ever created. */
  readonly bound = new Map<string, Set<string>>();
  readonly gangSize = new Map<string, number>();
  readonly deleting = new Set<string>();
  readonly tombstones = new Map<string, Record<string, PodPhase>>();
  /** `<node>:<gpu index>` -> the live pod holding it. */
  readonly gpuHolders = new Map<string, string>();
  /** `<jobId>#<attempt>` whose every pod succeeded. */
  readonly completedAttempts = new Map<string, number>();
  readonly submitted = new Map<string, { spec: JobSpecInput; jobId?: string }>();
  readonly report: WorldReport;
  /** Chance of a crash before each effect; set to 0 when the faults stop. */
  crashProbability: number;
  private tickQueued = false;
  private readonly wakes = new Set<number>();

  constructor(readonly options: WorldOptions) {
    this.rng = createRng(options.seed);
    this.crashProbability = options.crashProbability;
    this.report = { seed: options.seed, submissions: 0, jobs: 0, succeeded: 0, failed: 0, refused: 0, crashes: 0, cutBinds: 0, nodeLosses: 0, evictions: {}, conflicts: 0, steps: 0 };
    this.config = resolveConfig({
      queues: [
        { name: 'qa', tenant: 'a', cohort: 'all', nominal: { [`gpu/${H100}`]: options.nodes, [`gpu/${A100}`]: options.nodes } },
        { name: 'qb', tenant: 'b', cohort: 'all', nominal: { [`gpu/${H100}`]: options.nodes, [`gpu/${A100}`]: options.nodes }, borrowingLimit: { [`gpu/${H100}`]: options.nodes / 2 } },
        { name: 'qc', tenant: 'c', cohort: 'all', nominal: { [`gpu/${H100}`]: options.nodes, [`gpu/${A100}`]: options.nodes } },
        { name: 'qd', tenant: 'c', nominal: { [`gpu/${A100}`]: 16 } },
      ],
      tenants: [{ name: 'a', weight: 1 }, { name: 'b', weight: 1 }, { name: 'c', weight: 2 }],
      startTimeoutMs: 60_000, backoffMsMin: 1_000, backoffMsMax: 16_000, passAttemptsMax: 200, finishedJobsMax: 1_000_000,
    });
    this.core = emptyState(this.config);
    for (let index = 0; index < options.nodes; index += 1) {
      const type = index % 2 === 0 ? H100 : A100;
      const spec: NodeSpec = { name: `n${index}`, rack: `r${index % 4}`, gpuType: type, gpuCount: 8, cpuMilli: 96_000, memoryMiB: 1_024 * 1_024 };
      this.nodes.set(spec.name, { spec, up: true, removed: false });
      this.deliver({ type: 'nodeUp', nowMs: 0, node: spec });
    }
    this.nodes.set('cpu0', { spec: { name: 'cpu0', rack: 'r0', gpuType: '', gpuCount: 0, cpuMilli: 64_000, memoryMiB: 256 * 1_024 }, up: true, removed: false });
    this.deliver({ type: 'nodeUp', nowMs: 0, node: this.nodes.get('cpu0')!.spec });
  }

  at(delayMs: number, run: () => void): void {
    const event = { atMs: this.nowMs + Math.max(0, Math.round(delayMs)), order: this.order++, run };
    // Binary insertion keeps events ordered by (time, order).
    let low = 0;
    let high = this.events.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      const other = this.events[middle]!;
      if (other.atMs < event.atMs || (other.atMs === event.atMs && other.order < event.order)) low = middle + 1;
      else high = middle;
    }
    this.events.splice(low, 0, event);
  }

  /** Runs events until none are left or `stepsMax` have run. */
  runUntilIdle(stepsMax: number): boolean {
    let steps = 0;
    while (this.events.length > 0) {
      if (steps++ >= stepsMax) return false;
      const event = this.events.shift()!;
      this.nowMs = event.atMs;
      event.run();
    }
    return true;
  }

  /** One input to the control plane (lost while it is down), its effects executed one by one; a crash may cut them. */
  deliver(input: SchedulerInput): ReturnType<typeof step>['reply'] {
    if (this.core === undefined) return undefined;
    const result = step(this.core, input);
    this.report.steps += 1;
    checkInvariants(this.core);
    this.execute(result.effects, true);
    if (this.core === undefined) return undefined;
    // The shell's timer: the core's next deadline (backoff end, start timeout) gets a tick.
    const wakeMs = nextWakeMs(this.core);
    if (wakeMs !== undefined && wakeMs > this.nowMs && !this.wakes.has(wakeMs)) {
      this.wakes.add(wakeMs);
      this.at(wakeMs - this.nowMs, () => {
        this.wakes.delete(wakeMs);
        this.deliver({ type: 'tick', nowMs: this.nowMs });
      });
    }
    // A reply goes out only after the step's records are persisted: a crash before that loses it.
    return result.reply;
  }

  private execute(effects: readonly SchedulerEffect[], mayCrash: boolean): void {
    for (const effect of effects) {
      if (mayCrash && this.rng.next() < this.crashProbability) return this.crash();
      this.apply(effect, mayCrash);
      if (this.core === undefined) return;
    }
  }

  private apply(effect: SchedulerEffect, mayCrash: boolean): void {
    switch (effect.type) {
      case 'persist': this.kv.set(effect.job.id, JSON.stringify(effect.job)); break;
      case 'forget': this.kv.delete(effect.jobId); break;
      case 'passWanted': this.queueTick(); break;
      case 'bind': {
        const attemptKey = `${effect.jobId}#${effect.attempt}`;
        this.gangSize.set(attemptKey, effect.placements.length);
        for (const placement of effect.placements) {
          const key = `${attemptKey}/${placement.pod}`;
          if (this.pods.has(key) || this.bound.get(attemptKey)?.has(placement.pod)) continue;
          if (mayCrash && this.rng.next() < this.crashProbability * 2) {
            this.report.cutBinds += 1;
            return this.crash();
          }
          const node = this.nodes.get(placement.node);
          let set = this.bound.get(attemptKey);
          if (set === undefined) this.bound.set(attemptKey, (set = new Set()));
          set.add(placement.pod);
          // A pod bound to a node that is down never starts; it is simply lost with the node.
          if (node === undefined || !node.up) continue;
          const pod: SimPod = { jobId: effect.jobId, attempt: effect.attempt, pod: placement.pod, node: placement.node, gpuIndices: placement.gpuIndices, phase: 'Pending' };
          this.pods.set(key, pod);
          this.holdGpus(key, pod);
          this.schedulePod(key, pod);
        }
        this.checkGang(attemptKey);
        break;
      }
      case 'deletePods': {
        const attemptKey = `${effect.jobId}#${effect.attempt}`;
        this.deleting.add(attemptKey);
        this.report.evictions[effect.reason] = (this.report.evictions[effect.reason] ?? 0) + 1;
        this.at(this.rng.int(10, 2_000), () => {
          // The executor keeps the phases its deleted pods ended with, and answers with them every time.
          const finalPhases = this.tombstones.get(attemptKey) ?? {};
          for (const pod of this.bound.get(attemptKey) ?? []) {
            const live = this.pods.get(`${attemptKey}/${pod}`);
            if (live !== undefined) finalPhases[pod] = live.phase;
            this.removePod(`${attemptKey}/${pod}`);
          }
          this.tombstones.set(attemptKey, finalPhases);
          this.deliver({ type: 'podsGone', nowMs: this.nowMs, jobId: effect.jobId, attempt: effect.attempt, finalPhases });
        });
        break;
      }
      default: throw new Error(`unknown effect ${(effect as { type: string }).type}`);
    }
  }

  private schedulePod(key: string, pod: SimPod): void {
    const startMs = this.rng.int(100, 3_000);
    // A pod's run time comes from its job, so the gang's pods finish at about the same time.
    const jobHash = Number.parseInt(pod.jobId.slice(4), 10);
    const runMs = 5_000 + ((jobHash * 7919) % 40_000) + this.rng.int(0, 500);
    const fails = this.rng.next() < this.options.podFailureProbability;
    this.at(startMs, () => this.setPhase(key, 'Running'));
    this.at(startMs + (fails ? runMs / 3 : runMs), () => this.setPhase(key, fails ? 'Failed' : 'Succeeded'));
  }

  private setPhase(key: string, phase: PodPhase): void {
    const pod = this.pods.get(key);
    if (pod === undefined || pod.phase === 'Succeeded' || pod.phase === 'Failed') return;
    pod.phase = phase;
    if (phase === 'Succeeded' || phase === 'Failed') this.freeGpus(key, pod);
    if (phase === 'Succeeded') {
      const attemptKey = `${pod.jobId}#${pod.attempt}`;
      const all = [...(this.bound.get(attemptKey) ?? [])].map((name) => this.pods.get(`${attemptKey}/${name}`));
      if (all.length === this.gangSize.get(attemptKey) && all.every((other) => other?.phase === 'Succeeded')) {
        this.completedAttempts.set(pod.jobId, (this.completedAttempts.get(pod.jobId) ?? 0) + 1);
      }
    }
    this.deliver({ type: 'podPhase', nowMs: this.nowMs, jobId: pod.jobId, attempt: pod.attempt, pod: pod.pod, phase });
  }

  queueTick(): void {
    if (this.tickQueued) return;
    this.tickQueued = true;
    this.at(this.rng.int(1, 200), () => {
      this.tickQueued = false;
      this.deliver({ type: 'tick', nowMs: this.nowMs });
    });
  }

  /** The control plane dies: its memory is gone; inputs are lost until it restarts from the KV. */
  crash(): void {
    this.core = undefined;
    this.report.crashes += 1;
    this.tickQueued = false;
    this.at(this.rng.int(100, 5_000), () => this.restart());
  }

  private restart(): void {
    const records = [...this.kv.values()].map((text) => JSON.parse(text) as JobRecord);
    const nodes = [...this.nodes.values()].filter((node) => !node.removed).map((node) => ({ spec: node.spec, ready: node.up }));
    const recovered = recover(this.config, records, nodes);
    this.core = recovered.state;
    checkInvariants(this.core);
    this.execute(recovered.effects, false);
    this.checkWorld();
    // The executor's informers resync: every pod's current phase is reported again.
    for (const pod of [...this.pods.values()]) {
      this.deliver({ type: 'podPhase', nowMs: this.nowMs, jobId: pod.jobId, attempt: pod.attempt, pod: pod.pod, phase: pod.phase });
    }
    this.queueTick();
    this.at(1_000, () => this.deliver({ type: 'tick', nowMs: this.nowMs }));
  }

  /** A live pod takes its GPUs: a GPU already held by another live pod on the node is a double allocation. */
  private holdGpus(key: string, pod: SimPod): void {
    for (const index of pod.gpuIndices) {
      const slot = `${pod.node}:${index}`;
      const other = this.gpuHolders.get(slot);
      if (other !== undefined) throw new Error(`GPU ${slot} is given to ${key} while live pod ${other} holds it`);
      this.gpuHolders.set(slot, key);
    }
  }

  private freeGpus(key: string, pod: SimPod): void {
    for (const index of pod.gpuIndices) {
      const slot = `${pod.node}:${index}`;
      if (this.gpuHolders.get(slot) === key) this.gpuHolders.delete(slot);
    }
  }

  private removePod(key: string): void {
    const pod = this.pods.get(key);
    if (pod === undefined) return;
    this.freeGpus(key, pod);
    this.pods.delete(key);
  }

  /** After a bind ran to its end, the attempt has every pod of its gang bound. */
  private checkGang(attemptKey: string): void {
    const pods = this.bound.get(attemptKey)?.size ?? 0;
    if (pods !== this.gangSize.get(attemptKey) && !this.deleting.has(attemptKey)) {
      throw new Error(`partial gang: ${attemptKey} has ${pods} of ${this.gangSize.get(attemptKey)} pods bound and is not being deleted`);
    }
  }

  /** Ground-truth check after a recovery ran its effects: no gang a crash cut short is left partial. */
  checkWorld(): void {
    for (const attemptKey of this.bound.keys()) this.checkGang(attemptKey);
  }

  /** A random gang job for tenant a, b or c. */
  randomSpec(): JobSpecInput {
    const roll = this.rng.next();
    const tenant = ['a', 'b', 'c'][this.rng.int(0, 2)]!;
    const queue = tenant === 'c' && this.rng.next() < 0.2 ? 'qd' : `q${tenant}`;
    const types = roll < 0.4 ? [H100] : roll < 0.7 ? [A100] : [A100, H100];
    const shape = this.rng.int(0, 5);
    const priority = this.rng.int(0, 3) * 10;
    const topology = this.rng.next() < 0.15 ? 'sameRack' as const : this.rng.next() < 0.1 ? 'sameNode' as const : 'none' as const;
    const workers = [1, 2, 4, 8, 2, 16][shape]!;
    const gpus = [1, 4, 8, 2, 8, 8][shape]!;
    const launcher = this.rng.next() < 0.5 ? [{ name: 'launcher', count: 1, cpuMilli: 500, memoryMiB: 512 }] : [];
    return {
      tenant, queue, priority, topology, restartsMax: this.rng.int(0, 3),
      podSets: [...launcher, { name: 'worker', count: workers, cpuMilli: 2_000, memoryMiB: 16_384, gpu: { types, count: gpus } }],
    };
  }

  /** A client submits (and retries while the control plane is down or by chance), checking idempotency. */
  submit(key: string, spec: JobSpecInput, retry = 0): void {
    this.report.submissions += 1;
    const reply = this.deliver({ type: 'submit', nowMs: this.nowMs, key, spec });
    const entry = this.submitted.get(key) ?? { spec };
    this.submitted.set(key, entry);
    if (reply === undefined) {
      if (retry > 50) throw new Error(`submission ${key} never got a reply`);
      this.at(this.rng.int(500, 3_000), () => this.submit(key, spec, retry + 1));
      return;
    }
    if (!reply.ok) throw new Error(`submission ${key} refused: ${JSON.stringify(reply)}`);
    if (!('jobId' in reply)) throw new Error('a submit reply without a job id');
    if (entry.jobId !== undefined && entry.jobId !== reply.jobId) throw new Error(`key ${key} gave ${entry.jobId} then ${reply.jobId}`);
    entry.jobId = reply.jobId;
    if (this.rng.next() < 0.05) this.at(this.rng.int(0, 10_000), () => this.submit(key, spec, retry + 1));
    if (this.rng.next() < 0.02) this.at(this.rng.int(0, 10_000), () => this.conflict(key, spec));
  }

  private conflict(key: string, spec: JobSpecInput): void {
    const changed = { ...spec, priority: (spec.priority ?? 0) + 1 };
    const reply = this.deliver({ type: 'submit', nowMs: this.nowMs, key, spec: changed });
    if (reply === undefined) return;
    if (reply.ok || reply.code !== 'IDEMPOTENCY_CONFLICT') throw new Error(`reusing key ${key} with another spec gave ${JSON.stringify(reply)}`);
    this.report.conflicts += 1;
  }

  /** A node is lost for a while (or removed and later added back empty). */
  loseNode(): void {
    const candidates = [...this.nodes.values()].filter((node) => node.up && node.spec.gpuCount > 0);
    if (candidates.length <= 2) return;
    const node = candidates[this.rng.int(0, candidates.length - 1)]!;
    const removed = this.rng.next() < 0.3;
    node.up = false;
    node.removed = removed;
    this.report.nodeLosses += 1;
    // The live pods on a lost node die with it; finished pods stay as records (as API objects do).
    for (const [key, pod] of [...this.pods]) if (pod.node === node.spec.name && pod.phase !== 'Succeeded' && pod.phase !== 'Failed') this.removePod(key);
    this.deliver(removed ? { type: 'nodeRemoved', nowMs: this.nowMs, node: node.spec.name } : { type: 'nodeDown', nowMs: this.nowMs, node: node.spec.name });
    this.at(this.rng.int(2_000, 60_000), () => {
      node.up = true;
      node.removed = false;
      this.deliver({ type: 'nodeUp', nowMs: this.nowMs, node: node.spec });
    });
  }

  /** Re-announces every node (what an informer's relist does), so a restarted core learns of nodes it missed. */
  resyncNodes(): void {
    for (const node of this.nodes.values()) {
      if (node.up) this.deliver({ type: 'nodeUp', nowMs: this.nowMs, node: node.spec });
    }
  }

  /** Final checks once the faults have stopped and the world is idle. */
  checkOutcome(): void {
    if (this.core === undefined) throw new Error('the control plane is down at the end');
    for (const [key, entry] of this.submitted) {
      if (entry.jobId === undefined) throw new Error(`submission ${key} never got a job`);
      const job = this.core.jobs.get(entry.jobId);
      if (job === undefined) throw new Error(`job ${entry.jobId} was lost`);
      if (job.status === 'Succeeded') {
        this.report.succeeded += 1;
        const completions = this.completedAttempts.get(job.id) ?? 0;
        if (completions !== 1) throw new Error(`job ${job.id} completed ${completions} times`);
      } else if (job.status === 'Failed' || job.status === 'Refused') {
        if (job.reason === undefined) throw new Error(`job ${job.id} is ${job.status} without a reason`);
        if (job.status === 'Failed') this.report.failed += 1;
        else this.report.refused += 1;
      } else {
        throw new Error(`job ${job.id} ended ${job.status} (attempt ${job.attempt}, ${podCount(job.spec)} pods, ${job.message ?? ''})`);
      }
    }
    this.report.jobs = this.core.jobs.size;
  }
}

/** Runs one seeded chaos scenario end to end and returns its report; throws (naming the seed) on a violation. */
export function runWorld(options: WorldOptions): WorldReport {
  const world = new World(options);
  try {
    // About 85% of the GPU capacity is asked for on average (mean gang of about 33 GPUs for about 25 s on 320 GPUs).
    const arrivalMsMean = 3_000;
    let arrivalMs = 0;
    for (let index = 0; index < options.jobs; index += 1) {
      const key = `sub-${index}`;
      const spec = world.randomSpec();
      world.at(arrivalMs, () => world.submit(key, spec));
      arrivalMs += world.rng.int(0, 2 * arrivalMsMean);
    }
    const faultsEndMs = arrivalMs;
    for (let time = 0; time < faultsEndMs; time += world.rng.int(10_000, 40_000)) {
      world.at(time, () => { if (world.rng.next() < options.nodeLossProbability) world.loseNode(); });
      world.at(time + 1, () => { if (world.core !== undefined && world.rng.next() < world.crashProbability * 20) world.crash(); });
    }
    // Faults stop: no more crashes once the last scheduled one has restarted.
    world.at(faultsEndMs + 1, () => { world.crashProbability = 0; });
    for (let time = 10_000; time < faultsEndMs * 4; time += 10_000) world.at(time, () => { world.resyncNodes(); world.queueTick(); });
    if (!world.runUntilIdle(5_000_000)) throw new Error('the simulation did not settle within its step budget');
    world.checkOutcome();
    return world.report;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`scheduler simulation failed with SEED=${options.seed} at ${world.nowMs} ms: ${message}`, { cause: error });
  }
}
