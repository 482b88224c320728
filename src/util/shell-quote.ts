// POSIX-shell quoting for the commands batchpost prints for the user to paste (a resume command, the worker
// command of a queue, a report's command line). Plain words stay as they are, so the usual command reads as typed.

/** `orders.ndjson` as is; `it's` → `'it'\''s'`. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
