/**
 * A structure-aware fuzzer for the link frame parser (cluster/core/frames.ts), bounded by iteration
 * count: valid frames of every kind, the lane fields included (envelopes on streams 0, 1 and 2,
 * watches with a lane, acks of either lane), then the same frames with fields replaced by hostile
 * values, removed, or added where they do not belong, and byte-level mutations decoded by the codec.
 * Every input must parse to a frame or be refused with a typed FrameProblem (never an exception), and
 * a frame the parser accepts keeps the stream position and lane it was sent with. Replay with SEED=<n>.
 */
import { describe, expect, it } from 'vitest';
import { codec, createRng, seedFromEnvironment, type Rng } from '../../../runtime/index.js';
import { FrameProblem, laneOf, parseLinkFrame, streamWire, type StreamMessage, type StreamPosition } from '../../../cluster/core/frames.js';

const inputs = 3_000;
const membersMax = 8;

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(0, items.length - 1)]!;
}

/** A value an attacker might put in any field. */
function hostileValue(rng: Rng): unknown {
  return pick(rng, [
    null, undefined, true, -1, 0, 1, 2, 3, 1.5, Number.MAX_SAFE_INTEGER, 2 ** 53, Number.NaN, -0, 'notice', 'bulk', 'express', '', '/root/x', 'no-slash',
    'x'.repeat(5_000), 12n, [], [2], {}, { node: 'n1', path: '/a' }, { node: 'bad node', path: '/a' }, new Uint8Array(4), { __proto__: null, lane: 'notice' },
  ]);
}

function streamMessage(rng: Rng): StreamMessage {
  if (rng.next() < 0.3) return { type: pick(rng, ['watch', 'unwatch'] as const), target: '/root/target', watcher: { node: 'n1', path: '/root/watcher' } };
  const body = rng.next() < 0.5 ? { type: 'terminated', ref: { node: 'n1', path: '/root/gone' }, reason: 'stopped' } : { type: 'item', index: rng.int(0, 1e6) };
  const ask = rng.next() < 0.3 ? { corr: `c${rng.int(0, 99)}`, replyTo: { node: 'n1', path: '/temp/ask-1' }, from: { node: 'n1', path: '/root/a' }, deadlineMs: 5_000 } : {};
  return { type: 'envelope', envelope: { id: `n1.${rng.int(0, 1e6)}`, to: { node: 'n2', path: '/root/sink' }, body, ...ask } };
}

function position(rng: Rng): StreamPosition {
  const number = rng.int(1, 2 ** 31);
  return rng.next() < 0.3 ? { seq: number } : { reliable: number, lane: pick(rng, ['bulk', 'notice'] as const) };
}

/** A valid frame of any kind, as it travels (before encoding). */
function validLinkFrame(rng: Rng): unknown {
  switch (rng.int(0, 5)) {
    case 0: return { type: 'ack', upTo: rng.int(0, 1e9), ...(rng.next() < 0.5 ? { lane: pick(rng, ['bulk', 'notice']) } : {}) };
    case 1: return { type: 'heartbeat', sentMs: rng.int(0, 1e12) };
    default: return streamWire(streamMessage(rng), position(rng));
  }
}

/** The frame with one field replaced, removed or added (arrays: one element replaced, removed or appended). */
function mutateFields(rng: Rng, frame: unknown): unknown {
  if (Array.isArray(frame)) {
    const copy = [...frame];
    const at = rng.int(0, copy.length);
    switch (rng.int(0, 2)) {
      case 0: copy[Math.min(at, copy.length - 1)] = hostileValue(rng); break;
      case 1: copy.splice(at, 1); break;
      default: copy.push(rng.next() < 0.5 ? hostileValue(rng) : { lane: hostileValue(rng), corr: hostileValue(rng), replyTo: hostileValue(rng) });
    }
    return copy;
  }
  const copy: Record<string, unknown> = { ...(frame as Record<string, unknown>) };
  const key = pick(rng, [...Object.keys(copy), 'lane', 'seq', 'reliable', 'upTo', 'type']);
  if (rng.next() < 0.3) delete copy[key];
  else copy[key] = hostileValue(rng);
  return copy;
}

/** Bytes of the encoded frame with a few bytes changed, inserted or cut; undefined if the codec refuses them. */
function mutateBytes(rng: Rng, frame: unknown): unknown {
  const bytes = [...codec.encode(frame)];
  for (let edits = rng.int(1, 3); edits > 0; edits -= 1) {
    const at = rng.int(0, bytes.length - 1);
    switch (rng.int(0, 2)) {
      case 0: bytes[at] = rng.int(0, 255); break;
      case 1: bytes.splice(at, 0, rng.int(0, 255)); break;
      default: bytes.splice(at, 1);
    }
  }
  try {
    return codec.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

describe('link frame fuzz', () => {
  it('parses every input to a frame or a typed FrameProblem, never an exception', () => {
    const seed = seedFromEnvironment();
    const rng = createRng(seed);
    const outcomes: Record<string, number> = {};
    for (let round = 0; round < inputs; round += 1) {
      const valid = validLinkFrame(rng);
      const candidates = [valid, mutateFields(rng, valid), mutateFields(rng, mutateFields(rng, valid)), mutateBytes(rng, valid)];
      for (const candidate of candidates) {
        let parsed: unknown;
        try {
          parsed = parseLinkFrame(candidate, membersMax);
        } catch (error) {
          throw new Error(`seed ${seed}, round ${round}: parseLinkFrame threw ${String(error)} for ${JSON.stringify(candidate, (_key, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value))?.slice(0, 300)}`);
        }
        const outcome = parsed instanceof FrameProblem ? parsed.code : `ok:${(parsed as { type: string }).type}`;
        if (parsed instanceof FrameProblem) expect(['FRAME_INVALID', 'FRAME_UNKNOWN'], `seed ${seed}, round ${round}`).toContain(parsed.code);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      }
    }
    console.log(`link frame fuzz: seed ${seed}, ${inputs * 4} inputs, outcomes ${JSON.stringify(outcomes)}`);
    expect(outcomes.FRAME_INVALID).toBeGreaterThan(0);
    expect(outcomes['ok:envelope']).toBeGreaterThan(inputs / 2);
  });

  it('keeps the stream position and lane of every valid stream frame', () => {
    const seed = seedFromEnvironment() + 1;
    const rng = createRng(seed);
    for (let round = 0; round < inputs; round += 1) {
      const message = streamMessage(rng);
      const where = position(rng);
      const parsed = parseLinkFrame(codec.decode(codec.encode(streamWire(message, where))), membersMax);
      expect(parsed, `seed ${seed}, round ${round}`).not.toBeInstanceOf(FrameProblem);
      const frame = parsed as { seq?: number; reliable?: number; lane?: 'bulk' | 'notice' };
      if ('seq' in where) expect([frame.seq, frame.reliable, frame.lane]).toEqual([where.seq, undefined, undefined]);
      else expect([frame.reliable, laneOf(frame), frame.seq]).toEqual([where.reliable, where.lane, undefined]);
    }
  });
});
