import { parseTableName } from '../capture/identifiers.js';
import type { OperationsContext } from '../context/operations-context.js';
import { parseConsistency } from '../db/read-routing.js';
import { tableList } from '../health/config.js';
import { peekOption } from '../plain-input.js';
import { checkKeys } from '../query/validate.js';
import { TELEMETRY_TRACING_CHANNELS } from '../telemetry/channels.js';
import { traced } from '../telemetry/publish.js';
import { recordBaseline } from './baseline.js';
import { continuityOf, reportTargets } from './report.js';
import type { BaselineOptions, BaselineResult, ContinuityReport, ContinuityReportOptions } from './types.js';

/** `tl.continuity`: which current rows have no history (brownfield tables), and the opt-in baseline. */
export class ContinuityChecks {
  constructor(private readonly ctx: OperationsContext) {}

  /**
   * Per captured table: capture since, rows now, rows with no history yet. On readDb when one is
   * configured: a replica's tables and audit rows are one consistent snapshot of the primary.
   */
  async report(options: ContinuityReportOptions = {}): Promise<ContinuityReport> {
    const what = 'continuity.report';
    options = checkKeys(options, ['tables', 'consistency'], `${what} options`) as ContinuityReportOptions;
    const only = options.tables === undefined ? null : tableList(options.tables, `${what}: tables`);
    const ctx = this.ctx.forRead(parseConsistency(options.consistency, what));
    await ctx.assertInstalled(what);
    const targets = await reportTargets(ctx, only, what);
    const tables = [];
    for (const [table, reg] of targets) tables.push(await continuityOf(ctx, table, reg, what));
    return { checkedAt: new Date().toISOString(), tables };
  }

  /** Opt-in: record today's rows of one table as `op = 'baseline'` (batched, resumable, idempotent). */
  baseline(options: BaselineOptions): Promise<BaselineResult> {
    const given = peekOption(options, 'table');
    const table = typeof given === 'string' ? given : '';
    return traced(
      TELEMETRY_TRACING_CHANNELS.continuityBaseline,
      { table: table && safeLabel(table) },
      () => recordBaseline(this.ctx, options),
      (r) => ({ batches: r.batches, scanned: r.scanned, recorded: r.recorded }),
    );
  }
}

function safeLabel(text: string): string {
  try {
    const t = parseTableName(text);
    return t.schema === 'public' ? t.name : `${t.schema}.${t.name}`;
  } catch {
    return '';
  }
}
