/**
 * The wire validator and the WAL reader agree (actors/raft/wire.ts, durable-log.ts): terms and indexes
 * a peer may send are bounded at 2^48 - 1, and everything the replica derives from an accepted value
 * (a term one higher after an election) is written and read back by the durable log. A forged term of
 * 2^53 - 1, which once made a replica persist a term its own reader refused, is refused on the wire.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DurableLog, checkMessage } from '../../../actors/raft/index.js';
import { wireIntegerMax } from '../../../actors/raft/wire.js';
import { TempDirectories } from '../../support/storage-temp.js';

const temp = new TempDirectories();
afterEach(() => temp.cleanup());

const heartbeat = (term: number, commit = 0): unknown => ({ type: 'raft.heartbeat', from: 'a', to: 'b', term, commit, readContext: null });

describe('raft wire bounds', () => {
  it('refuses terms and indexes above 2^48 - 1, the forged 2^53 - 1 among them', () => {
    expect(wireIntegerMax).toBe(2 ** 48 - 1);
    expect(checkMessage(heartbeat(wireIntegerMax)).ok).toBe(true);
    for (const term of [wireIntegerMax + 1, Number.MAX_SAFE_INTEGER, 2 ** 53]) {
      const checked = checkMessage(heartbeat(term));
      expect(checked.ok, String(term)).toBe(false);
      if (!checked.ok) expect(checked.reason).toMatch(/term must be/);
    }
    expect(checkMessage(heartbeat(1, Number.MAX_SAFE_INTEGER)).ok).toBe(false);
    const append = { type: 'raft.append', from: 'a', to: 'b', term: 1, prevLogIndex: wireIntegerMax, prevLogTerm: 1, commit: 0, entries: [{ type: 'normal', term: 1, index: wireIntegerMax + 1, data: Uint8Array.of(1) }] };
    expect(checkMessage(append).ok).toBe(false);
  });

  it('replays what a replica derives from the largest accepted term: the WAL reader accepts it after restart', async () => {
    const directory = temp.make();
    const next = wireIntegerMax + 1; // the term of an election started from the largest accepted term
    const first = await DurableLog.open({ directory });
    await first.log.persist({
      snapshot: null, hardState: { term: next, vote: 'b', commit: 0 },
      entries: [{ type: 'normal', term: next, index: 1, data: Uint8Array.of(7) }],
    });
    await first.log.close();
    const again = await DurableLog.open({ directory });
    expect(again.recovered.hardState).toEqual({ term: next, vote: 'b', commit: 0 });
    expect(again.recovered.entries.map((entry) => entry.term)).toEqual([next]);
    await again.log.close();
  });
});
