// Every expression and template of a run, compiled at once: a typo is a usage error before any input is read,
// any results file touched or any request sent, not a failure per payload (or a literal "{{" sent 500 times).
import { compileExpr } from '../expr/index.js';
import { IdAssigner } from './ids.js';
import type { ResolvedOptions } from './options.js';
import { requestBuilderFor } from './request-line.js';
import { senderOptionsOf } from './sender-config.js';

/** Throws the USAGE error of the first expression that does not compile; `rerunWhere` is the CLI's own. */
export function checkExpressions(o: ResolvedOptions, rerunWhere?: string): void {
  requestBuilderFor(o);
  new IdAssigner(o.idField, o.skipInvalid, o.inputKind);
  senderOptionsOf(o);
  if (o.serializeBy !== undefined) compileExpr(o.serializeBy, '--serialize-by');
  if (rerunWhere !== undefined) compileExpr(rerunWhere, '--rerun-where');
}
