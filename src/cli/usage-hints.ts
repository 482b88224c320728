// Hints for the slips commander refuses: a URL where the file of payloads goes, the command word left out, curl's
// -d/--data. Each names the command the user most likely meant, in the shape batchpost takes.
import { BatchpostError } from '../engine/errors.js';
import { OPTIONS } from '../options/table.js';
import { shellQuote } from '../util/shell-quote.js';

const CURL_DATA = new Set([
  '-d',
  '--data',
  '--data-raw',
  '--data-binary',
  '--data-ascii',
  '--data-urlencode',
  '--json',
]);
const TO_FILE = 'The payloads come from a file and the URL goes with --url';
/** Flags that take no value (`--resume`, `-q`), so the word after one is an operand. */
const SWITCHES = new Set(
  Object.values(OPTIONS)
    .filter((o) => !o.flags.includes('<'))
    .flatMap((o) => o.flags.split(/,\s*/)),
);

/** curl's ways of giving the request body, which batchpost takes from a file of payloads instead. */
export function isCurlDataFlag(flag: string): boolean {
  return CURL_DATA.has(flag.split('=')[0]!);
}

/** A word that reads as a URL: a scheme and ://. */
export function looksLikeUrl(word: string): boolean {
  return /^[a-z][a-z\d+.-]*:\/\//i.test(word);
}

/** The hint for a commander error `code` (commander.unknownOption…) on the command line `argv`, if one helps. */
export function usageHint(code: string, argv: readonly string[]): string | undefined {
  const url = argv.find(looksLikeUrl);
  const command = argv[0];
  if (code === 'commander.unknownCommand' && command !== undefined) {
    if (looksLikeUrl(command)) return `${TO_FILE}: ${suggestion('FILE', command)}`;
    if (/\.(nd)?json$|\.csv$/i.test(command)) return `${TO_FILE}: ${suggestion(command, urlOf(argv) ?? 'URL')}`;
    return undefined;
  }
  if (command !== 'run') return undefined;
  const dataAt = argv.findIndex(isCurlDataFlag);
  if (code === 'commander.unknownOption' && dataAt !== -1) {
    const value = argv[dataAt]!.includes('=') ? argv[dataAt]!.split('=').slice(1).join('=') : argv[dataAt + 1];
    const file = value?.startsWith('@') && value.length > 1 ? value.slice(1) : 'FILE';
    return `batchpost sends each payload of a file (not curl -d): ${suggestion(file, urlOf(argv) ?? 'URL')}`;
  }
  // A URL among run's operands: where the file goes (`run URL`) or where --url should have been (`run FILE URL`).
  const operands = operandsOf(argv.slice(1));
  if (url !== undefined && operands.includes(url)) {
    const file = operands.find((word) => !looksLikeUrl(word)) ?? 'FILE';
    return `${TO_FILE}: ${suggestion(file, url)}`;
  }
  return undefined;
}

/** `batchpost run URL --url URL`: the input argument is a URL, not a file. */
export function urlAsInput(input: string): BatchpostError {
  return new BatchpostError(
    'USAGE',
    `${input}: a URL where the file of payloads goes`,
    `${TO_FILE}: ${suggestion('FILE', input)}`,
  );
}

function suggestion(file: string, url: string): string {
  return `batchpost run ${shellQuote(file)} --url ${shellQuote(url)}`;
}

/** The value of --url/-u, else the first URL-looking word. */
function urlOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if ((word === '--url' || word === '-u') && argv[i + 1] !== undefined) return argv[i + 1];
    if (word.startsWith('--url=')) return word.slice('--url='.length);
  }
  return argv.find(looksLikeUrl);
}

/** Words that are not options or option values, roughly: a word after a flag without `=` is taken as its value. */
function operandsOf(words: readonly string[]): string[] {
  const operands: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--') return [...operands, ...words.slice(i + 1)];
    if (word.startsWith('-') && word !== '-') {
      if (!word.includes('=') && !SWITCHES.has(word)) i++;
      continue;
    }
    operands.push(word);
  }
  return operands;
}
