// User data shown on a terminal (input excerpts, ids, values echoed in messages) must not drive the terminal: an
// ESC or CSI in a bad input line could retitle the window, move the cursor or rewrite what is on screen.

// C0 and C1 controls, DEL, line/paragraph separators and the bidirectional overrides (which reorder what is shown).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(c: string): string {
  const code = c.charCodeAt(0);
  return NAMED[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`);
}

/** `text` with every control character written out (`\x1b`, `\n`, `\u202e`): safe to print, still readable. */
export function escapeControls(text: string): string {
  CONTROL.lastIndex = 0;
  return CONTROL.test(text) ? text.replace(CONTROL, escapeOne) : text;
}

/** A JSON line for a terminal: JSON already escapes C0 controls; the rest (C1, bidi) as \u escapes keep it JSON. */
export function escapeJsonControls(json: string): string {
  CONTROL.lastIndex = 0;
  return CONTROL.test(json)
    ? json.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    : json;
}
