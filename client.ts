/**
 * The client SDK: `import { connect } from 'troupe/client'`. A client is not a cluster member; it
 * authenticates with a token and can tell, ask, read the cluster-wide tree and membership, and
 * subscribe to lifecycle and membership events.
 */
export { connect } from './cluster/index.js';
export type { ClientOptions, ClientState, TroupeClient } from './cluster/index.js';
