import { describe, expect, it } from 'vitest';
import { VirtualClock, createRng } from '../../../runtime/index.js';

describe('VirtualClock', () => {
  it('fires timers in due order (ties in creation order) only when advanced', () => {
    const clock = new VirtualClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b@20'), 20);
    clock.setTimeout(() => fired.push('a@10'), 10);
    clock.setTimeout(() => fired.push('c@20'), 20);
    const cancelled = clock.setTimeout(() => fired.push('never'), 15);
    clock.clearTimeout(cancelled);
    expect(fired).toEqual([]);
    clock.advance(10);
    expect(fired).toEqual(['a@10']);
    expect(clock.now()).toBe(1010);
    clock.advance(100);
    expect(fired).toEqual(['a@10', 'b@20', 'c@20']);
    expect(clock.now()).toBe(1110);
  });

  it('fires timers scheduled by other timers within the same advance', () => {
    const clock = new VirtualClock();
    const fired: number[] = [];
    clock.setTimeout(() => { fired.push(clock.now()); clock.setTimeout(() => fired.push(clock.now()), 5); }, 5);
    clock.advance(10);
    expect(fired).toEqual([5, 10]);
  });
});

describe('Rng', () => {
  it('replays the same sequence from the same seed and differs across seeds', () => {
    const first = createRng(1234);
    const second = createRng(1234);
    const other = createRng(1235);
    const a = Array.from({ length: 100 }, () => first.next());
    const b = Array.from({ length: 100 }, () => second.next());
    const c = Array.from({ length: 100 }, () => other.next());
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.every((value) => value >= 0 && value < 1)).toBe(true);
  });

  it('draws integers within inclusive bounds', () => {
    const rng = createRng(9);
    const seen = new Set<number>();
    for (let round = 0; round < 1000; round += 1) seen.add(rng.int(3, 6));
    expect([...seen].sort()).toEqual([3, 4, 5, 6]);
  });
});
