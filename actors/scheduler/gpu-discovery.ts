/**
 * GPU discovery from `nvidia-smi`: its CSV query output (with or without a header, with or without
 * units) and its XML report (`nvidia-smi -q -x`). Parsers take text, so they are tested on real
 * outputs without a GPU; `discoverGpus` runs the binary. Input is bounded: a report larger than
 * `reportBytesMax` or with more than `gpusMax` GPUs is refused with a typed error.
 */
import { execFile } from 'node:child_process';
import { TroupeError } from '../../runtime/index.js';

/** One GPU as discovered. */
export interface GpuDevice {
  readonly index: number;
  readonly uuid: string;
  /** As nvidia-smi prints it: `NVIDIA H100 80GB HBM3`. */
  readonly name: string;
  readonly memoryMiB: number;
}

/** A discovery report that could not be read. */
export class GpuDiscoveryError extends TroupeError {
  constructor(message: string, cause?: unknown) {
    super('GPU_DISCOVERY_FAILED', message, cause === undefined ? {} : { cause });
  }
}

/** Largest nvidia-smi output parsed (an 8-GPU `-q -x` report is about 250 KB). */
export const reportBytesMax = 4 * 1024 * 1024;
/** Most GPUs one node reports. */
export const gpusMax = 64;

/** The fields the scheduler queries, in this order: `--query-gpu=index,name,uuid,memory.total --format=csv,noheader`. */
export const queryFields = ['index', 'name', 'uuid', 'memory.total'] as const;

/**
 * Parses `nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]`. With a header line, columns
 * are found by name; without one, `fields` says their order (default `queryFields`).
 */
export function parseGpuQueryCsv(text: string, fields: readonly string[] = queryFields): GpuDevice[] {
  if (text.length > reportBytesMax) throw new GpuDiscoveryError(`nvidia-smi output exceeds ${reportBytesMax} bytes`);
  const lines = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '');
  let columns = [...fields];
  if (lines.length > 0 && /^index\b/.test(lines[0]!)) {
    columns = lines.shift()!.split(',').map((cell) => cell.trim().replace(/\s*\[.*\]$/, ''));
  }
  const at = (name: string): number => {
    const position = columns.indexOf(name);
    if (position < 0) throw new GpuDiscoveryError(`nvidia-smi output has no ${name} column`);
    return position;
  };
  const [index, name, uuid, memory] = [at('index'), at('name'), at('uuid'), at('memory.total')];
  if (lines.length > gpusMax) throw new GpuDiscoveryError(`nvidia-smi reports more than ${gpusMax} GPUs`);
  return lines.map((line) => {
    // Product names contain no commas, so a plain split is exact.
    const cells = line.split(',').map((cell) => cell.trim());
    if (cells.length < columns.length) throw new GpuDiscoveryError(`nvidia-smi line has ${cells.length} of ${columns.length} columns: ${line.slice(0, 200)}`);
    return device(cells[index]!, cells[name]!, cells[uuid]!, cells[memory]!);
  });
}

/** Parses `nvidia-smi -q -x`: one device per `<gpu>` element, indexed by its minor number. */
export function parseNvidiaSmiXml(text: string): GpuDevice[] {
  if (text.length > reportBytesMax) throw new GpuDiscoveryError(`nvidia-smi report exceeds ${reportBytesMax} bytes`);
  if (!text.includes('<nvidia_smi_log>')) throw new GpuDiscoveryError('not an nvidia-smi XML report');
  const devices: GpuDevice[] = [];
  const gpuPattern = /<gpu id="[^"]*">([\s\S]*?)<\/gpu>/g;
  for (const match of text.matchAll(gpuPattern)) {
    if (devices.length >= gpusMax) throw new GpuDiscoveryError(`nvidia-smi reports more than ${gpusMax} GPUs`);
    const body = match[1]!;
    const memory = /<fb_memory_usage>[\s\S]*?<total>([^<]*)<\/total>/.exec(body)?.[1];
    devices.push(device(element(body, 'minor_number'), element(body, 'product_name'), element(body, 'uuid'), memory ?? ''));
  }
  const attached = Number(/<attached_gpus>(\d+)<\/attached_gpus>/.exec(text)?.[1]);
  if (attached !== devices.length) throw new GpuDiscoveryError(`nvidia-smi report says ${attached} GPUs but lists ${devices.length}`);
  return devices;
}

function element(body: string, name: string): string {
  const value = new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1];
  if (value === undefined) throw new GpuDiscoveryError(`nvidia-smi report has a GPU without <${name}>`);
  return value.trim();
}

function device(index: string, name: string, uuid: string, memory: string): GpuDevice {
  const parsedIndex = Number(index);
  const memoryMiB = Number(memory.replace(/\s*MiB$/, ''));
  if (!Number.isSafeInteger(parsedIndex) || parsedIndex < 0 || parsedIndex >= gpusMax) throw new GpuDiscoveryError(`bad GPU index ${index.slice(0, 40)}`);
  if (!/^GPU-[0-9a-f-]{36}$/i.test(uuid) && !/^MIG-/.test(uuid)) throw new GpuDiscoveryError(`bad GPU uuid ${uuid.slice(0, 60)}`);
  if (name === '' || name.length > 100) throw new GpuDiscoveryError('bad GPU product name');
  if (!Number.isFinite(memoryMiB) || memoryMiB < 0) throw new GpuDiscoveryError(`bad GPU memory ${memory.slice(0, 40)}`);
  return { index: parsedIndex, uuid, name, memoryMiB };
}

/** The `nvidia.com/gpu.product` label value of a product name (GPU feature discovery replaces spaces with '-'). */
export function gpuProduct(name: string): string {
  return name.trim().replace(/\s+/g, '-');
}

/** The node's GPU type and count: the most common product (a mixed node offers only that one to the scheduler). */
export function summarizeGpus(devices: readonly GpuDevice[]): { gpuType: string; gpuCount: number; indices: number[] } {
  const byProduct = new Map<string, number[]>();
  for (const gpu of devices) {
    const product = gpuProduct(gpu.name);
    byProduct.set(product, [...(byProduct.get(product) ?? []), gpu.index]);
  }
  let best: [string, number[]] = ['', []];
  for (const entry of byProduct) if (entry[1].length > best[1].length) best = entry;
  return { gpuType: best[0], gpuCount: best[1].length, indices: best[1].sort((a, b) => a - b) };
}

/** Runs `nvidia-smi` and parses its CSV query; a machine without it has no GPUs. */
export function discoverGpus(options: { binary?: string; timeoutMs?: number } = {}): Promise<GpuDevice[]> {
  return new Promise((resolve, reject) => {
    execFile(options.binary ?? 'nvidia-smi', [`--query-gpu=${queryFields.join(',')}`, '--format=csv,noheader,nounits'], {
      timeout: options.timeoutMs ?? 10_000, maxBuffer: reportBytesMax,
    }, (error, stdout) => {
      if (error !== null) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') resolve([]);
        else reject(new GpuDiscoveryError(`nvidia-smi failed: ${error.message}`, error));
        return;
      }
      try {
        resolve(parseGpuQueryCsv(stdout));
      } catch (parseError) {
        reject(parseError);
      }
    });
  });
}
