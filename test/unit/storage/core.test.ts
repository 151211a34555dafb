/**
 * The pure key-value state machine: validation of untrusted commands and their deterministic effects.
 */
import { describe, expect, it } from 'vitest';
import { executeCommand, parseCounter, storageLimits, validateCommand, type StoreCommand } from '../../../actors/storage/index.js';
import { bytes } from '../../support/storage-temp.js';

const limits = { ...storageLimits, keyBytesMax: 8, valueBytesMax: 4, batchOpsMax: 3 };

function codeOf(input: unknown): string {
  const result = validateCommand(input, limits);
  return result.ok ? 'ok' : result.code;
}

describe('validateCommand', () => {
  it('accepts each well-formed command', () => {
    expect(codeOf({ type: 'put', key: 'k', value: bytes('v') })).toBe('ok');
    expect(codeOf({ type: 'delete', key: 'k' })).toBe('ok');
    expect(codeOf({ type: 'batch', ops: [{ type: 'put', key: 'a', value: bytes('1') }, { type: 'delete', key: 'b' }] })).toBe('ok');
    expect(codeOf({ type: 'cas', key: 'k', expected: null, value: bytes('v') })).toBe('ok');
    expect(codeOf({ type: 'increment', key: 'k', delta: -3 })).toBe('ok');
  });

  it('refuses wrong types with INVALID_ARGUMENT', () => {
    for (const input of [
      null,
      'put',
      [],
      { type: 'nope' },
      { type: 'put', key: 1, value: bytes('v') },
      { type: 'put', key: 'k', value: 'not bytes' },
      { type: 'put', key: 'k' },
      { type: 'put', key: '', value: bytes('v') },
      { type: 'put', key: '\ud800', value: bytes('v') },
      { type: 'batch', ops: 'x' },
      { type: 'batch', ops: [] },
      { type: 'batch', ops: [{ type: 'cas', key: 'k' }] },
      { type: 'cas', key: 'k', expected: 'x', value: null },
      { type: 'increment', key: 'k', delta: 1.5 },
      { type: 'increment', key: 'k', delta: '1' },
    ]) {
      expect(codeOf(input), JSON.stringify(input)).toBe('INVALID_ARGUMENT');
    }
  });

  it('refuses oversized keys, values and batches with their own codes (keys measured in UTF-8 bytes)', () => {
    expect(codeOf({ type: 'put', key: '123456789', value: bytes('v') })).toBe('KEY_TOO_LARGE');
    expect(codeOf({ type: 'put', key: 'ééééé', value: bytes('v') })).toBe('KEY_TOO_LARGE');
    expect(codeOf({ type: 'put', key: 'éééé', value: bytes('v') })).toBe('ok');
    expect(codeOf({ type: 'put', key: 'k', value: bytes('12345') })).toBe('VALUE_TOO_LARGE');
    expect(codeOf({ type: 'cas', key: 'k', expected: bytes('12345'), value: null })).toBe('VALUE_TOO_LARGE');
    const op = { type: 'delete', key: 'k' };
    expect(codeOf({ type: 'batch', ops: [op, op, op, op] })).toBe('BATCH_TOO_LARGE');
  });
});

describe('executeCommand', () => {
  const state = new Map<string, Uint8Array>([['a', bytes('1')], ['n', bytes('41')]]);
  const read = (key: string): Uint8Array | undefined => state.get(key);

  it('compare-and-set swaps only on a match, and null means absent', () => {
    expect(executeCommand({ type: 'cas', key: 'a', expected: bytes('1'), value: bytes('2') }, read)).toEqual({
      writes: [['a', bytes('2')]],
      result: { ok: true, type: 'cas', swapped: true, current: bytes('2') },
    });
    expect(executeCommand({ type: 'cas', key: 'a', expected: bytes('9'), value: bytes('2') }, read)).toEqual({
      writes: [],
      result: { ok: true, type: 'cas', swapped: false, current: bytes('1') },
    });
    expect(executeCommand({ type: 'cas', key: 'new', expected: null, value: bytes('x') }, read).result).toMatchObject({ swapped: true });
    expect(executeCommand({ type: 'cas', key: 'a', expected: null, value: bytes('x') }, read).result).toMatchObject({ swapped: false });
    expect(executeCommand({ type: 'cas', key: 'a', expected: bytes('1'), value: null }, read).writes).toEqual([['a', null]]);
  });

  it('increments decimal counters, treating absent as zero, and refuses non-counters and overflow', () => {
    expect(executeCommand({ type: 'increment', key: 'n', delta: 1 }, read)).toEqual({ writes: [['n', bytes('42')]], result: { ok: true, type: 'increment', value: 42 } });
    expect(executeCommand({ type: 'increment', key: 'fresh', delta: -5 }, read).result).toEqual({ ok: true, type: 'increment', value: -5 });
    expect(executeCommand({ type: 'increment', key: 'x', delta: 1 }, () => bytes('abc')).result).toMatchObject({ ok: false, code: 'NOT_A_COUNTER' });
    expect(executeCommand({ type: 'increment', key: 'x', delta: 1 }, () => bytes(String(Number.MAX_SAFE_INTEGER))).result).toMatchObject({ ok: false, code: 'COUNTER_OVERFLOW' });
  });

  it('is deterministic: the same command on the same state gives the same writes and result', () => {
    const commands: StoreCommand[] = [
      { type: 'batch', ops: [{ type: 'put', key: 'a', value: bytes('x') }, { type: 'delete', key: 'a' }] },
      { type: 'increment', key: 'n', delta: 7 },
      { type: 'cas', key: 'a', expected: bytes('1'), value: null },
    ];
    for (const command of commands) expect(executeCommand(command, read)).toEqual(executeCommand(command, read));
  });

  it('parses only canonical decimal counters', () => {
    expect(parseCounter(bytes('0'))).toBe(0);
    expect(parseCounter(bytes('-12'))).toBe(-12);
    for (const text of ['', '01', '+1', '1.0', ' 1', '99999999999999999']) expect(parseCounter(bytes(text)), text).toBeUndefined();
  });
});
