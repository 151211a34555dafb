import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { VirtualClock, createLogger } from '../../../runtime/index.js';

function capture(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

describe('structured log', () => {
  it('writes one JSON line per event with its fields and bindings', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', destination: stream, bindings: { node: 'n1' } });
    log.warn('actor.crashed', { path: '/root/a', error: 'boom' });
    log.debug('hidden', {});
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ event: 'actor.crashed', path: '/root/a', error: 'boom', node: 'n1', level: 40 });
  });

  it('rate-limits each event name and reports how many lines it suppressed', () => {
    const { lines, stream } = capture();
    const clock = new VirtualClock();
    const log = createLogger({ level: 'info', destination: stream, clock, perEventBurst: 3, perEventPerSecond: 1 });
    for (let index = 0; index < 10; index += 1) log.info('flood', { index });
    log.info('other', {});
    expect(lines.map((line) => line.event)).toEqual(['flood', 'flood', 'flood', 'other']);
    clock.advance(1_000);
    log.child({ path: '/x' }).info('flood', { index: 10 });
    expect(lines.at(-1)).toMatchObject({ event: 'flood', index: 10, suppressed: 7, path: '/x' });
  });
});
