/**
 * Embedding a Troupe node in your own service: a supervised counter that survives a crash.
 * Run: npm run build && node dist/examples/embed.js
 */
import { behaviour, createNode, refuseUnknown } from '../index.js';

type CounterMessage = { type: 'add'; amount: number } | { type: 'get' } | { type: 'fail' };

const counter = behaviour<number, CounterMessage>({
  name: 'counter',
  init: () => 0, // a durable component would rebuild its state from disk here
  receive(total, message, ctx) {
    // `?.`: a message that is not an object (null, a string) has no type and is refused below.
    if (message?.type === 'add' && typeof message.amount === 'number') return total + message.amount;
    if (message?.type === 'fail') throw new Error('simulated bug');
    if (message?.type === 'get') ctx.reply(total);
    else refuseUnknown(ctx, message, 'counter'); // an unknown message never changes the state
    return total;
  },
});

const node = await createNode({ name: 'embedded' });
const ref = await node.startChild({ id: 'counter', start: counter, restart: 'permanent', shutdownMs: 1000, kind: 'worker' });
node.system.tell(ref, { type: 'add', amount: 2 });
console.log('total:', await node.system.ask(ref, { type: 'get' }));
node.system.tell(ref, { type: 'fail' }); // crashes; the root supervisor restarts it and init runs again
console.log('after restart:', await node.system.ask(ref, { type: 'get' }));
console.log(JSON.stringify(node.tree(), null, 2));
await node.stop();
