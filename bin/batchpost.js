#!/usr/bin/env node
// Before the program loads: V8 lets the old generation grow to several times what it keeps alive before it
// collects, so a long run's resident memory settles far above its live heap (~165 MB at 100k payloads against nginx,
// ~40 MB of it garbage waiting). Letting it at most double between full collections keeps a run at ~130 MB
// whatever the input size, for a few percent of CPU (docs/benchmarks.md). V8 reads this flag at each collection, so
// setting it now, after start-up, takes effect; a value given on node's command line wins (0: V8's own heuristics).
import v8 from 'node:v8';

if (!process.execArgv.some((a) => a.startsWith('--heap-growing-percent'))) v8.setFlagsFromString('--heap-growing-percent=100');
await import('../dist/src/cli/main.js');
