/**
 * The scheduler component's public surface: the pure gang-scheduling core (jobs, nodes, queues,
 * quotas and DRF, preemption, recovery), the GPU discovery parser, the executors and the control
 * plane that runs the core.
 */
export {
  checkInvariants, emptyState, gpuChoices, jobRequest, nextWakeMs, podCount, recover, resolveConfig, resolveSpec, schedulerDefaults, step, canonicalText,
  Inventory, QuotaBook,
  type CancelReply, type EvictionReason, type FinalReason, type GpuRequest, type JobRecord, type JobSpec, type JobSpecInput, type JobStatus, type NodeSpec,
  type NodeState, type ObservedNode, type PodPhase, type PodPlacement, type PodSetSpec, type QueueSpec, type ResourceList, type RestartPolicy, type SchedulerConfig,
  type SchedulerConfigInput, type SchedulerEffect, type SchedulerInput, type SchedulerState, type StepResult, type SubmitReply, type TenantSpec, type TopologyHint,
} from './core/index.js';
export {
  discoverGpus, GpuDiscoveryError, gpuProduct, gpusMax, parseGpuQueryCsv, parseNvidiaSmiXml, queryFields, reportBytesMax, summarizeGpus, type GpuDevice,
} from './gpu-discovery.js';
export { LocalExecutor, type ExecutorReport, type LocalExecutorOptions } from './local-executor.js';
export { MemoryJobStore, SchedulerHost, type Executor, type JobStore, type SchedulerHostOptions } from './host.js';
export { schedulerMetricsText, schedulerStatus, type QueueStatus, type SchedulerStatus } from './metrics.js';
export { KubernetesExecutor, podName, type KubernetesExecutorOptions } from './k8s.js';
export { JobStoreError, KvJobStore, type KvTextClient } from './kv-store.js';
