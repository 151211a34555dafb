/**
 * OTP-style supervision: child specs, strategies, restart intensity and backoff, and the node with its
 * root supervisor.
 */
export { supervisor, EscalationError } from './supervisor.js';
export type { Strategy, SupervisorMessage, SupervisorOptions, SupervisorReply } from './supervisor.js';
export { validateChildSpec, InvalidChildSpecError } from './child-spec.js';
export type { ChildSpec, RestartType, RetryPolicy } from './child-spec.js';
export { backoffDelayMs, recordRestart } from './restart-policy.js';
export type { Backoff, Intensity } from './restart-policy.js';
export { createNode } from './node.js';
export type { NodeOptions, NodeTermination, TroupeNode } from './node.js';
