import { userInfo } from 'node:os';
import { Transform } from 'node:stream';
import { ActorRef, EXPORT_FORMATS, type ExportFormat } from '@threadline/core';
import { ExitCode } from '../exit-codes.js';
import type { Command, CommandContext } from './command.js';
import { checkOutFile, writeAtomically, writeToStdout } from './export-file.js';
import { TIMELINE_FILTER_OPTIONS, timelineFilters } from './query-flags.js';

const DEFAULT_CLI_MAX_ROWS = 10_000;

/** Who the export is recorded for: the operating-system user running the CLI. */
function cliActor(): ActorRef {
  let name = 'unknown';
  try {
    name = userInfo().username || name;
  } catch {
    // no passwd entry (some containers)
  }
  return ActorRef.system(`threadline-cli:${name}`);
}

function maxRows(ctx: CommandContext): number | undefined {
  const raw = ctx.flags['max-rows'] as string | undefined;
  if (ctx.flags.all === true) {
    if (raw !== undefined) throw ctx.usageError('pass either --max-rows N or --all, not both');
    return undefined;
  }
  if (raw === undefined) return DEFAULT_CLI_MAX_ROWS;
  if (!/^\s*\d{1,15}\s*$/.test(raw) || Number(raw) < 1)
    throw ctx.usageError(`--max-rows must be a whole number of at least 1, got "${raw.slice(0, 20)}"`);
  return Number(raw);
}

/** Progress on a terminal's stderr: rows and bytes so far, redrawn at most every 100 ms. */
function progress(ctx: CommandContext): { counter: Transform; done(): void } {
  const show = ctx.stderr.isTTY === true && !ctx.json;
  let bytes = 0;
  let last = 0;
  let shown = false;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      const now = Date.now();
      if (show && now - last > 100) {
        last = now;
        shown = true;
        ctx.stderr.write(`\r\x1b[2Kexporting… ${(bytes / 1024 / 1024).toFixed(1)} MB`);
      }
      callback(null, chunk);
    },
  });
  return {
    counter,
    done() {
      if (shown) ctx.stderr.write('\r\x1b[2K');
    },
  };
}

export const exportCommand: Command = {
  path: ['export'],
  summary: 'export changes matching timeline filters as CSV, JSON or NDJSON (to a file or stdout)',
  usage:
    'threadline export --format csv|json|ndjson (--out FILE | --out -) [--table T] [--table-schema S] [--actor type:id] [--from ISO] [--to ISO] [--correlation-id ID] [--max-rows N | --all] [--dry-run] [--no-formula-guard] [--json]',
  options: {
    format: { type: 'string', value: 'csv|json|ndjson', description: 'file format (docs/export.md)' },
    out: {
      type: 'string',
      value: 'FILE|-',
      description: 'write to FILE atomically (complete or not at all), or - for stdout',
    },
    ...TIMELINE_FILTER_OPTIONS,
    'max-rows': {
      type: 'string',
      value: 'N',
      description: `stop after N changes, newest first (default ${DEFAULT_CLI_MAX_ROWS})`,
    },
    all: { type: 'boolean', description: 'every matching change (no row limit; memory stays flat)' },
    'dry-run': { type: 'boolean', description: 'print how many changes match; write nothing' },
    'no-formula-guard': {
      type: 'boolean',
      description: "CSV: do not prefix cells starting with = + - @ tab or CR with ' (for machine consumers)",
    },
  },
  details:
    'Filters are the timeline filters. The export is recorded as a threadline.export action by system:threadline-cli:<os user>. ' +
    'With --json a file export prints { format, out, rowCount, bytes, truncated } and a dry run { count }.',
  async run(ctx) {
    const filters = timelineFilters(ctx);
    const limit = maxRows(ctx);
    const dryRun = ctx.flags['dry-run'] === true;
    const format = ctx.flags.format as string | undefined;
    const out = ctx.flags.out as string | undefined;
    if (format !== undefined && !(EXPORT_FORMATS as readonly string[]).includes(format))
      throw ctx.usageError(`--format must be csv, json or ndjson, got "${format.slice(0, 20)}"`);
    if (dryRun) {
      const tl = await ctx.threadline();
      const { count, capped } = await tl.export.count(filters, {
        cap: ctx.flags['max-rows'] === undefined ? null : (limit ?? null),
      });
      if (ctx.json) ctx.out.json({ count, capped });
      else ctx.out.line(`${capped ? 'at least ' : ''}${count} change${count === 1 ? '' : 's'} match`);
      return ExitCode.ok;
    }
    if (format === undefined) throw ctx.usageError('--format is required: csv, json or ndjson');
    if (out === undefined || out.trim() === '')
      throw ctx.usageError('--out is required: a file path, or - for stdout (or use --dry-run)');
    if (out === '-' && ctx.json)
      throw ctx.usageError(
        '--json prints a summary on stdout, which --out - uses for the data; write to a file with --out FILE',
      );
    const target = out === '-' ? null : await checkOutFile(ctx.cwd, out, (m) => ctx.usageError(m));
    const tl = await ctx.threadline();
    const stream = tl.export.stream(filters, {
      format: format as ExportFormat,
      formulaGuard: ctx.flags['no-formula-guard'] !== true,
      ...(limit === undefined ? {} : { maxRows: limit }),
      actor: cliActor(),
    });
    const shown = progress(ctx);
    try {
      const counted = stream.pipe(shown.counter);
      stream.once('error', (error) => counted.destroy(error));
      if (target) await writeAtomically(counted, target);
      else await writeToStdout(counted, ctx.stdout);
    } catch (error) {
      // Stop reading (the connection goes back) and let the stop be recorded before exiting.
      stream.destroy();
      await stream.recorded;
      // The reader went away (`| head`): not an error; the action says the export stopped.
      if ((error as { code?: unknown })?.code === 'EPIPE') return ExitCode.ok;
      throw error;
    } finally {
      shown.done();
    }
    const { rowCount, bytes, truncated } = stream.stats;
    if (truncated)
      ctx.out.note(
        `threadline: stopped after ${rowCount} changes (--max-rows ${limit}); more match: pass --all for every change or a larger --max-rows`,
      );
    if (ctx.json) ctx.out.json({ format, out: target, rowCount, bytes, truncated });
    else if (target)
      ctx.out.line(`wrote ${rowCount} change${rowCount === 1 ? '' : 's'} (${bytes} bytes) to ${target}`);
    return ExitCode.ok;
  },
};
