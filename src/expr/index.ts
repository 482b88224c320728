// JMESPath expressions and `{{ expr }}` templates, compiled once per run and evaluated per payload.
import { compile, tokenize, TreeInterpreter, type JSONValue } from '@jmespath-community/jmespath';
import { BatchpostError } from '../engine/errors.js';
import { valueText } from '../util/exact-json.js';

export type Expr = (value: unknown) => unknown;

/** Compiles a JMESPath expression; `option` names where it came from so a syntax error points at it. */
export function compileExpr(source: string, option: string): Expr {
  return compileIn(source, option, source, 0);
}

/**
 * Compiles `source`, found at `offset` in the option's text `whole` (a template holds several): a syntax error
 * names the option, the text and the column, counted in `whole` from 1.
 */
function compileIn(source: string, option: string, whole: string, offset: number): Expr {
  let ast: ReturnType<typeof compile>;
  try {
    ast = compile(source);
  } catch (err) {
    const column = offset + errorColumn(source);
    throw new BatchpostError(
      'USAGE',
      `${named(option, whole)}: not a valid JMESPath expression at column ${column} (${(err as Error).message})`,
    );
  }
  return (value) => TreeInterpreter.search(ast, value as JSONValue);
}

/**
 * Where an expression that does not compile goes wrong, from 1. The parser reads tokens left to right, so the
 * culprit is the first token whose prefix fails otherwise than by ending early; past the last token, the end.
 * Only called for a refused expression, so compiling each prefix costs nothing that matters.
 */
function errorColumn(source: string): number {
  let tokens: { start: number }[];
  try {
    tokens = tokenize(source);
  } catch {
    // The lexer refuses a character or an unclosed literal: the shortest prefix it refuses ends at the culprit.
    for (let i = 1; i <= source.length; i++) if (!tokenizes(source.slice(0, i))) return i;
    return source.length;
  }
  for (let i = 0; i < tokens.length; i++) {
    const end = tokens[i + 1]?.start ?? source.length;
    try {
      compile(source.slice(0, end));
    } catch (err) {
      if (!/\(EOF\)|unexpected end/i.test((err as Error).message)) return tokens[i]!.start + 1;
    }
  }
  return source.length + 1;
}

function tokenizes(text: string): boolean {
  try {
    tokenize(text);
    return true;
  } catch {
    return false;
  }
}

/** A predicate from an expression, with JMESPath truthiness (false, null, "", [] and {} are false). */
export function matcher(expr: Expr): (value: unknown) => boolean {
  return (value) => {
    let v: unknown;
    try {
      v = expr(value);
    } catch {
      return false;
    }
    return truthy(v);
  };
}

export function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** Thrown while rendering a template for one payload; the engine records it as TEMPLATE_ERROR. */
export class TemplateError extends Error {}

export interface Template {
  /** True when the text holds no `{{ }}`: render() then returns it without looking at the payload. */
  readonly isStatic: boolean;
  render(value: unknown): string;
}

const PLACEHOLDER = /\{\{(.*?)\}\}/g;

/**
 * Compiles text with `{{ expr }}` placeholders. `encode` percent-encodes substituted values, as a URL needs:
 * an id holding "/" must not change the path.
 */
export function compileTemplate(text: string, option: string, encode: boolean): Template {
  const literals: string[] = [];
  const exprs: { source: string; fn: Expr }[] = [];
  let last = 0;
  for (const m of text.matchAll(PLACEHOLDER)) {
    literals.push(text.slice(last, m.index));
    const inner = m[1]!;
    const source = inner.trim();
    if (!source) throw new BatchpostError('USAGE', `${named(option, text)}: empty {{ }} placeholder`);
    const offset = m.index + 2 + inner.indexOf(source);
    exprs.push({ source, fn: compileIn(source, option, text, offset) });
    last = m.index + m[0].length;
  }
  literals.push(text.slice(last));
  checkUnclosed(text, option);
  if (exprs.length === 0) return { isStatic: true, render: () => text };
  return {
    isStatic: false,
    render(value) {
      let out = literals[0]!;
      let dots: number[] | null = null;
      for (let i = 0; i < exprs.length; i++) {
        const v = exprs[i]!.fn(value);
        if (v === null || v === undefined)
          throw new TemplateError(`{{ ${exprs[i]!.source} }} in ${option} is null for this payload`);
        const s = valueText(v);
        if (!encode) {
          out += s + literals[i + 1]!;
          continue;
        }
        const piece = encodeURIComponent(s); // leaves "." as it is, as URLs do
        if (piece.includes('.')) (dots ??= []).push(i, out.length, out.length + piece.length);
        out += piece + literals[i + 1]!;
      }
      if (dots !== null) checkDotSegments(out, dots, exprs, option);
      return out;
    },
  };
}

const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/**
 * A value of "." or ".." filling a whole path segment would make a dot segment, which URL parsing removes with the
 * segment before it (`/tenants/{{ t }}/orders` with ".." is `/orders`): a payload could reach another path than
 * the template allows. Encoding the dots does not help (`%2E%2E` is a dot segment to URL parsers too), so the
 * payload is refused. `spans` holds, per value with a dot, its placeholder's index, start and end in `url`.
 */
function checkDotSegments(url: string, spans: number[], exprs: { source: string }[], option: string): void {
  const scheme = url.indexOf('://');
  const pathStart = scheme === -1 ? 0 : url.indexOf('/', scheme + 3);
  if (pathStart === -1) return;
  const query = url.slice(pathStart).search(/[?#]/);
  const pathEnd = query === -1 ? url.length : pathStart + query;
  for (let a = pathStart + 1; a <= pathEnd;) {
    let b = url.indexOf('/', a);
    if (b === -1 || b > pathEnd) b = pathEnd;
    const segment = url.slice(a, b);
    if (DOT_SEGMENT.test(segment)) {
      for (let k = 0; k < spans.length; k += 3) {
        if (spans[k + 1]! < b && spans[k + 2]! > a) {
          throw new TemplateError(
            `{{ ${exprs[spans[k]!]!.source} }} in ${option} makes the path segment ${JSON.stringify(segment)}, which would remove a segment of the path; refused`,
          );
        }
      }
    }
    a = b + 1;
  }
}

/** A `{{` that no `}}` closes would otherwise be sent as literal text, once per payload. */
function checkUnclosed(text: string, option: string): void {
  const rest = text.replace(PLACEHOLDER, (m) => ' '.repeat(m.length));
  const at = rest.indexOf('{{');
  if (at === -1) return;
  throw new BatchpostError(
    'USAGE',
    `${named(option, text)}: unclosed {{ at column ${at + 1}`,
    'A placeholder is {{ expression }}, e.g. --url https://api.example.com/orders/{{ id }}',
  );
}

/** The option and its text, except a header's value: it may hold a credential. */
function named(option: string, text: string): string {
  return option.startsWith('--header') ? option : `${option} "${text}"`;
}
