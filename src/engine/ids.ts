// Request ids: the 1-based position in the input, or the value at --id-field (which must be unique).
// Deterministic, so a resumed run recognises what an earlier one recorded.
import { compileExpr, type Expr } from '../expr/index.js';
import type { InputRecord } from './types.js';

export type IdOutcome =
  | { id: string }
  | { code: 'MISSING_ID' | 'DUPLICATE_ID' | 'INPUT_INVALID_JSON' | 'INPUT_INVALID_CSV'; message: string };

export class IdAssigner {
  private readonly expr: Expr | null;
  // Holding every id is the price of refusing duplicates; positional ids cannot collide and keep nothing.
  private readonly seen: Set<string> | null;
  private position = 0;

  constructor(
    private readonly idField: string | undefined,
    private readonly skipInvalid: boolean,
    private readonly inputKind: 'json' | 'csv' = 'json',
  ) {
    this.expr = idField === undefined ? null : compileExpr(idField, '--id-field');
    this.seen = this.expr ? new Set() : null;
  }

  next(record: InputRecord): IdOutcome {
    this.position++;
    if (record.error !== undefined) {
      if (!this.skipInvalid || record.fatal) {
        return { code: this.inputKind === 'csv' ? 'INPUT_INVALID_CSV' : 'INPUT_INVALID_JSON', message: record.error };
      }
      // Without a parsed value there is no --id-field; the line names the record instead.
      return { id: this.expr ? `line-${record.line}` : String(this.position) };
    }
    if (this.expr === null) return { id: String(this.position) };
    let v: unknown;
    try {
      v = this.expr(record.value);
    } catch {
      v = null;
    }
    if (typeof v !== 'string' && typeof v !== 'number') {
      const what = v === null || v === undefined ? 'missing' : `not a string or number (${JSON.stringify(v)})`;
      return { code: 'MISSING_ID', message: `--id-field ${this.idField} is ${what}` };
    }
    const id = String(v);
    if (this.seen!.has(id))
      return { code: 'DUPLICATE_ID', message: `id "${id}" (--id-field ${this.idField}) appears twice in the input` };
    this.seen!.add(id);
    return { id };
  }
}
