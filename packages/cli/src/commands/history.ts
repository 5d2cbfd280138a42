import type { AsOfResult, RowKey } from '@threadline/core';
import { formatTableName, parseExactJson, parseTableName } from '@threadline/core/internal';
import { ExitCode } from '../exit-codes.js';
import { actorText, keyText, printChangePage, printRow, safe } from '../render-changes.js';
import type { Command, CommandContext } from './command.js';
import { PAGE_OPTIONS, pageOptions, WINDOW_OPTIONS, windowOptions } from './query-flags.js';

export const historyCommand: Command = {
  path: ['history'],
  summary: 'the captured changes of one row, newest first, or the row as it was at an instant (--as-of)',
  usage:
    'threadline history <table> <pk> [--as-of ISO | --from ISO --to ISO --page-size N --cursor C] [--json]',
  positionals: [{ name: 'table' }, { name: 'pk' }],
  options: {
    'as-of': {
      type: 'string',
      value: 'ISO',
      description: 'show the row as it was at this instant instead of its changes',
    },
    ...WINDOW_OPTIONS,
    ...PAGE_OPTIONS,
  },
  details: [
    'table: name or schema.name, exact (case-sensitive); quote a part with a dot: \'"my.schema".orders\'.',
    "pk: the key value, converted with the key column's type (42, 6f1c1f3e-…, ABC-7), or for a composite",
    'key a JSON object naming every key column: \'{"org_id":1,"user_id":2}\'. A negative key goes after',
    '"--": threadline history accounts -- -5. The key must be exactly a value of the column\'s type',
    '(abcdefgh for a varchar(3) key is refused, not cut to abc). Numbers in a JSON key keep every digit.',
    'Exit 1 when the table is not audited or --as-of finds no captured state (before the audit horizon).',
  ].join('\n'),
  async run(ctx) {
    const [table, pkText] = ctx.positionals as [string, string];
    // Parse the table name first: a typo is a usage error, not a database round trip.
    try {
      parseTableName(table);
    } catch (error) {
      throw ctx.usageError(`<table>: ${(error as Error).message}`);
    }
    const key = parseKey(ctx, pkText);
    const asOf = ctx.flags['as-of'] as string | undefined;
    if (asOf !== undefined) {
      const extra = ['from', 'to', 'page-size', 'cursor'].filter((f) => ctx.flags[f] !== undefined);
      if (extra.length > 0) {
        throw ctx.usageError(
          `--as-of shows one state of the row; it does not combine with ${extra.map((f) => `--${f}`).join(', ')}`,
        );
      }
      return showAsOf(ctx, table, key, asOf);
    }
    const tl = await ctx.threadline();
    const page = await tl.history(table, key, { ...windowOptions(ctx), ...pageOptions(ctx) });
    if (ctx.json) {
      ctx.out.json(page);
      return ExitCode.ok;
    }
    printChangePage(ctx.out, page, (c) => tl.changeDiff(c), {
      showTable: false,
      empty: `no captured changes of ${safe(table)} ${safe(keyLabel(key))}${ctx.flags.cursor ? ' after this cursor' : ''} (rows that existed before capture was installed have no history until their first captured write)`,
    });
    return ExitCode.ok;
  },
};

/**
 * The key text: a JSON object for composite keys (malformed JSON is a usage error), else the
 * scalar as given, which core converts with the key column's type.
 */
export function parseKey(ctx: CommandContext, text: string): RowKey {
  const trimmed = text.trim();
  if (trimmed === '') throw ctx.usageError('<pk> is empty; give the key value, e.g. 42');
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return text;
  let parsed: unknown;
  try {
    // Exact: 9007199254740993 stays that number (as its text), never the double next to it.
    parsed = parseExactJson(trimmed);
  } catch (error) {
    throw ctx.usageError(
      `<pk> looks like JSON but is not valid JSON (${(error as Error).message.slice(0, 80)}); a composite key is written like '{"org_id":1,"user_id":2}'`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw ctx.usageError(
      '<pk> must be a key value or a JSON object naming every key column, like \'{"org_id":1,"user_id":2}\'',
    );
  }
  for (const [column, v] of Object.entries(parsed)) {
    if (v === null || typeof v === 'object') {
      throw ctx.usageError(
        `<pk>: key column "${column.slice(0, 40)}" needs a string, number or boolean value`,
      );
    }
  }
  return parsed as Record<string, unknown>;
}

function keyLabel(key: RowKey): string {
  return typeof key === 'object' ? keyText(key as Record<string, unknown>) : String(key);
}

async function showAsOf(ctx: CommandContext, table: string, key: RowKey, at: string): Promise<number> {
  const tl = await ctx.threadline();
  const result: AsOfResult = await tl.asOf(table, key, at);
  const exit = result.status === 'before_horizon' ? ExitCode.failed : ExitCode.ok;
  if (ctx.json) {
    ctx.out.json(result);
    return exit;
  }
  const name = formatTableName(parseTableName(table));
  if (result.status === 'before_horizon') {
    const first = result.firstChange
      ? `its first captured change is the ${result.firstChange.op} at ${result.firstChange.capturedAt}`
      : 'no change of this row has been captured';
    ctx.out.note(
      `threadline: no captured state of ${safe(name)} ${safe(keyLabel(key))} at ${safe(at)}: that is before the audit horizon (${first})`,
    );
    return exit;
  }
  const change = result.change;
  const keyColumns = Object.keys(change.tablePk);
  const by = `${change.op} at ${change.capturedAt} by ${safe(actorText(change.actor))}, transaction ${change.transactionId}`;
  if (result.status === 'found') {
    ctx.out.line(`${safe(name)} ${safe(keyText(change.tablePk))} as of ${safe(at)}: found`);
    ctx.out.line(`last change before then: ${by}`);
    ctx.out.line();
    printRow(ctx.out, result.row, keyColumns);
    return exit;
  }
  const shown = change.op === 'truncate' ? keyLabel(key) : keyText(change.tablePk);
  ctx.out.line(`${safe(name)} ${safe(shown)} as of ${safe(at)}: deleted at ${result.deletedAt}`);
  ctx.out.line(`removed by: ${by}`);
  ctx.out.line();
  if (result.lastRow) {
    ctx.out.line('last row before the deletion:');
    printRow(ctx.out, result.lastRow, keyColumns);
  } else {
    ctx.out.line(
      'the last row is not known (the table stores no delete snapshot, or it was removed by TRUNCATE)',
    );
  }
  return exit;
}
