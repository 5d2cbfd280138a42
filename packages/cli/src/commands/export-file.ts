import { randomBytes } from 'node:crypto';
import { constants, createWriteStream, rmSync } from 'node:fs';
import { access, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { UsageError } from '../exit-codes.js';
import type { OutputStream } from '../io.js';

/** The target of `--out FILE`, checked before anything is read from the database. */
export async function checkOutFile(
  cwd: string,
  out: string,
  usageError: (message: string) => UsageError,
): Promise<string> {
  const target = resolve(cwd, out);
  const dir = dirname(target);
  const dirStat = await stat(dir).catch(() => null);
  if (!dirStat?.isDirectory())
    throw usageError(`--out: directory ${dir} does not exist; create it first or choose another path`);
  try {
    await access(dir, constants.W_OK);
  } catch {
    throw usageError(`--out: directory ${dir} is not writable; choose a path you can write to`);
  }
  const fileStat = await stat(target).catch(() => null);
  if (fileStat?.isDirectory()) throw usageError(`--out: ${target} is a directory; give a file name`);
  return target;
}

/**
 * Write the stream to `target` atomically: into a temporary file in the same directory, synced,
 * then renamed over the target. A failed or interrupted export (error, SIGINT, SIGTERM) removes
 * the temporary file, so the target is either the complete export or untouched.
 */
export async function writeAtomically(stream: Readable, target: string): Promise<void> {
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const onSignal = (signal: NodeJS.Signals) => {
    rmSync(temp, { force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await pipeline(stream, createWriteStream(temp, { flags: 'wx', mode: 0o644 }));
    const handle = await open(temp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

type Drainable = OutputStream & {
  once?: (event: string, fn: (...args: unknown[]) => void) => unknown;
  off?: (event: string, fn: (...args: unknown[]) => void) => unknown;
};

/**
 * Stream to stdout with backpressure (waits for 'drain'), so `| jq` or `| gzip` on a huge export
 * keeps memory flat. A reader that goes away (EPIPE) stops the export.
 */
export async function writeToStdout(stream: Readable, stdout: OutputStream): Promise<void> {
  const out = stdout as Drainable;
  let failed: unknown = null;
  const onError = (error: unknown) => {
    failed = error;
    stream.destroy();
  };
  out.once?.('error', onError);
  try {
    for await (const chunk of stream) {
      if (failed) break;
      const text = (chunk as Buffer).toString('utf8');
      if (out.write(text) === false && typeof out.once === 'function') {
        await new Promise<void>((resolveDrain) => {
          const done = () => {
            out.off?.('error', done);
            resolveDrain();
          };
          out.once?.('drain', done);
          out.once?.('error', done);
        });
      }
    }
  } catch (error) {
    // Destroying the stream after a write error ends the loop with "premature close": report the write error.
    if (!failed) throw error;
  } finally {
    out.off?.('error', onError);
  }
  if (failed) throw failed;
}
