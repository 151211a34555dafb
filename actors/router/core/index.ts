/** The routing core's surface (pure: no I/O, no clock, no randomness). */
export { PrefixTree } from './prefix-tree.js';
export type { TreePath } from './prefix-tree.js';
export { blockKeys, hashBytes, hashString, mix } from './hash.js';
export { buildRing, loadBound, ringLookup } from './ring.js';
export type { Ring } from './ring.js';
export { defaultRouterConfig, policyNames, routerConfig } from './config.js';
export type { PolicyName, RouterConfig, SglangThresholds } from './config.js';
export {
  capacityBlocks, checkInvariants, eligibleBackends, initialRouterState, restoreState, sessionHash, snapshotOf, step,
} from './router.js';
export type { BackendState, BackendStatus, RouteReason, RouterEffect, RouterInput, RouterSnapshot, RouterState, RouterStep } from './router.js';
export { admit, initialAdmission } from './admission.js';
export type { Admission, AdmissionState, TenantLimits } from './admission.js';
