/**
 * Memory held for remote parties is bounded in bytes (a real `npm start` node):
 *   - large undeliverable tells (20 of 7.5 MB; the original report used 93 of 8 MB) leave summaries in
 *     the dead-letter ring, not bodies, and the node's resident memory stays under a stated bound;
 *   - 300 lifecycle subscribers that never read, plus 5,000 tells to nobody: the dead-letter events
 *     are coalesced (a reading subscriber sees a handful and one count), and the node stays responsive.
 * After each, the node answers a legitimate client and the KV value acknowledged before reads back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type TroupeClient } from '../../../cluster/index.js';
import { limits, type InspectionEvent } from '../../../runtime/index.js';
import { waitFor } from '../../support/wait.js';
import { kvPut, RawClient, rssMb, startNpmNode, stillServes, stopStartedNodes, type StartedNode } from './support.js';

const secret = 'limits-memory-secret';
const token = 'limits-memory-token';
const kv = { key: 'before-flood', value: 'kept' };
const letters = 20;
const letterBytes = 7.5 * 1024 * 1024;
/** Resident memory after the letters: under this many MB above where the node started (bodies would take 150+ MB). */
const rssGrowthMbMax = 300;

interface DeadLetterSummary { readonly to: string; readonly messageType: string; readonly bytes: number; readonly preview: string }

describe('memory bounded in bytes on an npm start node', () => {
  let node: StartedNode;
  let client: TroupeClient;

  beforeAll(async () => {
    node = await startNpmNode({ secret, token });
    client = await connect(node.url, { token });
    await kvPut(client, 'n1', kv.key, kv.value);
  }, 180_000);

  afterAll(async () => {
    await client?.close();
    await stopStartedNodes();
  });

  it('keeps summaries of large dead letters, not their bodies', async () => {
    const before = rssMb(node.pid);
    const body = new Uint8Array(letterBytes).fill(7);
    for (let index = 0; index < letters; index += 1) await client.tell({ node: 'n1', path: '/root/nobody' }, { type: 'upload', index, body });
    const list = await client.ask<{ received: number; recent: DeadLetterSummary[] }>({ node: 'n1', path: '/system/deadLetters' }, { type: 'deadLetters.list' }, { timeoutMs: 20_000 });
    const uploads = list.recent.filter((letter) => letter.messageType === 'upload');
    expect(uploads).toHaveLength(letters);
    for (const letter of uploads) {
      expect(letter.bytes).toBeGreaterThan(letterBytes);
      expect(letter.preview.length).toBeLessThanOrEqual(limits.deadLetterPreviewChars);
    }
    // The whole list crosses the wire in a few kilobytes: no body came along.
    expect(JSON.stringify(list).length).toBeLessThan(100 * 1024);
    expect(rssMb(node.pid) - before).toBeLessThan(rssGrowthMbMax);
    await stillServes(node, token, kv);
  }, 180_000);

  it('coalesces dead-letter events, so 300 slow subscribers and 5,000 tells do not stall the node', async () => {
    const before = rssMb(node.pid);
    const slow: RawClient[] = [];
    const reader = await connect(node.url, { token });
    const seen: InspectionEvent[] = [];
    try {
      // Twenty at a time: one address may have only its budget of handshakes under way at once.
      for (let batch = 0; batch < 15; batch += 1) {
        const wave = Array.from({ length: 20 }, () => new RawClient(node.url));
        slow.push(...wave);
        expect((await Promise.all(wave.map((subscriber) => subscriber.opened))).every(Boolean)).toBe(true);
        for (const subscriber of wave) {
          subscriber.send({ type: 'hello', version: 1, token });
          subscriber.send({ type: 'request', id: 1, op: 'subscribe', topic: 'lifecycle' });
        }
      }
      await waitFor(() => slow.every((subscriber) => subscriber.frames.some((frame) => (frame as { type?: string; id?: number }).type === 'response')), { timeoutMs: 30_000, what: 'every subscription' });
      for (const subscriber of slow) subscriber.stopReading();
      await reader.subscribe('lifecycle', (event) => { if ((event as InspectionEvent).type === 'deadLetter') seen.push(event as InspectionEvent); });
      const tells: Array<Promise<unknown>> = [];
      for (let index = 0; index < 5_000; index += 1) {
        tells.push(client.tell({ node: 'n1', path: '/root/nobody' }, { type: 'flood', index }).catch((error: unknown) => error));
        if (tells.length % 1_000 === 0) await Promise.all(tells.splice(0));
      }
      await Promise.all(tells);
      // The node answers at once; the reading subscriber gets a few events and then one with the count.
      await stillServes(node, token, kv);
      await waitFor(() => seen.some((event) => event.type === 'deadLetter' && (event.count ?? 0) > 0), { timeoutMs: 30_000, what: 'a coalesced dead-letter event' });
      const represented = seen.reduce((sum, event) => sum + (event.type === 'deadLetter' ? event.count ?? 1 : 0), 0);
      expect(seen.length).toBeLessThan(200);
      expect(represented).toBeGreaterThan(seen.length);
    } finally {
      for (const subscriber of slow) subscriber.terminate();
      await reader.close();
    }
    expect(rssMb(node.pid) - before).toBeLessThan(rssGrowthMbMax);
    await stillServes(node, token, kv);
  }, 180_000);
});
