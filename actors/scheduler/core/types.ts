/**
 * The data of the scheduling core: job specs (what a user submits), the cluster's nodes and queues
 * (configuration and observation), job records (what is made durable in the replicated KV), inputs
 * (what the shell feeds the core) and effects (what the core asks the shell and executor to do).
 * Everything is plain JSON data, so a record can be written to the KV and a run replayed.
 */

/** A resource list: `cpu` (millicores), `memory` (MiB) and `gpu/<product>` (whole devices). */
export type ResourceList = Readonly<Record<string, number>>;

/** The GPUs one pod asks for: `count` devices of one of `types` (any of them; all pods of a job get the same type). */
export interface GpuRequest {
  readonly types: readonly string[];
  readonly count: number;
}

/** One homogeneous group of pods of a job (for example 1 launcher, or 8 workers). */
export interface PodSetSpec {
  readonly name: string;
  readonly count: number;
  readonly cpuMilli: number;
  readonly memoryMiB: number;
  readonly gpu?: GpuRequest;
  /** The command a process executor runs for each pod (argv); the core never reads it. */
  readonly command?: readonly string[];
}

/** Where the gang's pods must be together: on one node, or on nodes that share a rack label. */
export type TopologyHint = 'none' | 'sameNode' | 'sameRack';

/** What happens when a pod of the job fails: restart the whole gang (distributed training), or fail the job. */
export type RestartPolicy = 'gang' | 'never';

/** A job as submitted. */
export interface JobSpec {
  readonly tenant: string;
  readonly queue: string;
  readonly priority: number;
  readonly podSets: readonly PodSetSpec[];
  readonly topology: TopologyHint;
  readonly restartPolicy: RestartPolicy;
  /** Gang restarts (after a pod failure or a start timeout) before the job is Failed with RESTARTS_EXHAUSTED. */
  readonly restartsMax: number;
}

/** A job spec as a user may write it: the scheduling fields may be left to their defaults. */
export type JobSpecInput = Omit<JobSpec, 'topology' | 'restartPolicy' | 'restartsMax' | 'priority'> &
  Partial<Pick<JobSpec, 'topology' | 'restartPolicy' | 'restartsMax' | 'priority'>>;

/** A node as the executor observes it. */
export interface NodeSpec {
  readonly name: string;
  /** The rack label's value (`topology.kubernetes.io/zone`-like); nodes without one share the rack ''. */
  readonly rack: string;
  /** The `nvidia.com/gpu.product` label; '' for a node without GPUs. */
  readonly gpuType: string;
  readonly gpuCount: number;
  readonly cpuMilli: number;
  readonly memoryMiB: number;
}

/** A queue (Kueue's ClusterQueue): one tenant's quota, optionally in a cohort whose idle quota it may borrow. */
export interface QueueSpec {
  readonly name: string;
  readonly tenant: string;
  /** Queues of one cohort lend each other unused nominal quota; absent means no borrowing. */
  readonly cohort?: string;
  /** Nominal quota per resource. A resource that is not listed is not limited by this queue. */
  readonly nominal: ResourceList;
  /** How far above nominal the queue may borrow, per resource; an unlisted resource may borrow without limit. */
  readonly borrowingLimit?: ResourceList;
}

/** A tenant's weight in Dominant Resource Fairness (a share counts as share / weight). */
export interface TenantSpec {
  readonly name: string;
  readonly weight: number;
}

/** One pod's place: node, the GPU indices on it, and the resources it holds. */
export interface PodPlacement {
  /** `<podSet>-<index>`, unique within the job. */
  readonly pod: string;
  readonly podSet: string;
  readonly node: string;
  readonly gpuIndices: readonly number[];
  readonly cpuMilli: number;
  readonly memoryMiB: number;
}

/** The phase of one pod of the current attempt, as last reported by the executor. */
export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

/** Why a job is being evicted, and where it goes when its pods are gone. */
export type EvictionReason = 'COMPLETED' | 'PREEMPTED' | 'RECLAIMED' | 'POD_FAILED' | 'NODE_LOST' | 'START_TIMEOUT' | 'CANCELLED';

/** A final reason for Failed or Refused. */
export type FinalReason =
  | 'RESTARTS_EXHAUSTED' | 'POD_FAILED' | 'UNSCHEDULABLE' | 'QUOTA_NEVER_SUFFICIENT' | 'UNKNOWN_QUEUE' | 'QUEUE_TENANT_MISMATCH';

/** The job's lifecycle, a discriminated union on `status`. */
export type JobStatus = 'Pending' | 'Admitted' | 'Running' | 'Evicting' | 'Succeeded' | 'Failed' | 'Refused' | 'Cancelled';

/** A job as the core keeps it and the shell persists it (one record per job in the KV). */
export interface JobRecord {
  readonly id: string;
  readonly key: string;
  readonly seq: number;
  readonly spec: JobSpec;
  /** The canonical text of the spec: what idempotent submission compares. */
  readonly specText: string;
  status: JobStatus;
  /** Increases each time the gang is bound again; executor events carry it, so a stale event is ignored. */
  attempt: number;
  /** Gang restarts consumed (pod failures, start timeouts); node loss and preemption do not consume one. */
  restarts: number;
  submittedAtMs: number;
  /** A requeued job waits until then (backoff). */
  notBeforeMs: number;
  admittedAtMs?: number;
  /** The GPU type chosen for the current attempt ('' when the job has no GPUs). */
  gpuType?: string;
  placements?: PodPlacement[];
  phases?: Record<string, PodPhase>;
  /** While Evicting: why, and whether the job then requeues, fails or is cancelled. */
  eviction?: { readonly reason: EvictionReason; readonly then: 'requeue' | 'fail' | 'cancel'; readonly countsRestart: boolean };
  /** The job whose admission evicted this one; it is not readmitted before that job is admitted. */
  preemptedBy?: string;
  /** The preemptor's attempt when it evicted this job: once the preemptor is admitted again (its attempt moves on), the block is lifted. */
  preemptorAttempt?: number;
  /** This job evicted others to fit; it goes first once they are gone. */
  nominated?: boolean;
  finishedAtMs?: number;
  reason?: FinalReason;
  message?: string;
  /** First admission time, for time-to-admit. */
  firstAdmittedAtMs?: number;
}

/** The core's limits and timings; `resolveConfig` validates them. */
export interface SchedulerConfig {
  readonly queues: readonly QueueSpec[];
  readonly tenants: readonly TenantSpec[];
  /** An admitted gang whose pods are not all Running by then is evicted and requeued (counts a restart). */
  readonly startTimeoutMs: number;
  readonly backoffMsMin: number;
  readonly backoffMsMax: number;
  /** Placement attempts in one scheduling pass; the rest wait for the next pass (the core asks for one). */
  readonly passAttemptsMax: number;
  /** Jobs the core holds (all statuses); a submission beyond it is refused with TOO_MANY_JOBS. */
  readonly jobsMax: number;
  /** Finished jobs kept for describe/idempotency; the oldest finished are forgotten beyond it. */
  readonly finishedJobsMax: number;
  readonly podSetsMax: number;
  readonly podsPerJobMax: number;
  readonly nameLengthMax: number;
}

/** What the shell feeds the core. Every input carries the shell's clock, so the core never reads one. */
export type SchedulerInput =
  | { readonly type: 'submit'; readonly nowMs: number; readonly key: string; readonly spec: JobSpecInput }
  | { readonly type: 'cancel'; readonly nowMs: number; readonly jobId: string }
  | { readonly type: 'nodeUp'; readonly nowMs: number; readonly node: NodeSpec }
  | { readonly type: 'nodeDown'; readonly nowMs: number; readonly node: string }
  | { readonly type: 'nodeRemoved'; readonly nowMs: number; readonly node: string }
  | { readonly type: 'podPhase'; readonly nowMs: number; readonly jobId: string; readonly attempt: number; readonly pod: string; readonly phase: PodPhase; readonly message?: string }
  /**
   * Every pod of the attempt is deleted. `finalPhases` are the phases the pods had when deleted (the
   * executor keeps them for deleted attempts): a gang whose pods had all succeeded is done, even if
   * the control plane missed their completion (it was down when they finished).
   */
  | { readonly type: 'podsGone'; readonly nowMs: number; readonly jobId: string; readonly attempt: number; readonly finalPhases?: Readonly<Record<string, PodPhase>> }
  | { readonly type: 'tick'; readonly nowMs: number };

/** The reply to a submit or cancel. */
export type SubmitReply =
  | { readonly ok: true; readonly jobId: string; readonly existing: boolean; readonly status: JobStatus }
  | { readonly ok: false; readonly code: 'IDEMPOTENCY_CONFLICT'; readonly jobId: string; readonly message: string }
  | { readonly ok: false; readonly code: 'INVALID_SPEC' | 'TOO_MANY_JOBS'; readonly message: string };

/** The reply to a cancel. */
export type CancelReply = { readonly ok: true; readonly status: JobStatus } | { readonly ok: false; readonly code: 'NO_SUCH_JOB'; readonly message: string };

/** What the core asks for. Persist effects come first in each step: a decision is durable before it is acted on. */
export type SchedulerEffect =
  | { readonly type: 'persist'; readonly job: JobRecord }
  | { readonly type: 'forget'; readonly jobId: string; readonly key: string }
  /** Create and bind every pod of the gang (idempotent: pods that exist are left as they are). */
  | { readonly type: 'bind'; readonly jobId: string; readonly attempt: number; readonly spec: JobSpec; readonly placements: readonly PodPlacement[] }
  /** Delete every pod of the attempt; the executor answers with `podsGone` (idempotent). */
  | { readonly type: 'deletePods'; readonly jobId: string; readonly attempt: number; readonly reason: EvictionReason }
  /** Something changed that a scheduling pass may use, or a pass stopped at its attempt limit: tick again soon. */
  | { readonly type: 'passWanted' };

/** The result of one step. */
export interface StepResult {
  readonly effects: SchedulerEffect[];
  readonly reply?: SubmitReply | CancelReply;
}
