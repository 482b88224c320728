// The failures a report lists. Every failure is counted, but only a bounded sample is kept: up to PER_CODE of each
// error code (the first ones, in results-file order), and when listed, codes take turns so that a flood of one
// error cannot hide the rare one. The report says how many were left out.
import { redactValue } from '../util/redact.js';
import type { RequestRef } from './slowest.js';

export interface FailureRef extends RequestRef {
  message: string;
  /** The start of the answer's body (the result's `response`), secrets redacted; '' when there was none. */
  response: string;
}

const MESSAGE_CHARS = 300;
const RESPONSE_CHARS = 300;

const clip = (text: string, chars: number): string => (text.length > chars ? `${text.slice(0, chars)}…` : text);

/** A response as the report shows it: JSON text (a JSON-looking string parsed first), secrets redacted, clipped. */
export function responseExcerpt(response: unknown): string {
  if (response === null || response === undefined) return '';
  let value: unknown = response;
  if (typeof value === 'string' && /^\s*[[{]/.test(value)) {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      // text that only starts like JSON: redacted as text
    }
  }
  const redacted = redactValue(value);
  const text = typeof redacted === 'string' ? redacted : (JSON.stringify(redacted) ?? '');
  return clip(text, RESPONSE_CHARS);
}

export class FailureSample {
  /** Each kept failure with its place among all failures, to list them in the order they came. */
  private readonly byCode = new Map<string, Array<{ seq: number; ref: FailureRef }>>();
  private count = 0;

  constructor(
    /** Most failures listed in all. */
    readonly limit: number,
    /** Most kept per error code (≤ limit). */
    readonly perCode = limit,
  ) {}

  get total(): number {
    return this.count;
  }

  add(ref: RequestRef, message: string, response: unknown = null): void {
    this.count++;
    const code = ref.code ?? '(none)';
    let list = this.byCode.get(code);
    if (list === undefined) {
      list = [];
      this.byCode.set(code, list);
    }
    if (list.length >= this.perCode) return;
    list.push({
      seq: this.count,
      ref: { ...ref, message: clip(message, MESSAGE_CHARS), response: responseExcerpt(response) },
    });
  }

  /** At most `limit` failures: codes take turns (most frequent code first), then in the order they came. */
  list(): FailureRef[] {
    const lists = [...this.byCode.values()].sort((a, b) => b.length - a.length);
    const picked: Array<{ seq: number; ref: FailureRef }> = [];
    for (let round = 0; picked.length < this.limit; round++) {
      let any = false;
      for (const list of lists) {
        if (round < list.length && picked.length < this.limit) {
          picked.push(list[round]!);
          any = true;
        }
      }
      if (!any) break;
    }
    return picked.sort((a, b) => a.seq - b.seq).map((p) => p.ref);
  }
}
