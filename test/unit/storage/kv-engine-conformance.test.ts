/**
 * One conformance suite for the ordered key-value engines: LevelDB (`LevelKvEngine`, in a temp
 * directory), the write-back cache in front of it (`CachedKvEngine`, with a tiny cache so that reads
 * go below it too) and the in-memory engine (`MemoryKvEngine`). The simulation runs the production state
 * machine on the in-memory one, so whatever it proves holds for LevelDB only where the two agree:
 * byte order (0x00 and 0xFF bytes, U+FFFD against an emoji), ranges with bounds, limits and reverse
 * order, atomic batches that move the applied index, consistent exports and digests, and restore.
 */
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CachedKvEngine, LevelKvEngine, MemoryKvEngine, type KvEngine, type KvEngineWrite } from '../../../actors/storage/index.js';
import { createRng } from '../../../runtime/index.js';
import { TempDirectories } from '../../support/storage-temp.js';

const temps = new TempDirectories();
const engines: KvEngine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
  temps.cleanup();
});

interface EngineFixture {
  readonly engine: KvEngine;
  /** A fresh look at the same state (LevelDB reopened; in memory, the same object). */
  reopen(): Promise<KvEngine>;
}

/** An engine over LevelDB files in a fresh directory, opened by `open`; `reopen` closes it and opens the same files again. */
async function onDisk(open: (location: string) => Promise<KvEngine>): Promise<EngineFixture> {
  const location = path.join(temps.make('troupe-kv-engine-'), 'db');
  let engine = await open(location);
  engines.push(engine);
  return {
    engine,
    reopen: async () => {
      await engine.close();
      engines.splice(engines.indexOf(engine), 1);
      engine = await open(location);
      engines.push(engine);
      return engine;
    },
  };
}

const fixtures: Array<[string, () => Promise<EngineFixture>]> = [
  ['LevelKvEngine', () => onDisk((location) => LevelKvEngine.open(location))],
  ['CachedKvEngine over LevelKvEngine', () => onDisk(async (location) => new CachedKvEngine(await LevelKvEngine.open(location), { cachedKeysMax: 4 }))],
  ['MemoryKvEngine', async () => {
    const engine = new MemoryKvEngine();
    return { engine, reopen: async () => engine };
  }],
];

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const put = (key: Uint8Array, value: Uint8Array = key): KvEngineWrite => ({ type: 'put', key, value });
const hexes = (entries: ReadonlyArray<{ key: Uint8Array }>): string[] => entries.map((entry) => Buffer.from(entry.key).toString('hex'));

describe.each(fixtures)('KV engine conformance: %s', (_name, makeFixture) => {
  it('orders keys by bytes: 0x00 and 0xFF bytes, U+FFFD before an emoji, a prefix before its extensions', async () => {
    const { engine } = await makeFixture();
    const keys = [utf8('\u{1F600}'), utf8('\uFFFD'), Uint8Array.of(0xff), Uint8Array.of(0x00), Uint8Array.of(0x61, 0x00), utf8('a'), utf8('ab')];
    await engine.write(keys.map((key) => put(key)), 1);
    const all = await engine.range({ start: new Uint8Array(0), limit: 100 });
    const sorted = [...keys].sort((left, right) => Buffer.compare(Buffer.from(left), Buffer.from(right)));
    expect(hexes(all)).toEqual(hexes(sorted.map((key) => ({ key }))));
    expect(hexes(all).indexOf(Buffer.from(utf8('\uFFFD')).toString('hex'))).toBeLessThan(hexes(all).indexOf(Buffer.from(utf8('\u{1F600}')).toString('hex')));
    expect(await engine.read(Uint8Array.of(0x00))).toEqual(Uint8Array.of(0x00));
    expect(await engine.read(utf8('zz'))).toBeUndefined();
  });

  it('serves ranges with an inclusive start, exclusive end, a limit and reverse order', async () => {
    const { engine } = await makeFixture();
    await engine.write(['a', 'b', 'c', 'd', 'e'].map((key) => put(utf8(key))), 1);
    const keys = async (range: Parameters<KvEngine['range']>[0]) => (await engine.range(range)).map((entry) => new TextDecoder().decode(entry.key));
    expect(await keys({ start: utf8('b'), end: utf8('d'), limit: 10 })).toEqual(['b', 'c']);
    expect(await keys({ start: utf8('b'), limit: 2 })).toEqual(['b', 'c']);
    expect(await keys({ start: utf8('a'), end: utf8('e'), limit: 2, reverse: true })).toEqual(['d', 'c']);
    expect(await keys({ start: utf8('x'), limit: 10 })).toEqual([]);
    expect(await keys({ start: utf8('c'), end: utf8('c'), limit: 10 })).toEqual([]);
    // A range that ends at its start followed by a zero byte holds that key alone (a point read).
    expect(await keys({ start: utf8('c'), end: Uint8Array.of(0x63, 0x00), limit: 10 })).toEqual(['c']);
    expect(await keys({ start: utf8('cc'), end: Uint8Array.of(0x63, 0x63, 0x00), limit: 10 })).toEqual([]);
    await engine.write([{ type: 'delete', key: utf8('c') }], 2);
    expect(await keys({ start: utf8('c'), end: Uint8Array.of(0x63, 0x00), limit: 10 })).toEqual([]);
    expect(await keys({ start: utf8('a'), limit: 10 })).toEqual(['a', 'b', 'd', 'e']);
  });

  it('applies a batch in order with the applied index, and keeps both across a reopen', async () => {
    const fixture = await makeFixture();
    await fixture.engine.write([put(utf8('k'), utf8('1')), put(utf8('k'), utf8('2')), put(utf8('gone')), { type: 'delete', key: utf8('gone') }], 7);
    const engine = await fixture.reopen();
    expect(engine.appliedIndex).toBe(7);
    expect(await engine.read(utf8('k'))).toEqual(utf8('2'));
    expect(await engine.read(utf8('gone'))).toBeUndefined();
    await expect(engine.write([], 6)).rejects.toThrow(/never moves back/);
  });

  it('gives the same digest for the same state, whatever order it was written in', async () => {
    const { engine } = await makeFixture();
    const other = new MemoryKvEngine();
    const rng = createRng(5);
    const writes = Array.from({ length: 200 }, () => put(Uint8Array.of(rng.int(0, 255), rng.int(0, 255)), Uint8Array.of(rng.int(0, 255))));
    await engine.write(writes, 3);
    const last = new Map(writes.map((write) => [Buffer.from(write.key).toString('hex'), write]));
    await other.write([...last.values()].reverse(), 3);
    expect(await engine.digest()).toEqual(await other.digest());
  });

  it('exports a consistent state and restores it, marking an unfinished restore', async () => {
    const fixture = await makeFixture();
    await fixture.engine.write([put(utf8('a')), put(utf8('b'))], 4);
    const pairs: Array<{ key: Uint8Array; value: Uint8Array }> = [];
    let exportedIndex = -1;
    await fixture.engine.exportState({ onIndex: (index) => { exportedIndex = index; }, onPair: (pair) => { pairs.push({ key: new Uint8Array(pair.key), value: new Uint8Array(pair.value) }); } });
    expect(exportedIndex).toBe(4);
    expect(pairs.map((pair) => new TextDecoder().decode(pair.key))).toEqual(['a', 'b']);
    await fixture.engine.beginRestore(9);
    expect(fixture.engine.restoringIndex).toBe(9);
    expect(fixture.engine.appliedIndex).toBe(0);
    await fixture.engine.loadPairs([{ key: utf8('z'), value: utf8('z') }]);
    await fixture.engine.finishRestore();
    const engine = await fixture.reopen();
    expect(engine.restoringIndex).toBeUndefined();
    expect(engine.appliedIndex).toBe(9);
    expect(hexes(await engine.range({ start: new Uint8Array(0), limit: 10 }))).toEqual(hexes([{ key: utf8('z') }]));
  });
});
