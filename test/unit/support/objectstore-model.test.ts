import { describe, expect, it } from 'vitest';
import { checkLinearizability, type HistoryOperation } from '../../support/linearizability.js';
import { bucketModel, type S3Operation, type S3Outcome } from '../../support/objectstore-chaos.js';

type Operation = HistoryOperation<S3Operation, S3Outcome>;
const op = (clientId: string, input: S3Operation, call: number, ret: number, output: S3Outcome | undefined): Operation => ({ clientId, input, call, return: ret, output });

describe('the bucket model of the object store chaos test', () => {
  it('accepts a history where a read overlapping a write sees either value', () => {
    const history = [op('a', { type: 'put', key: 'k', value: '1' }, 0, 1, { type: 'put' }), op('b', { type: 'put', key: 'k', value: '2' }, 2, 5, { type: 'put' }), op('c', { type: 'get', key: 'k' }, 3, 4, { type: 'get', value: '1' })];
    expect(checkLinearizability(bucketModel, history).ok).toBe(true);
  });

  it('refuses a stale read after a completed overwrite, two winners of a create, and a list missing an acknowledged key', () => {
    const stale = [op('a', { type: 'put', key: 'k', value: '1' }, 0, 1, { type: 'put' }), op('b', { type: 'put', key: 'k', value: '2' }, 2, 3, { type: 'put' }), op('c', { type: 'get', key: 'k' }, 4, 5, { type: 'get', value: '1' })];
    expect(checkLinearizability(bucketModel, stale).ok).toBe(false);
    const twoWinners = [op('a', { type: 'create', key: 'k', value: '1' }, 0, 3, { type: 'create', created: true }), op('b', { type: 'create', key: 'k', value: '2' }, 1, 2, { type: 'create', created: true })];
    expect(checkLinearizability(bucketModel, twoWinners).ok).toBe(false);
    const lostFromList = [op('a', { type: 'put', key: 'l/0', value: '1' }, 0, 1, { type: 'put' }), op('b', { type: 'list', prefix: 'l/' }, 2, 3, { type: 'list', pairs: [] })];
    expect(checkLinearizability(bucketModel, lostFromList).ok).toBe(false);
  });

  it('lets a write of unknown outcome take effect or not', () => {
    const history = [op('a', { type: 'delete', key: 'k' }, 0, Infinity, undefined), op('b', { type: 'put', key: 'k', value: '1' }, 1, 2, { type: 'put' }), op('c', { type: 'get', key: 'k' }, 3, 4, { type: 'get', value: null })];
    expect(checkLinearizability(bucketModel, history).ok).toBe(true);
  });
});
