import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ThreadlineError } from '../errors.js';

/** Where background exports keep their files. `put` must leave nothing behind when it fails. */
export interface ExportStorage {
  /** Store the stream's bytes; resolves with a reference to read or delete them later. */
  put(stream: Readable, info: { jobId: string; extension: string }): Promise<string>;
  get(ref: string): Promise<Readable>;
  /** Delete the file; a file that is already gone is not an error. */
  delete(ref: string): Promise<void>;
}

const REF = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(csv|json|ndjson)$/;

function storageError(what: string, error: unknown): ThreadlineError {
  return new ThreadlineError(
    'EXPORT_STORAGE_FAILED',
    `${what}: ${(error as Error)?.message ?? String(error)}; check that the export directory exists and is writable`,
    { cause: error },
  );
}

/** Files in one local directory: written under a temporary name, renamed when complete. */
export class LocalDirectoryStorage implements ExportStorage {
  constructor(readonly directory: string) {}

  private path(ref: string): string {
    if (!REF.test(ref))
      throw new ThreadlineError(
        'EXPORT_STORAGE_FAILED',
        `export storage: invalid file reference "${ref.slice(0, 60)}"`,
      );
    return join(this.directory, ref);
  }

  async put(stream: Readable, info: { jobId: string; extension: string }): Promise<string> {
    const ref = `${info.jobId}.${info.extension}`;
    const target = this.path(ref);
    const temp = join(this.directory, `.${randomUUID()}.tmp`);
    try {
      await mkdir(this.directory, { recursive: true, mode: 0o700 });
      await pipeline(stream, createWriteStream(temp, { mode: 0o600 }));
      await rename(temp, target);
      return ref;
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw stream.errored ? stream.errored : storageError('export storage: writing the file failed', error);
    }
  }

  async get(ref: string): Promise<Readable> {
    const path = this.path(ref);
    const file = createReadStream(path);
    await new Promise<void>((resolve, reject) => {
      file.once('open', () => resolve());
      file.once('error', (error) => reject(storageError('export storage: the file cannot be read', error)));
    });
    return file;
  }

  async delete(ref: string): Promise<void> {
    await rm(this.path(ref), { force: true }).catch((error) => {
      throw storageError('export storage: deleting the file failed', error);
    });
  }
}
