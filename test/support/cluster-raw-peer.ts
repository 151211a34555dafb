/**
 * A hand-driven peer for hostile-input tests: opens a raw WebSocket to a node's `/cluster` (or
 * `/client`) path, can run the real dialer handshake (with a right or wrong secret), and then sends
 * whatever bytes or frames a test wants, collecting every frame and the close the node answers with.
 */
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { codec } from '../../runtime/index.js';
import { createDialer, dialerStep, proofOf, transcript, type DialerState } from '../../cluster/core/handshake.js';
import { encodeBatch } from '../../cluster/core/wire.js';

/** A raw connection to a node. */
export class RawPeer {
  readonly ws: WebSocket;
  readonly frames: unknown[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: Array<() => void> = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer) => {
      try {
        const decoded = codec.decode(data);
        if (Array.isArray(decoded)) this.frames.push(...decoded);
      } catch {
        this.frames.push({ type: 'undecodable' });
      }
      for (const waiter of this.#waiters.splice(0)) waiter();
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => {
      for (const waiter of this.#waiters.splice(0)) waiter();
      resolve({ code, reason: reason.toString() });
    }));
    ws.on('error', () => {});
  }

  /** Opens a raw WebSocket to `url` + `path`. */
  static open(url: string, path = '/cluster'): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${url}${path}`, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
      const peer = new RawPeer(ws);
      ws.once('open', () => resolve(peer));
      ws.once('error', reject);
    });
  }

  /** Runs the dialer handshake as node `node` with `secret` and returns the peer once accepted. */
  static async authenticated(url: string, node: string, secret: string): Promise<RawPeer> {
    const peer = await RawPeer.open(url);
    const key = new TextEncoder().encode(secret);
    const start = createDialer({ node, incarnation: Date.now(), address: '' }, key, new Uint8Array(randomBytes(32)));
    let state: DialerState = start.state;
    peer.sendFrames(start.send);
    let consumed = 0;
    for (;;) {
      const { frame, index } = await peer.nextFrameAt((candidate) => ['challenge', 'accept', 'reject'].includes((candidate as { type: string }).type), consumed);
      consumed = index + 1;
      const step = dialerStep(state, frame as never);
      state = step.state;
      if (step.send.length > 0) peer.sendFrames(step.send);
      if (step.verdict?.ok === true) return peer;
      if (step.verdict?.ok === false) throw new Error(`handshake failed: ${step.verdict.code}`);
    }
  }

  /**
   * Sends hello, then an auth proof made with `wrongSecret` (without checking the node's proof first,
   * as an attacker would), and returns the peer.
   */
  static async withWrongSecret(url: string, node: string, wrongSecret: string): Promise<RawPeer> {
    const peer = await RawPeer.open(url);
    const self = { node, incarnation: Date.now(), address: '' };
    const nonce = new Uint8Array(randomBytes(32));
    const key = new TextEncoder().encode(wrongSecret);
    peer.sendFrames(createDialer(self, key, nonce).send);
    const challenge = await peer.nextFrame((frame) => (frame as { type: string }).type === 'challenge') as { node: string; incarnation: number; address: string; nonce: Uint8Array };
    const proof = proofOf(key, transcript('dialer', self, nonce, challenge, challenge.nonce));
    peer.sendFrames([{ type: 'auth', proof }]);
    return peer;
  }

  /** Sends frames as one message (the protocol's framing). */
  sendFrames(frames: readonly unknown[]): void {
    const items = frames.map((frame) => codec.encode(frame));
    this.ws.send(encodeBatch(items, items.reduce((sum, item) => sum + item.length, 0)));
  }

  /** Sends raw bytes as one binary message. */
  sendBytes(bytes: Uint8Array): void {
    this.ws.send(bytes);
  }

  /** The first frame matching `match`, waiting up to 20 s for it. */
  async nextFrame(match: (frame: unknown) => boolean): Promise<unknown> {
    return (await this.nextFrameAt(match, 0)).frame;
  }

  /** The first frame at index `from` or later matching `match`, with its index. */
  async nextFrameAt(match: (frame: unknown) => boolean, from: number): Promise<{ frame: unknown; index: number }> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      for (let index = from; index < this.frames.length; index += 1) if (match(this.frames[index])) return { frame: this.frames[index], index };
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`closed before the expected frame; got ${JSON.stringify(this.frames.map((frame) => (frame as { type?: string }).type))}`);
      if (Date.now() > deadline) throw new Error('no matching frame within 20 s');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        this.#waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  /** The first `error` frame with `code`. */
  errorFrame(code: string): Promise<unknown> {
    return this.nextFrame((frame) => (frame as { type?: string; code?: string }).type === 'error' && (frame as { code: string }).code === code);
  }

  close(): void {
    this.ws.terminate();
  }
}
