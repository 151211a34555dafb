/** The Kubernetes integration test's cluster and workload, shared by the test and its control-plane child process. */
import type { JobSpecInput, NodeSpec, SchedulerConfigInput } from '../../../actors/scheduler/index.js';

export const H100 = 'NVIDIA-H100-80GB-HBM3';
export const A100 = 'NVIDIA-A100-SXM4-80GB';
export const namespace = 'default';

export const kubeNodes: NodeSpec[] = Array.from({ length: 20 }, (_, index) => ({
  name: `gpu-${index}`, rack: `rack-${index % 4}`, gpuType: index < 10 ? H100 : A100, gpuCount: 8, cpuMilli: 96_000, memoryMiB: 1_024 * 1_024,
}));

export const kubeConfigInput: SchedulerConfigInput = {
  queues: ['a', 'b', 'c'].map((tenant) => ({ name: `q${tenant}`, tenant, cohort: 'all', nominal: { [`gpu/${H100}`]: 26, [`gpu/${A100}`]: 26 } })),
  backoffMsMin: 100, backoffMsMax: 1_000, startTimeoutMs: 60_000,
};

/** 15 gangs from 3 tenants; submitted in this order, job `job-<n>` is entry n - 1. */
export function kubeWorkload(): { key: string; spec: JobSpecInput }[] {
  const shapes: [number, number, string[]][] = [[2, 8, [H100]], [4, 2, [A100]], [8, 1, [H100, A100]], [2, 4, [A100]], [1, 8, [H100]]];
  return Array.from({ length: 15 }, (_, index) => {
    const tenant = ['a', 'b', 'c'][index % 3]!;
    const [workers, gpus, types] = shapes[index % shapes.length]!;
    return {
      key: `job-key-${index}`,
      spec: {
        tenant, queue: `q${tenant}`, priority: index % 2, restartsMax: 3,
        podSets: [
          ...(index % 2 === 0 ? [{ name: 'launcher', count: 1, cpuMilli: 500, memoryMiB: 512 }] : []),
          { name: 'worker', count: workers, cpuMilli: 4_000, memoryMiB: 16_384, gpu: { types, count: gpus } },
        ],
      },
    };
  });
}
