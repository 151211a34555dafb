/**
 * WebSocket message framing for links: one message is one CBOR array of frames (RFC 8949 major type
 * 4). Frames are encoded once, when they are queued, and a batch is made by writing an array header in
 * front of the already-encoded items, so batching costs a copy and no re-encoding.
 * Decoding goes through the kernel codec, which bounds size and depth before building any value.
 */
import { DecodeError, type Codec } from '../../runtime/index.js';

/** The CBOR header of a definite-length array of `count` items. */
export function arrayHeader(count: number): Uint8Array {
  if (count < 24) return Uint8Array.of(0x80 + count);
  if (count < 0x100) return Uint8Array.of(0x98, count);
  if (count < 0x10000) return Uint8Array.of(0x99, count >> 8, count & 0xff);
  return Uint8Array.of(0x9a, (count >>> 24) & 0xff, (count >>> 16) & 0xff, (count >>> 8) & 0xff, count & 0xff);
}

/** One message holding `items` (each a complete encoded CBOR item), `totalBytes` being their summed length. */
export function encodeBatch(items: readonly Uint8Array[], totalBytes: number): Uint8Array {
  const header = arrayHeader(items.length);
  const message = new Uint8Array(header.length + totalBytes);
  message.set(header, 0);
  let offset = header.length;
  for (const item of items) {
    message.set(item, offset);
    offset += item.length;
  }
  return message;
}

/** The outcome of decoding one untrusted message. */
export type DecodedMessage =
  | { readonly ok: true; readonly frames: readonly unknown[] }
  | { readonly ok: false; readonly code: 'DECODE_FAILED' | 'FRAME_TOO_LARGE' | 'DEPTH_EXCEEDED' | 'FRAME_INVALID'; readonly message: string };

/** Decodes a message into its frames, refusing anything that is not a bounded CBOR array. */
export function decodeMessage(codec: Codec, bytes: Uint8Array, framesMax: number): DecodedMessage {
  let value: unknown;
  try {
    value = codec.decode(bytes);
  } catch (error) {
    if (error instanceof DecodeError) {
      const code = error.code === 'FRAME_TOO_LARGE' || error.code === 'DEPTH_EXCEEDED' ? error.code : 'DECODE_FAILED';
      return { ok: false, code, message: error.message };
    }
    throw error;
  }
  if (!Array.isArray(value)) return { ok: false, code: 'FRAME_INVALID', message: 'a message must be an array of frames' };
  if (value.length === 0 || value.length > framesMax) {
    return { ok: false, code: 'FRAME_INVALID', message: `a message carries 1-${framesMax} frames, not ${value.length}` };
  }
  return { ok: true, frames: value };
}
