/**
 * The pipeline: fault-tolerant Kafka ingestion into Postgres/pgvector with exactly-once effect, and
 * semantic retrieval. See README.md.
 */
export { chunkText, defaultChunking, validateChunking } from './core/chunking.js';
export type { ChunkingOptions } from './core/chunking.js';
export { ingestionServiceId, pipelineReplayCommand, pipelineSearchCommand, pipelineStatusCommand, startIngestionService } from './cli.js';
export type { PipelineLocation } from './cli.js';
export { applyKnown, documentKey, initialState, planBatch, rejectDocument, step, trimPlan } from './core/partition.js';
export type { BatchPlan, PartitionEffect, PartitionInput, PartitionState, PlanOptions, PlannedDeadLetter, PlannedDocument, RawMessage } from './core/partition.js';
export { digestRows } from './core/digest.js';
export type { DigestRows } from './core/digest.js';
export { contentHash, defaultDocumentLimits, parseDocument } from './core/document.js';
export type { DocumentLimits, ParseResult, PipelineDocument } from './core/document.js';
export { hashingEmbedder, hashingVector, tokenize } from './core/embedding.js';
export { reciprocalRankConstant, reciprocalRankFusion } from './core/fusion.js';
export type { FusedRank, RankedList } from './core/fusion.js';
export type { Embedder, HashingEmbedderOptions } from './core/embedding.js';
export { PipelineError } from './errors.js';
export type { PipelineErrorCode, PoisonReason } from './errors.js';
export { defaultConsumerTuning, defaultLaneLimits, startIngestion } from './ingestion.js';
export type { ConsumerMessage, ConsumerTuning, Ingestion, IngestionOptions, IngestionStatus, LaneLimits } from './ingestion.js';
export { admitFetched, mergeBatches, retryDelayMs, sizeOf } from './lanes.js';
export type { LaneStatus } from './lanes.js';
export { createHybridSearch, ensureTextIndex, searchHybrid, searchText, textQueryTermsMax } from './hybrid.js';
export type { HybridHit, HybridSearch, HybridSearchOptions } from './hybrid.js';
export { miniLmDimensions, miniLmEmbedder, miniLmModelName, miniLmPositionsMax } from './minilm-embedder.js';
export type { MiniLmEmbedder, MiniLmEmbedderOptions } from './minilm-embedder.js';
export { createKafka, deadLetterTopicOf, deadLetterTruncatedValueBytes, isPermanentRefusal, kafkaDeadLetterPublisher } from './kafka.js';
export type { DeadLetterPublisher, DeadLetterPublisherOptions } from './kafka.js';
export { openAiEmbedder } from './openai-embedder.js';
export type { OpenAiEmbedderOptions } from './openai-embedder.js';
export { replay } from './replay.js';
export type { ReplayOptions, ReplayResult } from './replay.js';
export { recallAtK, searchResultsMax, searchVector, validateSearchOptions } from './retrieval.js';
export type { SearchFilter, SearchHit, SearchOptions } from './retrieval.js';
export { createSearch, queryLengthMax, searchActor } from './search.js';
export type { Search, SearchMessage, SearchReply } from './search.js';
export { PipelineStore, validateSchemaName } from './store.js';
export type { CommitResult, DeadLetterRow, StoreCounts, StoreOptions } from './store.js';
export { partitionWorker } from './worker.js';
export type { BatchReply, PipelineHooks, WorkerConfig, WorkerMessage } from './worker.js';
