// Where a run's CPU goes, by kind of work: the shares of a V8 CPU profile's samples (node --cpu-prof), grouped so
// the table in docs/benchmarks.md ("Where the time goes") can be made again. Used by `PROFILE=1 node bench/run.mjs`,
// or on its own: `node bench/profile.mjs CPU.….cpuprofile`.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

function kindOf({ functionName: fn, url }) {
  if (fn === '(idle)') return 'native code outside JavaScript (libuv: socket reads, polling)';
  if (fn === '(garbage collector)') return 'garbage collection';
  if (['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String'].includes(fn))
    return 'socket and file writes (system calls)';
  if (url.includes('/undici/') || url.startsWith('wasm:')) return 'undici (HTTP/1.1 client, llhttp)';
  const ours = url.match(/\/dist\/src\/(\w+)\//);
  if (ours) return `batchpost: src/${ours[1]}`;
  return 'Node internals (promises, timers, events, buffers, streams, crypto) and the rest';
}

/** [share, kind] rows, largest first, for one profile. */
export function categorize(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byKind = new Map();
  for (const id of profile.samples) {
    const kind = kindOf(nodes.get(id).callFrame);
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  }
  const total = profile.samples.length || 1;
  return [...byKind].sort((a, b) => b[1] - a[1]).map(([kind, n]) => [`${((100 * n) / total).toFixed(1)} %`, kind]);
}

/** The shares of one profile as text, a line per kind. */
export function sharesText(profile) {
  return categorize(profile)
    .map(([share, kind]) => `  ${share.padStart(7)}  ${kind}`)
    .join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error('usage: node bench/profile.mjs FILE.cpuprofile…');
    process.exit(2);
  }
  for (const f of files) console.log(`${f}:\n${sharesText(JSON.parse(fs.readFileSync(f, 'utf8')))}`);
}
