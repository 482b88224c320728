// The one place that builds a transport: everything outside src/transport knows only the Transport interface and
// a TransportConfig, so a new way of connecting is a field of the config and a change here, not in every command.
import type { Transport } from '../engine/types.js';
import type { TransportConfig } from './config.js';
import { UndiciTransport } from './undici.js';

import { tlsOptionsOf } from './tls.js';

export { transportConfigOf, type TransportConfig } from './config.js';

/** Said once on stderr by every command sending with -k/--insecure. */
export const INSECURE_WARNING =
  'warning: --insecure: server certificates are not checked; anyone on the path can read and change the requests';

/**
 * Throws USAGE when the config's certificates do not make a TLS context (a wrong passphrase, a key that is not the
 * certificate's): for a command to stop at its start, before sender threads would each fail.
 */
export function checkTransportConfig(config: TransportConfig): void {
  tlsOptionsOf(config.tls);
}

export function createTransport(config: TransportConfig): Transport {
  return new UndiciTransport(config);
}
