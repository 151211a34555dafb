/** The pure GPU gang-scheduling core: specs, placement, quotas and DRF, preemption, the step machine and recovery. */
export { resolveConfig, schedulerDefaults, type SchedulerConfigInput } from './config.js';
export { nextWakeMs, recover, step, type ObservedNode } from './machine.js';
export { Inventory, type NodeState } from './placement.js';
export { QuotaBook } from './quota.js';
export { canonicalText, gpuChoices, jobRequest, podCount, resolveSpec } from './spec.js';
export { checkInvariants, emptyState, type SchedulerState } from './state.js';
export type {
  CancelReply, EvictionReason, FinalReason, GpuRequest, JobRecord, JobSpec, JobSpecInput, JobStatus, NodeSpec, PodPhase, PodPlacement, PodSetSpec,
  QueueSpec, ResourceList, RestartPolicy, SchedulerConfig, SchedulerEffect, SchedulerInput, StepResult, SubmitReply, TenantSpec, TopologyHint,
} from './types.js';
