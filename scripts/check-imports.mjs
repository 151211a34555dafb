// Import-boundary lint (DESIGN.md section 1): the arrows between layers only point down, a component is
// reached only through its index.ts, and protocol cores stay pure. Exits non-zero listing every violation.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';

const root = process.cwd();
const layers = ['runtime', 'supervisors', 'cluster', 'actors', 'examples'];
const runtimePackages = new Set(['nact', 'cbor-x', 'pino']);
// Pure, deterministic libraries with no I/O that a protocol core may use.
const corePackages = [/^@noble\/hashes(\/|$)/];
const violations = [];

function walk(directory) {
  let entries = [];
  try { entries = readdirSync(directory); } catch { return []; }
  return entries.flatMap((entry) => {
    const path = join(directory, entry);
    if (entry === 'node_modules') return [];
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every module specifier in a file, and whether it is a type-only import (erased at build time). */
function specifiers(source) {
  const found = [];
  const pattern = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;
  for (const match of source.matchAll(pattern)) {
    found.push({ specifier: match[1] ?? match[2] ?? match[3], typeOnly: /^(import|export)\s+type\s/.test(match[0]) });
  }
  return found;
}

function layerOf(file) {
  const parts = relative(root, file).split(sep);
  if (parts[0] === 'actors') return { layer: 'actors', component: parts[1] };
  return { layer: parts[0] };
}

function isCore(file) {
  const parts = relative(root, file).split(sep);
  if (parts[0] === 'cluster') return parts[1] === 'core';
  // The supervisor core and the restart arithmetic it uses.
  if (parts[0] === 'supervisors') return /^(core|restart-policy)\.(js|ts)$/.test(parts[1] ?? '') || parts[1] === 'core';
  return parts[0] === 'actors' && (parts[2] === 'core.ts' || parts[2] === 'core');
}

function check(file) {
  const source = readFileSync(file, 'utf8');
  const from = layerOf(file);
  const where = relative(root, file);
  for (const { specifier, typeOnly } of specifiers(source)) {
    if (!specifier.startsWith('.')) {
      const external = specifier.startsWith('node:') ? 'node' : specifier;
      if (from.layer === 'runtime' && external !== 'node' && !runtimePackages.has(specifier)) violations.push(`${where}: runtime may not import ${specifier}`);
      if (isCore(file) && !corePackages.some((pattern) => pattern.test(specifier))) violations.push(`${where}: a pure core may not import ${specifier}`);
      continue;
    }
    const target = normalize(join(dirname(file), specifier));
    const to = layerOf(target);
    const targetPath = relative(root, target);
    const allowed = {
      runtime: ['runtime'],
      supervisors: ['runtime', 'supervisors'],
      cluster: ['runtime', 'supervisors', 'cluster'],
      actors: ['runtime', 'supervisors', 'cluster', 'actors'],
      examples: layers.concat(['.']),
    }[from.layer];
    if (allowed === undefined) continue;
    const toLayer = layers.includes(to.layer) ? to.layer : '.';
    if (!allowed.includes(toLayer)) violations.push(`${where}: ${from.layer} may not import ${targetPath}`);
    if (from.layer === 'actors' && to.layer === 'actors' && to.component !== from.component) {
      const parts = targetPath.split(sep);
      if (parts.length !== 3 || !/^index\.(js|ts)$/.test(parts[2])) violations.push(`${where}: import another component only through its index.ts, not ${targetPath}`);
    }
    const sameComponent = from.layer === 'cluster' || from.layer === 'supervisors' ? to.layer === from.layer : to.layer === 'actors' && to.component === from.component;
    if (isCore(file) && !typeOnly && !(to.layer === 'runtime' || (sameComponent && (isCore(target) || /types?\.(js|ts)$/.test(targetPath))))) {
      violations.push(`${where}: a pure core may import only runtime and its own core, not ${targetPath}`);
    }
  }
  if (isCore(file)) {
    const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    for (const [pattern, what] of [[/\bDate\.now\s*\(/, 'Date.now()'], [/\bMath\.random\s*\(/, 'Math.random()'], [/\bset(Timeout|Interval|Immediate)\s*\(/, 'timers'], [/\bawait\b/, 'await'], [/\bprocess\./, 'process']]) {
      if (pattern.test(code)) violations.push(`${where}: a pure core may not use ${what}`);
    }
  }
}

for (const layer of layers) for (const file of walk(join(root, layer))) check(file);
if (violations.length > 0) {
  console.error(`import-boundary lint: ${violations.length} violation(s)\n${violations.join('\n')}`);
  process.exit(1);
}
console.log('import-boundary lint: ok');
