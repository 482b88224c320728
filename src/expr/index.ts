// JMESPath expressions and `{{ expr }}` templates, compiled once per run and evaluated per payload.
import { compile, TreeInterpreter, type JSONValue } from '@jmespath-community/jmespath';
import { BatchpostError } from '../engine/errors.js';
import { valueText } from '../util/exact-json.js';

export type Expr = (value: unknown) => unknown;

/** Compiles a JMESPath expression; `option` names where it came from so a syntax error points at it. */
export function compileExpr(source: string, option: string): Expr {
  let ast: ReturnType<typeof compile>;
  try {
    ast = compile(source);
  } catch (err) {
    throw new BatchpostError(
      'USAGE',
      `${option} "${source}": not a valid JMESPath expression (${(err as Error).message})`,
    );
  }
  return (value) => TreeInterpreter.search(ast, value as JSONValue);
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
    const source = m[1]!.trim();
    if (!source) throw new BatchpostError('USAGE', `${option} "${text}": empty {{ }} placeholder`);
    exprs.push({ source, fn: compileExpr(source, option) });
    last = m.index + m[0].length;
  }
  literals.push(text.slice(last));
  if (exprs.length === 0) return { isStatic: true, render: () => text };
  return {
    isStatic: false,
    render(value) {
      let out = literals[0]!;
      for (let i = 0; i < exprs.length; i++) {
        const v = exprs[i]!.fn(value);
        if (v === null || v === undefined)
          throw new TemplateError(`{{ ${exprs[i]!.source} }} in ${option} is null for this payload`);
        const s = valueText(v);
        out += (encode ? encodeURIComponent(s) : s) + literals[i + 1]!;
      }
      return out;
    },
  };
}
