/**
 * Typed errors and outcome codes of the pipeline. Poison messages are expected outcomes (a typed
 * reason that goes to the dead-letter topic); I/O failures are `PipelineError`s with a stable code.
 */
import { TroupeError } from '../../runtime/index.js';

export type { PoisonReason } from './core/document.js';

/** Stable codes of pipeline I/O and configuration failures. */
export type PipelineErrorCode =
  | 'INVALID_CONFIG'
  /** The consumer actor is stopping: a wait on its behalf ended early (ingestion.ts). */
  | 'STOPPING'
  | 'STORE_FAILED'
  | 'EMBED_FAILED'
  | 'EMBED_REJECTED'
  | 'KAFKA_FAILED'
  | 'OFFSET_REGRESSION'
  | 'INVALID_QUERY';

/** An I/O or configuration failure in the pipeline. */
export class PipelineError extends TroupeError {
  declare readonly code: PipelineErrorCode;

  constructor(code: PipelineErrorCode, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(code, message, options);
  }
}
