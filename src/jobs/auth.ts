// Bearer auth for every /v1 route: the key compared in constant time (as SHA-256 digests, so neither its length
// nor its bytes leak through timing). The key is never logged or echoed.
import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { BatchpostError } from '../engine/errors.js';
import { ApiError } from './api-error.js';

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export class BearerAuth {
  private readonly expected: Buffer;

  constructor(key: string) {
    this.expected = digest(key);
  }

  /** Throws a 401 ApiError unless the request carries the key. */
  check(req: IncomingMessage): void {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer[ \t]+(\S.*?)[ \t]*$/i.exec(header);
    if (m === null) throw new ApiError(401, 'UNAUTHORIZED', 'Missing Authorization: Bearer <key>');
    if (!timingSafeEqual(digest(m[1]!), this.expected))
      throw new ApiError(401, 'UNAUTHORIZED', 'Incorrect API key provided');
  }
}

/** The key from --api-key-file (first line, trimmed) or BATCHPOST_API_KEY; serve --jobs refuses to start without one. */
export function readApiKey(file: string | undefined, env: Record<string, string | undefined>): string {
  let key: string | undefined;
  if (file !== undefined) {
    try {
      key = fs.readFileSync(file, 'utf8').split(/\r?\n/)[0]!.trim();
    } catch (e) {
      throw new BatchpostError(
        'USAGE',
        `--api-key-file ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  } else key = env.BATCHPOST_API_KEY?.trim();
  if (key === undefined || key === '')
    throw new BatchpostError(
      'USAGE',
      '--jobs needs an API key: --api-key-file FILE or the BATCHPOST_API_KEY environment variable',
      'Make one with: openssl rand -hex 32 > batchpost.key, then pass --api-key-file batchpost.key.',
    );
  if (key.length < 16)
    throw new BatchpostError(
      'USAGE',
      'the API key is shorter than 16 characters; use a long random one (openssl rand -hex 32)',
    );
  return key;
}
