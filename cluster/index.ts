/**
 * The cluster layer's public surface: cluster nodes over authenticated WebSocket links, the client
 * SDK, the CLI, and the inspection types every tool shares.
 */
export { createClusterNode } from './node.js';
export type { ClusterNode, ClusterNodeOptions, ClusterStats, ClusterTlsOptions } from './node.js';
export type { SendResult } from './router.js';
export { connect } from './client.js';
export type { ClientOptions, ClientState, TroupeClient } from './client.js';
export { runCli, renderMembers, renderTree } from './cli.js';
export { runNode, startBooleanFlags, startOptions, startValueFlags } from './start.js';
export type { CliIo, Command } from './cli.js';
export type { ParsedArgs } from './args.js';
export { ClusterError, closeCodes } from './errors.js';
export type { ClusterErrorCode } from './errors.js';
export { defaultSettings, resolveSettings } from './config.js';
export type { ClusterSettings, DetectorSettings, SettingsOverrides } from './config.js';
export type { MemberStatus, MemberView, MembershipEvent } from './core/membership.js';
export type { Topic } from './core/client-frames.js';
export { adminToken, authorizeRead, authorizeSend, matchesPath, parsePathPattern, parseScope, parseTokenSpecs, TokenSpecError } from './core/scopes.js';
export type { Authorization, Grant, PathPattern, ReadOperation, Scope, TokenSpec } from './core/scopes.js';
export type { ClusterTree, NodeTree } from './inspector.js';
export type { ApiRoute, UiPage } from './http.js';
export { timeToPhiMs } from './core/phi.js';
export { demoChildren } from './demo.js';
export type { StreamReport } from './demo.js';
