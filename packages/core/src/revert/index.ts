import { toThreadlineError } from '../db/db-errors.js';
import type { Threadline } from '../threadline.js';
import { applyRevert } from './apply.js';
import type { Run } from './load.js';
import { planRevert } from './plan.js';
import { loadTableMeta } from './tables.js';
import type { RevertApplyOptions, RevertApplyResult, RevertPlan, RevertTarget } from './types.js';

/** `tl.revert`: undo a transaction, a correlation bundle or one row's changes from the audit trail. */
export class RevertApi {
  private readonly run: Run;

  constructor(
    private readonly tl: Threadline,
    private readonly q: string,
  ) {
    this.run = async (sql, params) => (await tl.query(sql, params)).rows as never;
  }

  /** The compensating statements, ordered for foreign keys, and every conflict. Changes nothing. */
  async plan(target: RevertTarget): Promise<RevertPlan> {
    try {
      // One read-only snapshot, so every question the plan asks sees the same moment. Hash joins
      // only: on statistics not yet refreshed after a bulk write the planner may pick a nested
      // loop over two large sets, or sort jsonb keys for a merge join (the capture function does
      // the same). JIT off: the set-wise statements' estimates can cross jit_above_cost, and
      // compiling them costs seconds. work_mem: a table's reverted changes stay in memory.
      return await this.tl.client.transaction(async (session) => {
        await session.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
        await session.query(
          `SELECT set_config('enable_nestloop', 'off', true), set_config('enable_mergejoin', 'off', true),
                  set_config('jit', 'off', true), set_config('work_mem', '64MB', true)`,
        );
        const run: Run = async (sql, params) => (await session.query(sql, params)).rows as never;
        return planRevert(run, this.q, target);
      });
    } catch (error) {
      throw toThreadlineError(error, 'revert.plan');
    }
  }

  /** Run a plan in one transaction attributed to the caller; fails changing nothing when a row moved on since. */
  apply(plan: RevertPlan, options: RevertApplyOptions = {}): Promise<RevertApplyResult> {
    return applyRevert(this.tl, plan, options, (schema, name) =>
      loadTableMeta(this.run, this.q, schema, name, '{}'),
    );
  }
}

export type * from './types.js';
