import { miniLmEmbedder } from './actors/pipeline/index.js';
import { loadRetrievalCorpus } from './test/bench/retrieval.js';
const texts = loadRetrievalCorpus().passages.map((p) => p.text);
for (let round = 0; round < 2; round++) for (const threads of [undefined, 1, 2]) for (const batchSizeMax of [8, 16]) {
  const e = await miniLmEmbedder({ modelDirectory: '/root/.cache/troupe/minilm-0.1.2/model', threads, batchSizeMax });
  await e.embed(texts.slice(0, 8));
  const t = performance.now(); await e.embed(texts); const s = (performance.now() - t) / 1000;
  console.log(process.env.NOSPIN ?? 'spin', threads, batchSizeMax, Math.round(texts.length / s), 'texts/s');
  await e.close();
}
