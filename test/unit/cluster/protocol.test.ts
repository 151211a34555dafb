/**
 * The wire protocol on its own, without sockets: batches round-trip through the kernel codec, every
 * malformed message or frame is refused with a typed code (never an exception), envelopes survive
 * the positional form with all their fields, and the plain-data check matches the codec.
 */
import { describe, expect, it } from 'vitest';
import { Codec, codec } from '../../../runtime/index.js';
import { FrameProblem, envelopeOf, laneOf, parseHandshakeFrame, parseLinkFrame, streamWire, type EnvelopeFrame } from '../../../cluster/core/frames.js';
import { parseClientFrame, parseServerFrame } from '../../../cluster/core/client-frames.js';
import { measurePlain } from '../../../cluster/core/plain.js';
import { arrayHeader, decodeMessage, encodeBatch } from '../../../cluster/core/wire.js';

const batch = (frames: unknown[]): Uint8Array => {
  const items = frames.map((frame) => codec.encode(frame));
  return encodeBatch(items, items.reduce((sum, item) => sum + item.length, 0));
};

describe('message framing', () => {
  it('round-trips batches of every size class of the array header', () => {
    for (const count of [1, 23, 24, 255, 256, 70_000]) {
      const frames = Array.from({ length: count }, (_, index) => ({ type: 'heartbeat', sentMs: index }));
      const decoded = decodeMessage(new Codec({ frameBytesMax: 16 * 1024 * 1024 }), batch(frames), 100_000);
      expect(decoded.ok && decoded.frames.length).toBe(count);
    }
    expect(arrayHeader(70_000)[0]).toBe(0x9a);
  });

  it('refuses what is not a bounded array of frames, with a code', () => {
    expect(decodeMessage(codec, Uint8Array.of(0xff, 0x00), 10)).toMatchObject({ ok: false, code: 'DECODE_FAILED' });
    expect(decodeMessage(codec, codec.encode({ a: 1 }), 10)).toMatchObject({ ok: false, code: 'FRAME_INVALID' });
    expect(decodeMessage(codec, codec.encode([]), 10)).toMatchObject({ ok: false, code: 'FRAME_INVALID' });
    expect(decodeMessage(codec, batch([1, 2, 3]), 2)).toMatchObject({ ok: false, code: 'FRAME_INVALID' });
    expect(decodeMessage(new Codec({ frameBytesMax: 10 }), batch([{ big: 'x'.repeat(100) }]), 10)).toMatchObject({ ok: false, code: 'FRAME_TOO_LARGE' });
    // One hundred nested one-element arrays around a 1.
    expect(decodeMessage(codec, new Uint8Array([...new Array(100).fill(0x81), 0x01]), 10)).toMatchObject({ ok: false, code: 'DEPTH_EXCEEDED' });
  });

  it('never throws on random bytes', () => {
    let state = 12345;
    for (let round = 0; round < 2_000; round += 1) {
      const bytes = new Uint8Array(1 + (round % 64));
      for (let index = 0; index < bytes.length; index += 1) bytes[index] = (state = (state * 1103515245 + 12345) >>> 0) >>> 24;
      const decoded = decodeMessage(codec, bytes, 100);
      if (!decoded.ok) continue;
      for (const frame of decoded.frames) expect(() => parseLinkFrame(frame, 10)).not.toThrow();
    }
  });
});

describe('envelope frames', () => {
  const roundTrip = (wire: unknown): EnvelopeFrame => {
    const frame = parseLinkFrame(codec.decode(codec.encode(wire)), 10);
    if (frame instanceof FrameProblem) throw new Error(frame.message);
    return frame as EnvelopeFrame;
  };

  it('carries a tell compactly and an ask with all its fields', () => {
    const tell = { id: 'n1.x.1', to: { node: 'n2', path: '/root/sink' }, body: { type: 'n', i: 1 } };
    const tellWire = streamWire({ type: 'envelope', envelope: tell }, { seq: 7 });
    expect(tellWire).toEqual([0, 7, 'n1.x.1', '/root/sink', { type: 'n', i: 1 }]);
    expect(envelopeOf(roundTrip(tellWire), 'n2')).toEqual(tell);
    const ask = {
      id: 'n1.x.2', to: { node: 'n2', path: '/root/echo' }, body: [1n, { bytes: 'as-text' }], from: { node: 'n1', path: '/a' },
      corr: 'x.2', replyTo: { node: 'n1', path: '/temp/ask-x.2' }, deadlineMs: 12.5, attempt: 1,
    };
    const askFrame = roundTrip(streamWire({ type: 'envelope', envelope: ask }, { reliable: 3, lane: 'bulk' }));
    expect(askFrame.reliable).toBe(3);
    expect(envelopeOf(askFrame, 'n2')).toEqual(ask);
    const failure = { id: 'f', to: { node: 'n1', path: '/temp/ask-x.2' }, body: null, corr: 'x.2', failure: { code: 'NO_SUCH_ACTOR', message: 'gone' } };
    expect(envelopeOf(roundTrip(streamWire({ type: 'envelope', envelope: failure }, { seq: 1 })), 'n1')).toEqual(failure);
  });

  it('refuses envelopes with a bad shape as FRAME_INVALID', () => {
    const bad: unknown[] = [
      [0, 1, 'id', 'no-slash', 1], [3, 1, 'id', '/a', 1], [-1, 1, 'id', '/a', 1], [2, 0, 'id', '/a', 1], [0, 0, 'id', '/a', 1], [0, 1, '', '/a', 1], [0, 1, 'id', '/a'],
      [0, 1, 'id', '/a', 1, { corr: 'c' }], [0, 1, 'id', '/a', 1, { from: { node: 'bad node', path: '/x' } }], [0, 1, 'id', '/a', 1, 'options'],
    ];
    for (const wire of bad) expect(parseLinkFrame(wire, 10)).toMatchObject({ code: 'FRAME_INVALID' });
  });

  it('refuses unknown frame types as FRAME_UNKNOWN and other shapes as FRAME_INVALID', () => {
    expect(parseLinkFrame({ type: 'nope' }, 10)).toMatchObject({ code: 'FRAME_UNKNOWN' });
    expect(parseLinkFrame('text', 10)).toMatchObject({ code: 'FRAME_INVALID' });
    expect(parseLinkFrame({ type: 'watch', seq: 1, reliable: 2, target: '/a', watcher: { node: 'n', path: '/w' } }, 10)).toMatchObject({ code: 'FRAME_INVALID' });
    expect(parseLinkFrame({ type: 'gossip', members: new Array(11).fill({ name: 'a', incarnation: 1, address: '', status: 'up' }) }, 10)).toMatchObject({ code: 'FRAME_INVALID' });
    expect(parseLinkFrame({ type: 'ack', upTo: -1 }, 10)).toMatchObject({ code: 'FRAME_INVALID' });
    expect(parseLinkFrame({ type: 'ack', upTo: 1, lane: 'express' }, 10)).toMatchObject({ code: 'FRAME_INVALID' });
    expect(parseLinkFrame({ type: 'watch', seq: 1, lane: 'notice', target: '/a', watcher: { node: 'n', path: '/w' } }, 10)).toMatchObject({ code: 'FRAME_INVALID' });
    expect(parseLinkFrame({ type: 'watch', reliable: 1, lane: 7, target: '/a', watcher: { node: 'n', path: '/w' } }, 10)).toMatchObject({ code: 'FRAME_INVALID' });
  });
});

describe('the notice lane on the wire', () => {
  const watcher = { node: 'n1', path: '/root/w' };

  it('carries notice-lane envelopes as stream 2 and bulk-lane ones as stream 1, each with its number', () => {
    const notice = { id: 'n1.t.1', to: { node: 'n2', path: '/root/w' }, body: { type: 'terminated', ref: { node: 'n1', path: '/root/x' }, reason: 'stopped' } };
    const wire = streamWire({ type: 'envelope', envelope: notice }, { reliable: 4, lane: 'notice' });
    expect(wire).toEqual([2, 4, 'n1.t.1', '/root/w', notice.body]);
    expect(parseLinkFrame(wire, 10)).toEqual({ type: 'envelope', reliable: 4, lane: 'notice', id: 'n1.t.1', path: '/root/w', body: notice.body });
    expect(streamWire({ type: 'envelope', envelope: notice }, { reliable: 4, lane: 'bulk' })).toEqual([1, 4, 'n1.t.1', '/root/w', notice.body]);
    expect(laneOf(parseLinkFrame([1, 4, 'n1.t.1', '/root/w', null], 10) as EnvelopeFrame)).toBe('bulk');
  });

  it('carries watches with their lane, and acks of either lane', () => {
    const wire = streamWire({ type: 'watch', target: '/root/x', watcher }, { reliable: 2, lane: 'notice' });
    expect(wire).toEqual({ type: 'watch', reliable: 2, lane: 'notice', target: '/root/x', watcher });
    expect(parseLinkFrame(wire, 10)).toEqual(wire);
    expect(parseLinkFrame(streamWire({ type: 'unwatch', target: '/root/x', watcher }, { reliable: 2, lane: 'bulk' }), 10)).toEqual({ type: 'unwatch', reliable: 2, target: '/root/x', watcher });
    expect(parseLinkFrame({ type: 'ack', upTo: 3, lane: 'notice' }, 10)).toEqual({ type: 'ack', upTo: 3, lane: 'notice' });
    expect(laneOf(parseLinkFrame({ type: 'ack', upTo: 3 }, 10) as { lane?: 'bulk' | 'notice' })).toBe('bulk');
  });
});

describe('handshake and client frames', () => {
  it('accepts well-formed handshake frames and refuses short nonces', () => {
    const nonce = new Uint8Array(32);
    expect(parseHandshakeFrame({ type: 'hello', version: 1, node: 'n1', incarnation: 5, address: 'ws://x', nonce })).toMatchObject({ ok: true });
    expect(parseHandshakeFrame({ type: 'hello', version: 1, node: 'n1', incarnation: 5, address: 'ws://x', nonce: new Uint8Array(8) })).toMatchObject({ ok: false, code: 'FRAME_INVALID' });
    expect(parseHandshakeFrame({ type: 'envelope' })).toMatchObject({ ok: false, code: 'FRAME_UNKNOWN' });
  });

  it('parses client requests and refuses bad ones', () => {
    expect(parseClientFrame({ type: 'request', id: 1, op: 'ask', target: { node: 'n', path: '/a' }, body: 1, timeoutMs: 5 })).toMatchObject({ ok: true });
    expect(parseClientFrame({ type: 'request', id: 1, op: 'drop-tables' })).toMatchObject({ ok: false, code: 'FRAME_INVALID' });
    expect(parseClientFrame({ type: 'hello', version: 1, token: 'x'.repeat(10_000) })).toMatchObject({ ok: false, code: 'FRAME_INVALID' });
    expect(parseServerFrame({ type: 'response', id: 1, ok: false, code: 'NODE_DOWN', message: 'down' })).toMatchObject({ ok: true });
  });
});

describe('the plain-data check', () => {
  it('admits what the codec admits and refuses what it refuses', () => {
    const admitted: unknown[] = [null, undefined, true, 1.5, 2n ** 70n, 'text', new Uint8Array(3), [1, [2]], { a: { b: 'c' } }, Object.create(null)];
    for (const value of admitted) {
      expect(() => codec.encode(value)).not.toThrow();
      expect(measurePlain(value, 64)).toBeGreaterThanOrEqual(codec.encode(value).length);
    }
    const refused: unknown[] = [new Date(), new Map(), () => 1, Symbol('s'), { nested: new Set() }, JSON.parse('{"__proto__": 1}')];
    for (const value of refused) {
      expect(() => codec.encode(value)).toThrow();
      expect(() => measurePlain(value, 64)).toThrow(expect.objectContaining({ code: 'ENCODE_FAILED' }));
    }
    expect(() => measurePlain([[[[1]]]], 3)).toThrow(expect.objectContaining({ code: 'DEPTH_EXCEEDED' }));
  });
});
