// POST /v1/files: the multipart body streamed (busboy) to a file under --data-dir, never held whole; its lines
// counted on the way. Past --max-file-size or --max-file-lines the upload stops at once with 413 and nothing is
// kept.
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { ApiError, invalid } from './api-error.js';

export interface UploadLimits {
  maxBytes: number;
  maxLines: number;
}

export interface Uploaded {
  filename: string;
  purpose: string | null;
  bytes: number;
  lines: number;
}

const tooLarge = (what: string): ApiError => new ApiError(413, 'FILE_TOO_LARGE', what, 'file');

/** Streams the upload's `file` part to `dest`; rejects (and removes `dest`) on any problem. */
export function receiveUpload(req: IncomingMessage, dest: string, limits: UploadLimits): Promise<Uploaded> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limits.maxBytes + 64 * 1024)
    return Promise.reject(
      tooLarge(`The upload is ${declared} bytes; this server takes files up to ${limits.maxBytes} bytes`),
    );
  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers: req.headers, limits: { fileSize: limits.maxBytes, files: 1, fields: 10, fieldSize: 4096 } });
  } catch {
    return Promise.reject(invalid("Expected multipart/form-data with a 'file' part and purpose=batch", 'file'));
  }
  return new Promise<Uploaded>((resolve, reject) => {
    let purpose: string | null = null;
    let got: { filename: string; bytes: number; lines: number; written: Promise<void> } | null = null;
    let failed = false;
    const fail = (err: ApiError): void => {
      if (failed) return;
      failed = true;
      req.unpipe(bb);
      req.resume();
      fs.rm(dest, { force: true }, () => reject(err));
    };
    bb.on('field', (name, value) => {
      if (name === 'purpose') purpose = value;
    });
    bb.on('file', (name, stream, info) => {
      if (name !== 'file' || got !== null) return void stream.resume();
      const out = fs.createWriteStream(dest, { flags: 'wx' });
      let bytes = 0;
      let newlines = 0;
      let last = 10;
      const entry = { filename: info.filename ?? 'upload.jsonl', bytes: 0, lines: 0, written: Promise.resolve() };
      got = entry;
      entry.written = new Promise<void>((done, broken) => {
        out.on('finish', done);
        out.on('error', broken);
      });
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) newlines++;
        last = chunk[chunk.length - 1]!;
        const lines = newlines + (last === 10 ? 0 : 1);
        if (lines > limits.maxLines) {
          stream.destroy();
          out.destroy();
          fail(tooLarge(`The file holds more than ${limits.maxLines} lines, the most this server takes`));
        }
      });
      stream.on('limit', () => {
        out.destroy();
        fail(tooLarge(`The file is larger than ${limits.maxBytes} bytes, the most this server takes`));
      });
      stream.on('end', () => {
        entry.bytes = bytes;
        entry.lines = newlines + (bytes === 0 || last === 10 ? 0 : 1);
      });
      stream.pipe(out);
    });
    bb.on('error', () => fail(invalid('The multipart body is malformed', 'file')));
    bb.on('close', () => {
      if (failed) return;
      if (got === null) return fail(invalid("No 'file' part in the upload", 'file'));
      const entry = got;
      entry.written.then(
        () => resolve({ filename: entry.filename, purpose, bytes: entry.bytes, lines: entry.lines }),
        () => fail(new ApiError(500, 'INTERNAL_ERROR', 'The file could not be stored')),
      );
    });
    req.on('aborted', () => fail(invalid('The upload was cut off')));
    req.pipe(bb);
  });
}
