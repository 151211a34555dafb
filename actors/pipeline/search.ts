/**
 * Semantic search as a service: `createSearch` for direct use (the CLI), and `searchActor`, the same
 * behind a mailbox for other actors and the client SDK. Queries are untrusted: they are validated and
 * a bad one gets a typed `{ ok: false, code }` reply, never a crash.
 */
import { behaviour, describeError, refuseUnknown, type Behaviour } from '../../runtime/index.js';
import type { Embedder } from './core/embedding.js';
import { PipelineError } from './errors.js';
import { searchVector, validateSearchOptions, type SearchFilter, type SearchHit, type SearchOptions } from './retrieval.js';
import type { PipelineStore } from './store.js';

/** Longest query text accepted, in characters. */
export const queryLengthMax = 10_000;

/** Searches one store with one embedder. */
export interface Search {
  /** The k chunks nearest to `query` (HNSW, cosine), best first. Throws INVALID_QUERY on bad input. */
  search(query: string, options: SearchOptions): Promise<SearchHit[]>;
  /** The same by sequential scan: exact, slow; the reference for recall. */
  searchExact(query: string, options: SearchOptions): Promise<SearchHit[]>;
}

/** Builds a search over a migrated store. */
export function createSearch(store: PipelineStore, embedder: Embedder): Search {
  const run = async (query: string, options: SearchOptions, exact: boolean): Promise<SearchHit[]> => {
    if (typeof query !== 'string' || query.trim().length === 0 || query.length > queryLengthMax) {
      throw new PipelineError('INVALID_QUERY', `query must be a non-blank string of at most ${queryLengthMax} characters`);
    }
    validateSearchOptions(options);
    const [vector] = await embedder.embed([query]);
    return searchVector(store, vector!, { ...options, exact });
  };
  return { search: (query, options) => run(query, options, false), searchExact: (query, options) => run(query, options, true) };
}

/** Messages of the search actor. */
export type SearchMessage = {
  readonly type: 'pipeline.search';
  readonly query: string;
  readonly k: number;
  readonly filter?: SearchFilter;
  readonly efSearch?: number;
  readonly exact?: boolean;
};

/** Reply of the search actor. */
export type SearchReply =
  | { readonly ok: true; readonly hits: SearchHit[] }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** An actor answering `pipeline.search` asks, one at a time. Store failures crash it into its supervisor. */
export function searchActor(store: PipelineStore, embedder: Embedder): Behaviour<Search, SearchMessage> {
  return behaviour<Search, SearchMessage>({
    name: 'pipeline.search',
    init: () => createSearch(store, embedder),
    async receive(search, message, ctx) {
      if (typeof message !== 'object' || message === null || message.type !== 'pipeline.search') {
        refuseUnknown(ctx, message, 'pipeline.search');
        return search;
      }
      const options: SearchOptions = { k: message.k, ...(message.filter === undefined ? {} : { filter: message.filter }), ...(message.efSearch === undefined ? {} : { efSearch: message.efSearch }) };
      try {
        const hits = message.exact === true ? await search.searchExact(message.query, options) : await search.search(message.query, options);
        ctx.reply({ ok: true, hits } satisfies SearchReply);
      } catch (error) {
        if (!(error instanceof PipelineError) || error.code !== 'INVALID_QUERY') throw error;
        ctx.reply({ ok: false, code: error.code, message: describeError(error).message } satisfies SearchReply);
      }
      return search;
    },
  });
}
