// Values of the network options: a proxy URL as curl takes it, and PEM files read where the run starts, so their
// contents travel to sender threads and workers that may not have the file.
import fs from 'node:fs';
import { BatchpostError } from '../engine/errors.js';
import { redactUrls } from '../util/redact.js';

const usage = (message: string) => new BatchpostError('USAGE', message);

/**
 * --proxy: an http:// or https:// URL (a bare host:port means http://, as curl); '' means no proxy at all. The
 * URL may hold credentials, so a message shows it redacted.
 */
export function parseProxy(value: string, option: string): string {
  const text = value.trim();
  if (text === '') return '';
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw usage(`${option} "${redactUrls(text)}": expected a proxy URL such as http://proxy.example.com:3128`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw usage(`${option} "${redactUrls(text)}": batchpost speaks to HTTP proxies (http:// or https://)`);
  return url.href.replace(/\/$/, '');
}

/** --cacert and --cert: a PEM file holding at least one certificate; its text. */
export function parseCertFile(file: string, option: string): string {
  return readPem(file, option, /-----BEGIN CERTIFICATE-----/, 'a PEM certificate (-----BEGIN CERTIFICATE-----)');
}

/** --key: a PEM private key, possibly encrypted (its passphrase: BATCHPOST_KEY_PASSPHRASE); its text. */
export function parseKeyFile(file: string, option: string): string {
  return readPem(
    file,
    option,
    /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
    'a PEM private key (-----BEGIN … PRIVATE KEY-----)',
  );
}

function readPem(file: string, option: string, marker: RegExp, what: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw usage(`${option} ${file}: cannot read it: ${why}`);
  }
  if (!marker.test(text)) throw usage(`${option} ${file}: expected ${what}`);
  return text;
}
