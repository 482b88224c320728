// The User-Agent batchpost sends unless told otherwise: batchpost/<version>, read once from package.json.
import { packageVersion } from '../cli/version.js';

let agent: string | null = null;

export function userAgent(): string {
  return (agent ??= `batchpost/${packageVersion()}`);
}
