// How a run's connections are made, as plain data (structured-clone and JSON safe): sender threads receive it in
// their setup and distributed workers in the run's config in Redis, so every process that sends builds its
// transport (createTransport) from the same choices as a local run.
import type { ResolvedOptions } from '../engine/options.js';

export interface TransportConfig {
  /** Connections per origin: as many as requests in flight, since the engine never has more. */
  connections: number;
  /** The run's per-attempt timeout (ms): connecting takes no longer (and at most 10 s); each send bounds the rest. */
  timeoutMs: number;
  /**
   * The largest answer body kept (bytes): a larger one is cut off while it arrives (RESPONSE_TOO_LARGE). Every
   * command sets it from --max-response-size (transportConfigOf); absent, nothing is cut off.
   */
  maxResponseBytes?: number;
  /** Redirects followed per attempt (-L, --max-redirs); 0 or absent: none, the 3xx is the answer. */
  maxRedirects?: number;
  /** Set: redirects are followed to this origin only (serve's --url's); one elsewhere is the answer. */
  redirectOrigin?: string;
  /** Through which proxy each origin is reached; absent: directly. */
  proxy?: ProxyConfig;
  /** Certificates: trusted CAs, the client's own, or none checked; absent: Node's defaults. */
  tls?: TlsConfig;
  /** Offer HTTP/2 by ALPN on https origins (--http2); HTTP/1.1 where the server does not take it. */
  http2?: boolean;
}

/**
 * The proxy choice, as curl makes it: `url` (--proxy) for every origin, else the environment's proxy for the
 * origin's scheme; never for a host `noProxy` or the environment's NO_PROXY exempts.
 */
export interface ProxyConfig {
  /** --proxy: the proxy of every origin; '' for none, whatever the environment says. */
  url?: string;
  /** --noproxy: hosts reached directly, besides NO_PROXY's (comma-separated, as NO_PROXY). */
  noProxy?: string;
  /**
   * The environment's proxies (HTTP_PROXY, HTTPS_PROXY, NO_PROXY; lower case first), as read by the process that
   * made the config. A distributed run leaves it out: each worker reads its own machine's (transportOf).
   */
  env?: ProxyEnv;
}

export interface ProxyEnv {
  http?: string;
  https?: string;
  noProxy?: string;
}

export interface TlsConfig {
  /** PEM text of CAs trusted besides Node's (--cacert): the file's contents, so a worker needs no copy of it. */
  ca?: string;
  /** PEM text of the client certificate (--cert) and its key (--key). */
  cert?: string;
  key?: string;
  /**
   * The key's passphrase, from BATCHPOST_KEY_PASSPHRASE: it reaches sender threads, never Redis; a worker reads
   * its own environment.
   */
  passphrase?: string;
  /** -k/--insecure: certificates are not checked. */
  insecure?: boolean;
}

/** The environment variable holding the client key's passphrase (never a flag: flags show in `ps`). */
export const KEY_PASSPHRASE_VAR = 'BATCHPOST_KEY_PASSPHRASE';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * What the environment says about proxies (the lower-case name first, as curl and undici read them), when it
 * matters: it names a proxy, or `explicit` (--proxy was given) and NO_PROXY still applies to that one, as in curl.
 */
export function proxyEnvOf(env: Env, explicit = false): ProxyEnv | undefined {
  const pick = (name: string) => nonEmpty(env[name.toLowerCase()]) ?? nonEmpty(env[name.toUpperCase()]);
  const found = dropUndefined({ http: pick('http_proxy'), https: pick('https_proxy'), noProxy: pick('no_proxy') });
  const matters = found.http !== undefined || found.https !== undefined || (explicit && found.noProxy !== undefined);
  return matters ? found : undefined;
}

/** `env`: where proxies and the key's passphrase are read (the CLI's environment; the library's process.env). */
export function transportConfigOf(o: ResolvedOptions, env: Env = process.env): TransportConfig {
  const config: TransportConfig = {
    connections: o.concurrency,
    timeoutMs: o.timeoutMs,
    maxResponseBytes: o.maxResponseBytes,
    maxRedirects: o.followRedirects ? o.maxRedirects : 0,
  };
  const fromEnv = o.proxy === '' ? undefined : proxyEnvOf(env, o.proxy !== undefined);
  const proxy = dropUndefined({ url: o.proxy, noProxy: o.noProxy, env: fromEnv });
  if (Object.keys(proxy).length > 0) config.proxy = proxy;
  const passphrase = o.clientKey === undefined ? undefined : (o.keyPassphrase ?? env[KEY_PASSPHRASE_VAR]);
  const tls = dropUndefined({
    ca: o.caCert,
    cert: o.clientCert,
    key: o.clientKey,
    passphrase,
    insecure: o.insecure || undefined,
  });
  if (Object.keys(tls).length > 0) config.tls = tls;
  if (o.http2) config.http2 = true;
  return config;
}

const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s.trim() === '' ? undefined : s);

function dropUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}
