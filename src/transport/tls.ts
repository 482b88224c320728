// TLS for every transport: the certificates trusted and presented (one SecureContext per transport, not one per
// connection), and what a failed handshake means to the user, as one of four stable codes with the advice that fits.
import fs from 'node:fs';
import tls from 'node:tls';
import { BatchpostError, TransportError, type ErrorCode } from '../engine/errors.js';
import { KEY_PASSPHRASE_VAR, type TlsConfig } from './config.js';

/** undici's connect options for `t`: the context and whether certificates are checked; none: Node's defaults. */
export function tlsOptionsOf(t: TlsConfig | undefined): {
  secureContext?: tls.SecureContext;
  rejectUnauthorized?: boolean;
} {
  if (t === undefined) return {};
  const secureContext = secureContextOf(t);
  return {
    ...(secureContext === undefined ? {} : { secureContext }),
    ...(t.insecure ? { rejectUnauthorized: false } : {}),
  };
}

/**
 * One SecureContext: --cacert's CAs beside Node's own (its bundled roots and NODE_EXTRA_CA_CERTS, which an explicit
 * CA list would otherwise replace), and the client certificate. Throws USAGE when the files do not make one.
 */
export function secureContextOf(t: TlsConfig): tls.SecureContext | undefined {
  if (t.ca === undefined && t.cert === undefined && t.key === undefined) return undefined;
  if ((t.cert === undefined) !== (t.key === undefined))
    throw new BatchpostError('USAGE', '--cert and --key go together: the client certificate and its private key');
  try {
    return tls.createSecureContext({
      ...(t.ca === undefined ? {} : { ca: [...tls.rootCertificates, ...extraCas(), t.ca] }),
      ...(t.cert === undefined ? {} : { cert: t.cert, key: t.key, passphrase: t.passphrase }),
    });
  } catch (e) {
    throw new BatchpostError('USAGE', contextProblem(e as NodeJS.ErrnoException, t));
  }
}

function contextProblem(e: NodeJS.ErrnoException, t: TlsConfig): string {
  const text = `${e.code ?? ''} ${e.message}`;
  if (/BAD_DECRYPT|bad decrypt|bad password|interrupted or cancelled|PASSPHRASE/i.test(text))
    return t.passphrase === undefined
      ? `--key: the private key is encrypted; set its passphrase in ${KEY_PASSPHRASE_VAR}`
      : `--key: ${KEY_PASSPHRASE_VAR} does not decrypt the private key`;
  if (/KEY_VALUES_MISMATCH|key values mismatch/i.test(text))
    return "--cert and --key do not match: the key is not the certificate's";
  return `--cacert/--cert/--key: not usable as TLS certificates: ${e.message}`;
}

/** NODE_EXTRA_CA_CERTS, which Node adds to its own roots but not to a list given explicitly. */
function extraCas(): string[] {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return [];
  try {
    return [fs.readFileSync(file, 'utf8')];
  } catch {
    return []; // Node has warned about it at start-up
  }
}

const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
/** The server's alerts that mean it wants a (trusted) client certificate. */
const CLIENT_CERT_ALERT =
  /^ERR_SSL_(TLSV13_ALERT_CERTIFICATE_REQUIRED|SSLV3_ALERT_HANDSHAKE_FAILURE|SSLV3_ALERT_BAD_CERTIFICATE|TLSV1_ALERT_UNKNOWN_CA|SSLV3_ALERT_CERTIFICATE_UNKNOWN|TLSV1_ALERT_ACCESS_DENIED|PEER_DID_NOT_RETURN_A_CERTIFICATE)$/;

const NOTHING_SENT = 'nothing was sent';
const TRUST =
  'add --cacert FILE with the CA that signed it (or set NODE_EXTRA_CA_CERTS), or -k/--insecure to skip the check';

/** A TLS failure in `err` or its cause as a TransportError, or null when it is none. */
export function tlsFailure(err: { code?: string; message?: string; cause?: unknown }): TransportError | null {
  for (const e of [err, err.cause as { code?: string; message?: string } | undefined]) {
    const code = e?.code ?? '';
    const why = reasonOf(e ?? {});
    if (UNTRUSTED.has(code))
      return fail('TLS_CERT_UNTRUSTED', `the server's certificate is not trusted (${why}); ${NOTHING_SENT}; ${TRUST}`);
    if (EXPIRED.has(code))
      return fail(
        'TLS_CERT_EXPIRED',
        `the server's certificate ${code === 'CERT_NOT_YET_VALID' ? 'is not valid yet (check this clock)' : 'has expired'}; ${NOTHING_SENT}; the server must renew it, or -k/--insecure skips the check`,
      );
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
      return fail(
        'TLS_HOSTNAME_MISMATCH',
        `the server's certificate is not for this host (${why}); ${NOTHING_SENT}; use the name the certificate is for, or -k/--insecure to skip the check`,
      );
    if (CLIENT_CERT_ALERT.test(code))
      return fail(
        'TLS_HANDSHAKE_FAILED',
        `the server refused the TLS handshake (${why}): it requires a client certificate it trusts; ${NOTHING_SENT}; give one with --cert FILE --key FILE`,
      );
    if (code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL')
      return fail(
        'TLS_HANDSHAKE_FAILED',
        `the server refused the TLS handshake (no common protocol: it may speak only HTTP/2); ${NOTHING_SENT}; add --http2`,
      );
    if (/^(ERR_SSL_|ERR_TLS_)|^EPROTO$/.test(code))
      return fail(
        'TLS_HANDSHAKE_FAILED',
        `TLS handshake failed (${why}); ${NOTHING_SENT}; check that the URL's port speaks TLS (https://), or see --cacert, --cert and -k/--insecure`,
      );
  }
  return null;
}

const fail = (code: ErrorCode, message: string) => new TransportError(code, `TLS: ${message}`);

/** Node's own words (e.g. "self-signed certificate"), or its code where they are OpenSSL's internal trace. */
function reasonOf(e: { code?: string; message?: string }): string {
  const message = e.message ?? '';
  return message === '' || message.includes(':error:') || message.includes('routines:')
    ? (e.code ?? 'unknown')
    : message;
}

/**
 * TLS 1.3 servers refuse a missing client certificate only after the client has finished its handshake and
 * written the request: the alert arrives on the connection, and undici reports the close that follows as "other
 * side closed". Alerts seen are kept by the connection's local port (which undici names with its error), so the
 * send can tell the real reason. Bounded: only the latest ones are kept.
 */
export class TlsAlerts {
  private readonly byPort = new Map<number, Error>();

  watch(socket: tls.TLSSocket): void {
    const port = socket.localPort;
    if (port !== undefined) this.byPort.delete(port);
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (socket.localPort === undefined || !/^ERR_SSL_/.test(e.code ?? '')) return;
      this.byPort.set(socket.localPort, e);
      if (this.byPort.size > 256) this.byPort.delete(this.byPort.keys().next().value!);
    });
  }

  /** The alert that ended the connection undici describes in `err` (its `socket.localPort`), if one did. */
  of(err: { socket?: { localPort?: number } }): Error | undefined {
    const port = err.socket?.localPort;
    return port === undefined ? undefined : this.byPort.get(port);
  }
}
