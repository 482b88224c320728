// Markdown, as the README writes it, turned into man(7) roff: headings, paragraphs, lists, fenced code and tables
// (each row a tagged paragraph, so no tbl preprocessor is needed), inline code in bold. Every character roff
// would read as a request or an escape is escaped, and non-ASCII is written as \[uXXXX] (groff reads Latin-1).

/** Text for a roff line: backslashes, hyphens (a `-` would print as a hyphen, not the minus flags need), non-ASCII. */
export function escapeText(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/[^\x20-\x7e]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
}

/** A line of text never starts with . or ' (a request) once written. */
const safeLine = (line: string): string => (/^[.']/.test(line) ? `\\&${line}` : line);

/**
 * Inline markdown: `code` bold, **strong** bold, *emphasis* italic, [text](link) its text; escapes first. Code
 * spans are set aside while the rest is marked, and end with \fP (the font before), so code inside bold stays bold.
 */
export function inline(markdown: string): string {
  const spans: string[] = [];
  const text = markdown
    .replace(/`([^`]*)`/g, (_, code: string) => `@@${spans.push(code) - 1}@@`)
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\\([|*_`[\]])/g, '$1');
  return escapeText(text)
    .replace(/\*\*([^*]+)\*\*/g, '\\fB$1\\fR')
    .replace(/(^|[\s(])\*([^*\s][^*]*)\*/g, '$1\\fI$2\\fR')
    .replace(/@@(\d+)@@/g, (_, i: string) => `\\fB${escapeText(spans[Number(i)]!)}\\fP`);
}

/** Cells of a markdown table row; `\|` stays inside its cell. */
const cells = (row: string): string[] =>
  row
    .trim()
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());

function table(rows: string[]): string[] {
  const out: string[] = [];
  for (const row of rows.slice(2)) {
    const [tag, ...rest] = cells(row);
    out.push('.TP', safeLine(inline(tag ?? '')), safeLine(inline(rest.filter((c) => c !== '').join('; '))));
  }
  return out;
}

function code(lines: string[]): string[] {
  return ['.PP', '.RS 4', '.nf', ...lines.map((l) => safeLine(escapeText(l))), '.fi', '.RE'];
}

type Headings = (level: number, title: string) => string[];

/** One markdown block (a heading alone, or lines between blank lines) as roff lines. */
function block(lines: string[], headings: Headings): string[] {
  const heading = /^(#{1,6})\s+(.*)$/.exec(lines[0]!);
  if (heading) return headings(heading[1]!.length, heading[2]!);
  if (lines[0]!.startsWith('|')) return table(lines);
  if (/^\s*([-*]|\d+\.)\s/.test(lines[0]!)) return list(lines);
  return ['.PP', safeLine(inline(lines.map((l) => l.trim()).join(' ')))];
}

/** A list: each item with its indented continuation lines, as an indented paragraph with a bullet or number. */
function list(lines: string[]): string[] {
  const out: string[] = [];
  let item: string[] = [];
  let mark = '';
  const flush = () => {
    if (item.length > 0) out.push(`.IP ${mark} 4`, safeLine(inline(item.join(' '))));
    item = [];
  };
  for (const line of lines) {
    const m = /^\s*([-*]|\d+\.)\s+(.*)$/.exec(line);
    if (m && !/^\s{2,}/.test(line)) {
      flush();
      mark = m[1] === '-' || m[1] === '*' ? '\\(bu' : m[1]!;
      item.push(m[2]!);
    } else item.push(line.trim());
  }
  flush();
  return out;
}

/**
 * Markdown to roff; `headings` says what a heading of each level becomes (.SH or .SS), so a README section
 * can sit at any depth of the page.
 */
export function markdownToRoff(markdown: string, headings: Headings): string[] {
  const out: string[] = [];
  const lines = markdown.split('\n');
  let buffer: string[] = [];
  const flush = () => {
    if (buffer.length > 0) out.push(...block(buffer, headings));
    buffer = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('```')) {
      flush();
      const end = lines.indexOf('```', i + 1);
      const stop = end === -1 ? lines.length : end;
      out.push(...code(lines.slice(i + 1, stop)));
      i = stop;
    } else if (line.trim() === '') flush();
    else if (/^#{1,6}\s/.test(line)) {
      flush();
      buffer.push(line);
      flush();
    } else buffer.push(line);
  }
  flush();
  return out;
}
