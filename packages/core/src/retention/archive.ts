import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { SqlSession } from '../db/sql-client.js';
import { isThreadlineError, ThreadlineError } from '../errors.js';
import type { ResolvedArchive } from './archive-policy.js';
import { archiveSelectSql } from './archive-sql.js';

/** Archive file format version (the records are the export file format's NDJSON lines). */
const ARCHIVE_FORMAT_VERSION = 1;

export interface ArchivedPart {
  part: number;
  rowCount: number;
  /** The gzip NDJSON file (directory archives only). */
  file: string | null;
  sha256: string | null;
}

/** What an archive wrote in one run (kept on the run row as `archive`). */
export interface ArchiveSummary {
  /** The directory, or 'callback'. */
  target: string;
  parts: number;
  rows: number;
  /** First and last part file (directory archives; the parts between are numbered in order). */
  firstFile: string | null;
  lastFile: string | null;
}

export const emptySummary = (archive: ResolvedArchive): ArchiveSummary => ({
  target: archive.kind === 'dir' ? archive.dir : 'callback',
  parts: 0,
  rows: 0,
  firstFile: null,
  lastFile: null,
});

export function addPart(summary: ArchiveSummary, part: ArchivedPart): void {
  summary.parts++;
  summary.rows += part.rowCount;
  if (part.file) {
    summary.firstFile ??= part.file;
    summary.lastFile = part.file;
  }
}

/** Run-level part file name: sorts by run, then part. */
const partFileName = (runId: string, part: number) =>
  `threadline-archive-run${runId.padStart(8, '0')}-part${String(part).padStart(6, '0')}.ndjson.gz`;

async function writeDurably(path: string, data: Buffer): Promise<void> {
  const temp = `${path}.tmp-${process.pid}`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path).catch(async (error) => {
    await rm(temp, { force: true });
    throw error;
  });
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Write one part and its manifest, fsynced, then read it back and check rows and sha256. */
async function writePartFiles(
  dir: string,
  meta: { runId: string; part: number; cutoff: string },
  records: string[],
  keys: { firstId: string; lastId: string },
): Promise<ArchivedPart> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = partFileName(meta.runId, meta.part);
  const gz = gzipSync(Buffer.from(`${records.join('\n')}\n`, 'utf8'));
  const sha256 = createHash('sha256').update(gz).digest('hex');
  await writeDurably(join(dir, file), gz);
  const manifest = {
    format_version: ARCHIVE_FORMAT_VERSION,
    format: 'ndjson.gz',
    file,
    run_id: meta.runId,
    part: meta.part,
    cutoff: meta.cutoff,
    row_count: records.length,
    first_id: keys.firstId,
    last_id: keys.lastId,
    sha256,
    written_at: new Date().toISOString(),
  };
  await writeDurably(
    join(dir, `${file}.manifest.json`),
    Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`),
  );
  await syncDir(dir);
  // Verify what the disk holds before anything is deleted.
  const back = await readFile(join(dir, file));
  const lines = gunzipSync(back).toString('utf8').split('\n').length - 1;
  if (createHash('sha256').update(back).digest('hex') !== sha256 || lines !== records.length) {
    throw new ThreadlineError(
      'RETENTION_ARCHIVE_FAILED',
      `retention.purge: ${file} read back different from what was written; nothing of this batch was deleted (check the disk under the archive directory)`,
    );
  }
  return { part: meta.part, rowCount: records.length, file, sha256 };
}

/**
 * Archive the rows a purge batch is about to delete, inside the batch's transaction: select them
 * (export format), write them durably (or hand them to the callback), and return their keys, so
 * the caller deletes exactly those. Any failure throws RETENTION_ARCHIVE_FAILED and the batch's
 * transaction rolls back: nothing is deleted that was not archived.
 */
export async function archiveBeforeDelete(
  s: SqlSession,
  q: string,
  archive: ResolvedArchive,
  meta: {
    runId: string;
    part: number;
    cutoff: string;
    batchSize: number;
    /** The table the rows come from (default audit_changes). */
    source?: string;
    /** Select rows captured before this (default the cutoff; 'infinity' empties `source`). */
    before?: string;
  },
): Promise<{ keys: { at: string[]; id: string[] }; archived: ArchivedPart | null }> {
  const { rows } = await s.query<{ key_at: string; key_id: string; record: string }>(
    archiveSelectSql(q, meta.source),
    [meta.before ?? meta.cutoff, meta.batchSize],
  );
  const keys = { at: rows.map((r) => r.key_at), id: rows.map((r) => r.key_id) };
  if (rows.length === 0) return { keys, archived: null };
  const records = rows.map((r) => r.record);
  try {
    if (archive.kind === 'callback') {
      await archive.write({
        runId: meta.runId,
        part: meta.part,
        cutoff: meta.cutoff,
        records,
        rowCount: records.length,
      });
      return { keys, archived: { part: meta.part, rowCount: records.length, file: null, sha256: null } };
    }
    const archived = await writePartFiles(archive.dir, meta, records, {
      firstId: keys.id[0]!,
      lastId: keys.id.at(-1)!,
    });
    return { keys, archived };
  } catch (error) {
    const reason = isThreadlineError(error) || error instanceof Error ? error.message : String(error);
    const fix =
      archive.kind === 'dir'
        ? `make ${JSON.stringify(archive.dir)} writable by this process (or set retention.archive.dir to one that is)`
        : 'fix the retention.archive callback (it must resolve once the batch is stored)';
    throw new ThreadlineError(
      'RETENTION_ARCHIVE_FAILED',
      `retention.archive: part ${meta.part} of run #${meta.runId} (${records.length} changes) could not be archived: ${reason.slice(0, 300)}; nothing in this batch was deleted; ${fix}, then run the purge again`,
      { cause: error },
    );
  }
}
