// Which proxy an origin goes through, decided once per origin as curl decides it: --proxy for every origin, else
// the environment's proxy for the origin's scheme; none for a host that NO_PROXY or --noproxy exempts.
import net from 'node:net';
import type { ProxyConfig } from './config.js';

/** The proxy URL for `origin`, or null to connect directly. */
export function proxyFor(origin: URL, p: ProxyConfig | undefined): string | null {
  if (p === undefined) return null;
  const proxy = p.url !== undefined ? p.url : origin.protocol === 'https:' ? p.env?.https : p.env?.http;
  if (proxy === undefined || proxy === '') return null;
  const exempt = [p.env?.noProxy, p.noProxy].filter((s): s is string => s !== undefined).join(',');
  return exempts(exempt, origin) ? null : proxy;
}

/**
 * NO_PROXY as curl reads it: comma- or space-separated; `*` alone exempts everything; a name exempts itself and
 * its subdomains (a leading `.` or `*.` changes nothing); `host:port` only that port; an IP itself; a CIDR its range.
 */
export function exempts(list: string, origin: URL): boolean {
  const host = origin.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = origin.port || (origin.protocol === 'https:' ? '443' : '80');
  for (const raw of list.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    if (entry.includes('/')) {
      if (inCidr(host, entry)) return true;
      continue;
    }
    const m = /^(\[[^\]]+\]|[^:]+|[0-9a-f:]+)(?::(\d+))?$/.exec(entry);
    const name = (m?.[1] ?? entry).replace(/^\[|\]$/g, '').replace(/^\*?\./, '');
    if (m?.[2] !== undefined && m[2] !== port) continue;
    if (host === name || (!net.isIP(host) && host.endsWith(`.${name}`))) return true;
  }
  return false;
}

function inCidr(host: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const family = net.isIP(base ?? '');
  if (family === 0 || net.isIP(host) !== family || !/^\d+$/.test(bits ?? '')) return false;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const list = new net.BlockList();
  try {
    list.addSubnet(base!, Number(bits), type);
  } catch {
    return false;
  }
  return list.check(host, type);
}
