/**
 * Small workflows the node that `npm start` runs hosts, so the CLI and the web UI have something to
 * show: `greet` (three quick steps), `order` (a step that fails once and is retried, a durable timer,
 * a signal wait, a saga undo if shipping is refused) and `payment` (a card declined for good, which
 * `troupe workflow retry` then runs again as run 2, where the card goes through).
 */
import { workflow, type WorkflowDefinition } from './definition.js';

/** Three steps; returns a greeting. */
export const greetWorkflow = workflow('greet', async (ctx, input: { name?: string }) => {
  const name = await ctx.step('normalize', () => String(input?.name ?? 'world').trim());
  const greeting = await ctx.step('compose', () => `hello, ${name}`);
  return ctx.step('stamp', () => `${greeting} (at ${new Date(ctx.now()).toISOString()})`);
});

/** An order: reserve, charge (fails on its first attempt), cool off, wait for `approve`, ship (refused if the approver is `nobody`). */
export const orderWorkflow = workflow('order', async (ctx, input: { item?: string; coolOffMs?: number }) => {
  const item = String(input?.item ?? 'book');
  let stage = 'reserving';
  ctx.setQuery('stage', () => stage);
  const reservation = await ctx.step('reserve', (step) => `reservation ${step.idempotencyKey}`, { compensate: () => `released ${item}` });
  stage = 'charging';
  const charge = await ctx.step('charge', (step) => {
    if (step.attempt === 1) throw Object.assign(new Error('payment service busy'), { code: 'UNAVAILABLE' });
    return `charged for ${item}`;
  }, { retry: { initialIntervalMs: 200, maximumAttempts: 5 }, compensate: () => `refunded ${item}` });
  stage = 'cooling off';
  await ctx.sleep('cool-off', typeof input?.coolOffMs === 'number' ? input.coolOffMs : 1_000);
  stage = 'awaiting approval';
  const approver = await ctx.signal<string>('approve');
  stage = 'shipping';
  return ctx.step('ship', () => {
    if (approver === 'nobody') throw Object.assign(new Error('nobody approved the shipment'), { code: 'NOT_APPROVED' });
    return `${reservation}; ${charge}; approved by ${approver}; shipped`;
  }, { retry: { nonRetryableErrorTypes: ['NOT_APPROVED'] } });
});

/** A payment whose card is declined (non-retryable) in run 1; `retry` starts run 2, whose keys differ, and it goes through. */
export const paymentWorkflow = workflow('payment', async (ctx, input: { cents?: number }) => {
  return ctx.step('charge', (step) => {
    if (!step.idempotencyKey.includes('#')) throw Object.assign(new Error('card declined'), { code: 'CARD_DECLINED' });
    return `charged ${Number(input?.cents ?? 0)} cents under ${step.idempotencyKey}`;
  }, { retry: { nonRetryableErrorTypes: ['CARD_DECLINED'] } });
});

/** The demo workflow types. */
export const demoWorkflows: readonly WorkflowDefinition<never, unknown>[] = [greetWorkflow, orderWorkflow, paymentWorkflow] as WorkflowDefinition<never, unknown>[];
