/**
 * Random batch 2 of the MVBA simulation. A failure names its run seed;
 * `SEED=<n> npx vitest run test/sim/mvba` replays exactly that run.
 */
import { describeRandomBatch } from './random-batch.js';

describeRandomBatch(2);
