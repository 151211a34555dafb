/**
 * Tenant admission (rate limit and token budget) and the bounded SSE parser.
 */
import { describe, expect, it } from 'vitest';
import { SseParser, admit, chunkContent, initialAdmission } from '../../../actors/router/index.js';

describe('tenant admission', () => {
  const limits = { requestsPerSecond: 2, burst: 2, tokenBudget: 1_000, budgetWindowMs: 60_000 };

  it('refuses past the burst until the bucket refills, per tenant', () => {
    const state = initialAdmission(10);
    expect(admit(state, 'a', limits, 0, 10)).toEqual({ ok: true });
    expect(admit(state, 'a', limits, 0, 10)).toEqual({ ok: true });
    expect(admit(state, 'a', limits, 0, 10)).toEqual({ ok: false, code: 'RATE_LIMITED', retryAfterMs: 500 });
    expect(admit(state, 'b', limits, 0, 10)).toEqual({ ok: true });
    expect(admit(state, 'a', limits, 500, 10)).toEqual({ ok: true });
  });

  it('refuses a tenant whose token budget for the window is spent, until the window turns', () => {
    const state = initialAdmission(10);
    expect(admit(state, 'a', limits, 0, 900)).toEqual({ ok: true });
    expect(admit(state, 'a', limits, 1_000, 200)).toEqual({ ok: false, code: 'BUDGET_EXHAUSTED', retryAfterMs: 59_000 });
    expect(admit(state, 'a', limits, 60_000, 200)).toEqual({ ok: true });
  });

  it('tenants past the bound share one entry, so the table stays bounded', () => {
    const state = initialAdmission(2);
    for (const tenant of ['a', 'b', 'c', 'd', 'e']) admit(state, tenant, limits, 0, 1);
    expect(state.tenants.size).toBe(3);
  });
});

describe('SSE parser', () => {
  it('splits events across chunk boundaries and reads text, usage and errors', () => {
    const parser = new SseParser(1_000);
    expect(parser.push('data: {"choices":[{"delta":{"content":"he')).toEqual([]);
    const events = parser.push('llo"}}]}\n\ndata: {"choices":[],"usage":{"prompt_tokens_details":{"cached_tokens":7}}}\n\ndata: [DONE]\n\n');
    expect(Array.isArray(events) && events.map((event) => chunkContent(event.data))).toEqual([
      { text: 'hello', hasUsage: false }, { text: '', hasUsage: true, cachedTokens: 7 }, undefined,
    ]);
    expect(chunkContent('{"error":{"message":"boom"}}')).toMatchObject({ error: 'boom' });
  });

  it('refuses an event larger than its limit', () => {
    expect(new SseParser(16).push(`data: ${'x'.repeat(100)}`)).toEqual({ error: 'an event exceeds 16 bytes' });
  });
});
