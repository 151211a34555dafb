/**
 * Process chaos, five nodes (see describeRaftChaos in test/support/raft-chaos.ts).
 */
import { describeRaftChaos } from '../../support/raft-chaos.js';

describeRaftChaos(['n1', 'n2', 'n3', 'n4', 'n5'], 5);
