/**
 * Host random batch 3 of 4 (host-random-batch.ts). A failure names its run seed;
 * `SEED=<n> npx vitest run test/sim/raft` replays exactly that run.
 */
import { describeHostRandomBatch } from './host-random-batch.js';

describeHostRandomBatch(3);
