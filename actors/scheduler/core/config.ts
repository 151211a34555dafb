/** The core's configuration: defaults and validation (a bad configuration is a programmer error at start-up). */
import { InvalidArgumentError } from '../../../runtime/index.js';
import type { QueueSpec, SchedulerConfig, TenantSpec } from './types.js';

/** Defaults for every limit and timing; `queues` and `tenants` have none. */
export const schedulerDefaults = {
  startTimeoutMs: 120_000,
  backoffMsMin: 1_000,
  backoffMsMax: 60_000,
  passAttemptsMax: 2_000,
  jobsMax: 100_000,
  finishedJobsMax: 10_000,
  podSetsMax: 16,
  podsPerJobMax: 4_096,
  nameLengthMax: 63,
} as const;

/** A configuration as a user writes it: queues are required, everything else has a default. */
export type SchedulerConfigInput = { readonly queues: readonly QueueSpec[]; readonly tenants?: readonly TenantSpec[] } & Partial<Omit<SchedulerConfig, 'queues' | 'tenants'>>;

/** Fills defaults and checks the configuration; throws INVALID_ARGUMENT naming the first problem. */
export function resolveConfig(input: SchedulerConfigInput): SchedulerConfig {
  const config: SchedulerConfig = { ...schedulerDefaults, ...input, tenants: input.tenants ?? [] };
  for (const key of Object.keys(schedulerDefaults) as (keyof typeof schedulerDefaults)[]) {
    const value = config[key];
    if (!Number.isSafeInteger(value) || value <= 0) throw new InvalidArgumentError(`scheduler config ${key} must be a positive integer`, { value });
  }
  if (config.backoffMsMin > config.backoffMsMax) throw new InvalidArgumentError('backoffMsMin must not exceed backoffMsMax');
  const names = new Set<string>();
  for (const queue of config.queues) {
    if (names.has(queue.name)) throw new InvalidArgumentError(`queue ${queue.name} is defined twice`);
    names.add(queue.name);
    for (const [resource, amount] of [...Object.entries(queue.nominal), ...Object.entries(queue.borrowingLimit ?? {})]) {
      if (!Number.isFinite(amount) || amount < 0) throw new InvalidArgumentError(`queue ${queue.name}: ${resource} must be a non-negative number`);
    }
  }
  for (const tenant of config.tenants) {
    if (!(tenant.weight > 0)) throw new InvalidArgumentError(`tenant ${tenant.name}: weight must be positive`);
  }
  return config;
}
