// Unguessable ids (128 random bits) in OpenAI's style: file-…, batch_….
import { randomBytes } from 'node:crypto';

const random = (): string => randomBytes(16).toString('hex');

export const newFileId = (): string => `file-${random()}`;
export const newBatchId = (): string => `batch_${random()}`;

/** Ids this server made: anything else is answered 404 without a Redis lookup or a path built from it. */
export const isFileId = (id: string): boolean => /^file-[0-9a-f]{32}$/.test(id);
export const isBatchId = (id: string): boolean => /^batch_[0-9a-f]{32}$/.test(id);

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
