// The one place that builds a transport: everything outside src/transport knows only the Transport interface and
// a TransportConfig, so a new way of connecting is a field of the config and a change here, not in every command.
import type { Transport } from '../engine/types.js';
import type { TransportConfig } from './config.js';
import { UndiciTransport } from './undici.js';

export { transportConfigOf, type TransportConfig } from './config.js';

export function createTransport(config: TransportConfig): Transport {
  return new UndiciTransport(config);
}
