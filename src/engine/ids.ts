// Request ids: the 1-based position in the input, or the value at --id-field (which must be unique).
// Deterministic, so a resumed run recognises what an earlier one recorded.
import { compileExpr, type Expr } from '../expr/index.js';
import { ExactNumber, jsonText } from '../util/exact-json.js';
import type { InputRecord } from './types.js';

export type IdOutcome =
  | { id: string }
  | {
      code:
        | 'MISSING_ID'
        | 'DUPLICATE_ID'
        | 'INPUT_INVALID_JSON'
        | 'INPUT_INVALID_CSV'
        | 'INPUT_INVALID_REQUEST'
        | NonNullable<InputRecord['code']>;
      message: string;
    };

export class IdAssigner {
  private readonly expr: Expr | null;
  // Holding every id is the price of refusing duplicates; positional ids cannot collide and keep nothing.
  private readonly seen: Set<string> | null;
  private position = 0;

  constructor(
    private readonly idField: string | undefined,
    private readonly skipInvalid: boolean,
    private readonly inputKind: 'json' | 'csv' | 'requests' = 'json',
  ) {
    this.expr = idField === undefined ? null : compileExpr(idField, '--id-field');
    // Request lines name their own ids (id, custom_id), which must be unique like --id-field's.
    this.seen = this.expr || inputKind === 'requests' ? new Set() : null;
  }

  next(record: InputRecord): IdOutcome {
    this.position++;
    if (record.error !== undefined) {
      if (!this.skipInvalid || record.fatal) {
        const code = record.code ?? (this.inputKind === 'csv' ? 'INPUT_INVALID_CSV' : 'INPUT_INVALID_JSON');
        return { code, message: record.error };
      }
      if (this.seen === null) return { id: String(this.position) };
      // Without a parsed value there is no --id-field; the line names the record instead. That name joins the
      // real ids, so a real id "line-7" and a bad line 7 are refused as a duplicate rather than mixed up.
      return this.claim(`line-${record.line}`, `the invalid line ${record.line} is recorded as`);
    }
    if (this.expr === null) return this.seen === null ? { id: String(this.position) } : this.lineId(record.value);
    let v: unknown;
    try {
      v = this.expr(record.value);
    } catch {
      v = null;
    }
    if (typeof v !== 'string' && typeof v !== 'number' && !(v instanceof ExactNumber)) {
      const what = v === null || v === undefined ? 'missing' : `not a string or number (${excerpt(v)})`;
      return { code: 'MISSING_ID', message: `--id-field ${this.idField} is ${what}` };
    }
    return this.claim(String(v), '');
  }

  /** A request line's id: `id`, else `custom_id` (OpenAI Batch), else its position. */
  private lineId(value: unknown): IdOutcome {
    const line = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
    const field = line.id !== undefined && line.id !== null ? 'id' : 'custom_id';
    const v = line[field];
    if (v === undefined || v === null) return this.claim(String(this.position), '');
    if (typeof v !== 'string' && typeof v !== 'number' && !(v instanceof ExactNumber))
      return { code: 'INPUT_INVALID_REQUEST', message: `"${field}" is not a string or number (${excerpt(v)})` };
    return this.claim(String(v), '');
  }

  /** Takes `id` for one payload; `why` says where a reserved id came from, for the duplicate's message. */
  private claim(id: string, why: string): IdOutcome {
    const seen = this.seen!;
    if (seen.has(id)) {
      let message = why
        ? `${why} id "${id}", which ${this.expr ? `a payload's --id-field ${this.idField}` : 'a request line'} already holds`
        : this.expr === null
          ? `id "${id}" appears twice in the input (a request line's id, custom_id, or position when it has neither)`
          : `id "${id}" (--id-field ${this.idField}) appears twice in the input`;
      if (!why && this.skipInvalid && /^line-\d+$/.test(id)) {
        message += ` (with --skip-invalid, an invalid line N is recorded as id "line-N")`;
      }
      return { code: 'DUPLICATE_ID', message };
    }
    seen.add(id);
    return { id };
  }
}

/** The start of a value's JSON text for a message; a value too deeply nested to write is said to be so. */
function excerpt(v: unknown): string {
  let text: string;
  try {
    text = jsonText(v);
  } catch {
    return 'a value nested too deeply to show';
  }
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
