/** GPU discovery parsers on real nvidia-smi outputs (an H100 80GB HBM3 machine) and on hostile input. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GpuDiscoveryError, gpuProduct, parseGpuQueryCsv, parseNvidiaSmiXml, summarizeGpus } from '../../../actors/scheduler/index.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'h100-80gb');
const fixture = (name: string) => readFileSync(join(fixtures, name), 'utf8');
const h100 = { index: 0, uuid: 'GPU-8175f475-f113-193e-053b-76f2947639ef', name: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559 };

describe('nvidia-smi discovery', () => {
  it('reads the CSV query with a header, finding columns by name and dropping units', () => {
    expect(parseGpuQueryCsv(fixture('nvidia-smi-query.csv'))).toEqual([h100]);
  });

  it('reads the CSV query without a header in the column order it was asked for', () => {
    expect(parseGpuQueryCsv(fixture('nvidia-smi-query-noheader.csv'), ['index', 'uuid', 'name', 'memory.total', 'memory.free', 'utilization.gpu'])).toEqual([h100]);
  });

  it('reads the scheduler\'s own query (index,name,uuid,memory.total) for an 8-GPU node', () => {
    const lines = Array.from({ length: 8 }, (_, index) => `${index}, NVIDIA H100 80GB HBM3, GPU-8175f475-f113-193e-053b-76f2947639e${index}, 81559 MiB`).join('\n');
    const devices = parseGpuQueryCsv(lines);
    expect(summarizeGpus(devices)).toEqual({ gpuType: 'NVIDIA-H100-80GB-HBM3', gpuCount: 8, indices: [0, 1, 2, 3, 4, 5, 6, 7] });
  });

  it('reads nvidia-smi -q -x', () => {
    const devices = parseNvidiaSmiXml(fixture('nvidia-smi-q.xml'));
    expect(devices).toEqual([h100]);
    expect(gpuProduct(devices[0]!.name)).toBe('NVIDIA-H100-80GB-HBM3');
  });

  it.each([
    ['a truncated XML report', () => parseNvidiaSmiXml(fixture('nvidia-smi-q.xml').slice(0, 5_000))],
    ['text that is not a report', () => parseNvidiaSmiXml('hello')],
    ['a bad uuid', () => parseGpuQueryCsv('0, NVIDIA H100, not-a-uuid, 80 MiB')],
    ['a missing column', () => parseGpuQueryCsv('0, NVIDIA H100')],
    ['an oversized report', () => parseGpuQueryCsv('x'.repeat(5 * 1024 * 1024))],
    ['too many GPUs', () => parseGpuQueryCsv(Array.from({ length: 65 }, (_, i) => `${i}, N, GPU-8175f475-f113-193e-053b-76f2947639ef, 1`).join('\n'))],
  ])('refuses %s with GPU_DISCOVERY_FAILED', (_name, parse) => {
    expect(parse).toThrow(GpuDiscoveryError);
  });
});
