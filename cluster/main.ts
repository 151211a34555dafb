/**
 * The node process entry used by tests and examples: `node --import tsx cluster/main.ts --name n1 ...`
 * takes the same flags as `troupe start` and runs a cluster node with the demo child set until
 * SIGTERM, when it leaves gracefully.
 */
import { parseArgs } from './args.js';
import { runNode, startBooleanFlags, startOptions, startValueFlags } from './start.js';

try {
  const args = parseArgs(process.argv.slice(2), { values: startValueFlags, booleans: startBooleanFlags });
  process.exitCode = await runNode(startOptions(args), (line) => process.stdout.write(`${line}\n`));
} catch (error) {
  process.stderr.write(`troupe node: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
// Open sockets or timers must not keep a stopped node alive.
process.exit(process.exitCode);
