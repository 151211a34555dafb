/**
 * Job specs: validation with bounds (a spec arrives from the network), defaults, the canonical text
 * that idempotent submission compares, and the resources a job asks for once its GPU type is chosen.
 */
import type { JobSpec, JobSpecInput, PodSetSpec, ResourceList, SchedulerConfig } from './types.js';

const namePattern = /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/i;
const gpuTypePattern = /^[A-Za-z0-9][A-Za-z0-9._ -]*$/;
/** Largest per-pod request accepted for one resource (GPUs per pod, millicores, MiB). */
const podGpusMax = 64;
const podCpuMilliMax = 1_000_000;
const podMemoryMiBMax = 64 * 1024 * 1024;
const priorityAbsMax = 1_000_000_000;
const commandPartsMax = 64;
const commandPartLengthMax = 4_096;

/** A spec with defaults filled, or why it is refused (INVALID_SPEC). */
export function resolveSpec(input: unknown, config: SchedulerConfig): { ok: true; spec: JobSpec } | { ok: false; message: string } {
  if (!isRecord(input)) return { ok: false, message: 'spec must be an object' };
  const known = new Set(['tenant', 'queue', 'priority', 'podSets', 'topology', 'restartPolicy', 'restartsMax']);
  for (const key of Object.keys(input)) if (!known.has(key)) return { ok: false, message: `unknown field ${key}` };
  const tenant = checkName(input.tenant, 'tenant', config);
  if (tenant !== undefined) return { ok: false, message: tenant };
  const queue = checkName(input.queue, 'queue', config);
  if (queue !== undefined) return { ok: false, message: queue };
  const priority = input.priority ?? 0;
  if (!Number.isSafeInteger(priority) || Math.abs(priority as number) > priorityAbsMax) return { ok: false, message: 'priority must be an integer' };
  const topology = input.topology ?? 'none';
  if (topology !== 'none' && topology !== 'sameNode' && topology !== 'sameRack') return { ok: false, message: 'topology must be none, sameNode or sameRack' };
  const restartPolicy = input.restartPolicy ?? 'gang';
  if (restartPolicy !== 'gang' && restartPolicy !== 'never') return { ok: false, message: 'restartPolicy must be gang or never' };
  const restartsMax = input.restartsMax ?? 3;
  if (!Number.isSafeInteger(restartsMax) || (restartsMax as number) < 0 || (restartsMax as number) > 1_000) return { ok: false, message: 'restartsMax must be an integer in [0, 1000]' };
  if (!Array.isArray(input.podSets) || input.podSets.length === 0 || input.podSets.length > config.podSetsMax) {
    return { ok: false, message: `podSets must list 1 to ${config.podSetsMax} pod sets` };
  }
  const podSets: PodSetSpec[] = [];
  const names = new Set<string>();
  let pods = 0;
  let gpuTypes: string | undefined;
  for (const raw of input.podSets as unknown[]) {
    const checked = checkPodSet(raw, config);
    if (typeof checked === 'string') return { ok: false, message: checked };
    if (names.has(checked.name)) return { ok: false, message: `pod set ${checked.name} is listed twice` };
    names.add(checked.name);
    pods += checked.count;
    if (checked.gpu !== undefined) {
      const types = checked.gpu.types.join('\n');
      if (gpuTypes !== undefined && gpuTypes !== types) return { ok: false, message: 'every pod set of a job must ask for the same GPU types' };
      gpuTypes = types;
    }
    podSets.push(checked);
  }
  if (pods > config.podsPerJobMax) return { ok: false, message: `a job may have at most ${config.podsPerJobMax} pods` };
  return {
    ok: true,
    spec: { tenant: input.tenant as string, queue: input.queue as string, priority: priority as number, podSets, topology, restartPolicy, restartsMax: restartsMax as number },
  };
}

function checkPodSet(raw: unknown, config: SchedulerConfig): PodSetSpec | string {
  if (!isRecord(raw)) return 'a pod set must be an object';
  for (const key of Object.keys(raw)) if (!['name', 'count', 'cpuMilli', 'memoryMiB', 'gpu', 'command'].includes(key)) return `unknown pod set field ${key}`;
  const name = checkName(raw.name, 'pod set name', config);
  if (name !== undefined) return name;
  if (!isCount(raw.count, config.podsPerJobMax) || raw.count === 0) return `pod set ${raw.name as string}: count must be 1 to ${config.podsPerJobMax}`;
  if (!isCount(raw.cpuMilli, podCpuMilliMax)) return `pod set ${raw.name as string}: cpuMilli must be an integer in [0, ${podCpuMilliMax}]`;
  if (!isCount(raw.memoryMiB, podMemoryMiBMax)) return `pod set ${raw.name as string}: memoryMiB must be an integer in [0, ${podMemoryMiBMax}]`;
  let gpu: PodSetSpec['gpu'];
  if (raw.gpu !== undefined) {
    if (!isRecord(raw.gpu)) return 'gpu must be an object';
    const { types, count } = raw.gpu;
    if (!isCount(count, podGpusMax) || count === 0) return `gpu.count must be 1 to ${podGpusMax}`;
    if (!Array.isArray(types) || types.length === 0 || types.length > 8) return 'gpu.types must list 1 to 8 GPU products';
    for (const type of types) if (typeof type !== 'string' || type.length > config.nameLengthMax || !gpuTypePattern.test(type)) return 'gpu.types must be GPU product names';
    if (new Set(types).size !== types.length) return 'gpu.types lists a product twice';
    gpu = { types: [...(types as string[])], count: count as number };
  }
  let command: string[] | undefined;
  if (raw.command !== undefined) {
    if (!Array.isArray(raw.command) || raw.command.length === 0 || raw.command.length > commandPartsMax) return `command must list 1 to ${commandPartsMax} strings`;
    for (const part of raw.command) if (typeof part !== 'string' || part.length > commandPartLengthMax) return 'command must list strings';
    command = [...(raw.command as string[])];
  }
  return {
    name: raw.name as string, count: raw.count as number, cpuMilli: raw.cpuMilli as number, memoryMiB: raw.memoryMiB as number,
    ...(gpu === undefined ? {} : { gpu }), ...(command === undefined ? {} : { command }),
  };
}

function checkName(value: unknown, what: string, config: SchedulerConfig): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > config.nameLengthMax || !namePattern.test(value)) {
    return `${what} must be a name of 1 to ${config.nameLengthMax} letters, digits, '.', '_' or '-'`;
  }
  return undefined;
}

function isCount(value: unknown, max: number): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= max;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JSON with object keys sorted: two equal specs have the same text whatever order their fields came in. */
export function canonicalText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalText).join(',')}]`;
  if (isRecord(value)) {
    return `{${Object.keys(value).filter((key) => value[key] !== undefined).sort().map((key) => `${JSON.stringify(key)}:${canonicalText(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The GPU products a job may run on, in the order it prefers them ([''] for a job without GPUs). */
export function gpuChoices(spec: JobSpec): readonly string[] {
  for (const podSet of spec.podSets) if (podSet.gpu !== undefined) return podSet.gpu.types;
  return [''];
}

/** The pod count of a job. */
export function podCount(spec: JobSpec): number {
  let pods = 0;
  for (const podSet of spec.podSets) pods += podSet.count;
  return pods;
}

/** What the whole gang asks for when it runs on GPUs of `gpuType`. */
export function jobRequest(spec: JobSpec, gpuType: string): ResourceList {
  let cpu = 0;
  let memory = 0;
  let gpus = 0;
  for (const podSet of spec.podSets) {
    cpu += podSet.cpuMilli * podSet.count;
    memory += podSet.memoryMiB * podSet.count;
    gpus += (podSet.gpu?.count ?? 0) * podSet.count;
  }
  return gpus > 0 ? { cpu, memory, [`gpu/${gpuType}`]: gpus } : { cpu, memory };
}
