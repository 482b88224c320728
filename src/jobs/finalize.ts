// The output and error files of a batch that is done (completed, cancelled or expired): every settled line from
// Redis, 2xx answers to the output file and the rest to the error file; for an expired batch, each line that was
// never sent goes to the error file as batch_expired. Written to a temporary name and renamed, so a serve killed
// while writing starts over and every custom_id still appears exactly once.
import fs from 'node:fs';
import { once } from 'node:events';
import { isBlank, readLines } from './lines.js';
import { newFileId, nowSeconds } from './ids.js';
import { unsentLine } from './openai-line.js';
import type { FileObject, JobStore } from './store.js';

const EXPIRED = 'This request could not be executed before the completion window expired.';

interface Out {
  path: string;
  stream: fs.WriteStream;
  bytes: number;
  lines: number;
}

export async function writeResultFiles(
  store: JobStore,
  batchId: string,
  fields: Record<string, string>,
  final: string,
): Promise<{ output: string | null; error: string | null }> {
  const outId = fields.pending_output ?? newFileId();
  const errId = fields.pending_error ?? newFileId();
  await store.redis.hset(store.keys.batch(batchId), { pending_output: outId, pending_error: errId });
  const outs = { o: open(store.filePath(outId)), e: open(store.filePath(errId)) };
  let cursor = '0';
  do {
    const [next, entries] = await store.redis.hscan(store.keys.results(batchId), cursor, 'COUNT', 500);
    cursor = next;
    for (let i = 1; i < entries.length; i += 2) {
      const v = entries[i]!;
      if (v[0] === 'o' || v[0] === 'e') await write(outs[v[0]], v.slice(1));
      else if (final === 'expired')
        await write(outs.e, JSON.stringify(unsentLine(v.slice(1), 'batch_expired', EXPIRED)));
    }
  } while (cursor !== '0');
  if (final === 'expired' && fields.in_progress_at !== undefined) await writeUnfed(store, fields, outs.e);
  const output = await close(store, outs.o, outId, batchId, 'output');
  const error = await close(store, outs.e, errId, batchId, 'error');
  return { output, error };
}

/** The lines never handed to a sender (past the feed cursor), each as batch_expired. */
async function writeUnfed(store: JobStore, fields: Record<string, string>, out: Out): Promise<void> {
  const spec = JSON.parse(fields.obj!) as { input_file_id: string };
  const from = Number(fields.cursor ?? 0);
  for await (const { text } of readLines(store.filePath(spec.input_file_id), from, Number(fields.line ?? 1))) {
    if (isBlank(text)) continue;
    const id = (JSON.parse(text) as { custom_id: string }).custom_id;
    await write(out, JSON.stringify(unsentLine(id, 'batch_expired', EXPIRED)));
  }
}

function open(path: string): Out {
  return { path, stream: fs.createWriteStream(`${path}.part`), bytes: 0, lines: 0 };
}

async function write(out: Out, line: string): Promise<void> {
  const text = line + '\n';
  out.bytes += Buffer.byteLength(text);
  out.lines++;
  if (!out.stream.write(text)) await once(out.stream, 'drain');
}

/** Finishes one file: kept and registered when it holds lines, else removed (its id stays null). */
async function close(store: JobStore, out: Out, id: string, batchId: string, kind: string): Promise<string | null> {
  out.stream.end();
  await once(out.stream, 'finish');
  if (out.lines === 0) {
    await fs.promises.rm(`${out.path}.part`, { force: true });
    return null;
  }
  await fs.promises.rename(`${out.path}.part`, out.path);
  const file: FileObject = {
    id,
    object: 'file',
    bytes: out.bytes,
    created_at: nowSeconds(),
    expires_at: null,
    filename: `${batchId}_${kind}.jsonl`,
    purpose: 'batch_output',
    status: 'processed',
    status_details: null,
  };
  await store.putFile(file, { lines: String(out.lines) });
  return id;
}
