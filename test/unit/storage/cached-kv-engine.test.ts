/**
 * The write-back cache's delayed writes (`writeDelayMs`): batches staged within the delay reach the
 * engine below as one batch, and whatever needs the engine below settled, or a backlog past
 * `unwrittenBytesMax`, cuts the delay short. The delay here is a minute, so a test that passes never
 * waited for it.
 */
import { describe, expect, it } from 'vitest';
import { CachedKvEngine, MemoryKvEngine, type KvEngineWrite } from '../../../actors/storage/index.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const put = (key: string, value = key): KvEngineWrite => ({ type: 'put', key: utf8(key), value: utf8(value) });

/** A memory engine that records the batches written to it. */
function recordingEngine(): { engine: MemoryKvEngine; batches: number[] } {
  const engine = new MemoryKvEngine();
  const batches: number[] = [];
  const write = engine.write.bind(engine);
  engine.write = async (writes, appliedIndex) => {
    batches.push(appliedIndex);
    await write(writes, appliedIndex);
  };
  return { engine, batches };
}

describe('CachedKvEngine delayed writes', () => {
  it('keeps batches staged within the delay, readable at once, and a range settles them below as one batch', async () => {
    const { engine, batches } = recordingEngine();
    const cache = new CachedKvEngine(engine, { writeDelayMs: 60_000 });
    await cache.write([put('a')], 1);
    await cache.write([put('b')], 2);
    expect(new TextDecoder().decode(await cache.read(utf8('a')))).toBe('a');
    expect(cache.writtenIndex).toBe(0);
    expect(batches).toEqual([]);
    const entries = await cache.range({ start: utf8('a'), end: utf8('c'), limit: 10 });
    expect(entries).toHaveLength(2);
    expect(batches).toEqual([2]);
    expect(cache.writtenIndex).toBe(2);
    await cache.close();
  });

  it('writes at once past the unwritten-bytes bound, so a backlogged writer waiting for flushed() is not held by the delay', async () => {
    const { engine, batches } = recordingEngine();
    const cache = new CachedKvEngine(engine, { writeDelayMs: 60_000, unwrittenBytesMax: 100 });
    await cache.write([put('a')], 1);
    await cache.write([put('b', 'v'.repeat(200))], 2);
    expect(cache.backlogged).toBe(true);
    await cache.flushed();
    expect(batches).toEqual([2]);
    expect(cache.backlogged).toBe(false);
    await cache.close();
  });

  it('close writes what is staged instead of waiting for the delay', async () => {
    const { engine, batches } = recordingEngine();
    const cache = new CachedKvEngine(engine, { writeDelayMs: 60_000 });
    await cache.write([put('a')], 1);
    await cache.close();
    expect(batches).toEqual([1]);
  });
});
