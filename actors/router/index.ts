/**
 * The inference router: an OpenAI-compatible gateway that sends each request to the backend most
 * likely to hold its prompt's KV cache without overloading any. The only public surface of
 * actors/router.
 */
export {
  PrefixTree, blockKeys, buildRing, capacityBlocks, checkInvariants, defaultRouterConfig, eligibleBackends, initialRouterState, loadBound,
  policyNames, restoreState, ringLookup, routerConfig, sessionHash, snapshotOf, step,
} from './core/index.js';
export type {
  BackendState, BackendStatus, PolicyName, Ring, RouteReason, RouterConfig, RouterEffect, RouterInput, RouterSnapshot, RouterState, RouterStep,
  SglangThresholds, TreePath,
} from './core/index.js';
