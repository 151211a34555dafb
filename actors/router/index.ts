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
export { admit, initialAdmission } from './core/index.js';
export type { Admission, AdmissionState, TenantLimits } from './core/index.js';
export { startGateway } from './gateway.js';
export type { Gateway, GatewayOptions } from './gateway.js';
export { gatewayLimits } from './limits.js';
export type { GatewayLimits } from './limits.js';
export { routerBehaviour } from './router-actor.js';
export type { BackendConfig, RouteReply, RouterActorOptions, RouterActorState, RouterMessage, RouterView } from './router-actor.js';
export { watcherBehaviour } from './watcher-actor.js';
export type { WatcherMessage, WatcherState } from './watcher-actor.js';
export { requestBehaviour } from './request-actor.js';
export type { RequestMessage, RequestSpec, RequestState } from './request-actor.js';
export { renderChat, startLlamaBackend } from './llama-backend.js';
export type { LlamaBackend, LlamaBackendOptions } from './llama-backend.js';
export { parseGenerationRequest, protocolLimits, routingText, routingTextAfter } from './openai-protocol.js';
export type { ApiFailure, ChatMessage, GenerationRequest, ProtocolLimits } from './openai-protocol.js';
export { SseParser, chunkContent } from './sse.js';
export type { ChunkContent, SseEvent } from './sse.js';
