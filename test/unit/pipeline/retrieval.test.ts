/**
 * Reciprocal-rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009, equation 1: score = sum of
 * 1 / (k + rank)) and the retrieval benchmark's data set: enough passages and queries, every query
 * aimed at an existing passage, and queries that share meaning, not words, with their passage.
 */
import { describe, expect, it } from 'vitest';
import { reciprocalRankFusion } from '../../../actors/pipeline/index.js';
import { InvariantError } from '../../../runtime/index.js';
import { lexicalOverlap, loadRetrievalCorpus, retrievalFigures } from '../../bench/retrieval.js';

describe('reciprocalRankFusion', () => {
  it('sums weight / (constant + rank) over the lists and records each rank', () => {
    const fused = reciprocalRankFusion([{ keys: ['a', 'b', 'c'], weight: 1 }, { keys: ['c', 'a'], weight: 1 }], 60);
    expect(fused.map((entry) => entry.key)).toEqual(['a', 'c', 'b']);
    expect(fused[0]!.score).toBeCloseTo(1 / 61 + 1 / 62, 12);
    expect(fused[1]!.score).toBeCloseTo(1 / 63 + 1 / 61, 12);
    expect(fused[2]).toEqual({ key: 'b', score: 1 / 62, ranks: [2, null] });
  });

  it('lets a weight of zero ignore a list (its items still appear, ranked last), and breaks ties by key', () => {
    const fused = reciprocalRankFusion([{ keys: ['x', 'y'], weight: 1 }, { keys: ['z', 'y'], weight: 0 }]);
    expect(fused.map((entry) => entry.key)).toEqual(['x', 'y', 'z']);
    const tied = reciprocalRankFusion([{ keys: ['q'], weight: 1 }, { keys: ['p'], weight: 1 }]);
    expect(tied.map((entry) => entry.key)).toEqual(['p', 'q']);
  });

  it('asserts that a list holds each key once and that weights are non-negative', () => {
    expect(() => reciprocalRankFusion([{ keys: ['a', 'a'], weight: 1 }])).toThrow(InvariantError);
    expect(() => reciprocalRankFusion([{ keys: ['a'], weight: -1 }])).toThrow(InvariantError);
  });
});

describe('retrieval benchmark data set', () => {
  const corpus = loadRetrievalCorpus();

  it('has at least 100 passages with unique ids and 100 queries, each aimed at one of them', () => {
    expect(corpus.passages.length).toBeGreaterThanOrEqual(100);
    expect(corpus.queries.length).toBeGreaterThanOrEqual(100);
    const ids = new Set(corpus.passages.map((passage) => passage.id));
    expect(ids.size).toBe(corpus.passages.length);
    for (const query of [...corpus.queries, ...corpus.keywordQueries]) expect(ids.has(query.passage), query.passage).toBe(true);
    expect(corpus.keywordQueries.length).toBeGreaterThanOrEqual(30);
    // Varied topics: the id prefix names the topic.
    expect(new Set(corpus.passages.map((passage) => passage.id.split('-')[0])).size).toBeGreaterThanOrEqual(20);
  });

  it('pairs queries with passages that share few words (mean stem overlap under 0.05, none over 0.4)', () => {
    const byId = new Map(corpus.passages.map((passage) => [passage.id, passage.text]));
    const overlaps = corpus.queries.map((query) => lexicalOverlap(query.text, byId.get(query.passage)!));
    expect(overlaps.reduce((sum, value) => sum + value, 0) / overlaps.length).toBeLessThan(0.05);
    expect(Math.max(...overlaps)).toBeLessThanOrEqual(0.4);
    expect(lexicalOverlap('raft elects a leader', 'Raft leaders are elected')).toBe(1);
  });

  it('computes recall@10 and MRR@10 from target ranks', () => {
    expect(retrievalFigures([1, 2, null, 11])).toEqual({ recall10: 0.5, mrr: 0.375 });
  });
});
