// The charting library, inlined into every report: uPlot (MIT), read from node_modules when a report is written,
// so the page needs no network. Resolved through Node's resolver, wherever npm placed the package.
import fs from 'node:fs';
import { createRequire } from 'node:module';

export interface ChartLibrary {
  name: string;
  version: string;
  js: string;
  css: string;
}

let cached: ChartLibrary | null = null;

export function chartLibrary(): ChartLibrary {
  if (cached !== null) return cached;
  const require = createRequire(import.meta.url);
  const read = (p: string) => fs.readFileSync(require.resolve(p), 'utf8');
  const { version } = JSON.parse(read('uplot/package.json')) as { version: string };
  cached = {
    name: 'uPlot',
    version,
    // A literal "</script" inside the code would end the inline element early.
    js: read('uplot/dist/uPlot.iife.min.js').replace(/<\/(script)/gi, '<\\/$1'),
    css: read('uplot/dist/uPlot.min.css').replace(/<\/(style)/gi, '<\\/$1'),
  };
  return cached;
}
