import { toThreadlineError } from '../db/db-errors.js';
import type { SqlSession } from '../db/sql-client.js';
import { ThreadlineError } from '../errors.js';
import { isObjectInput, readInput } from '../plain-input.js';
import type { Threadline } from '../threadline.js';
import { applyRevert } from './apply.js';
import { freezePlan } from './freeze.js';
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
      // One read-only snapshot, so every question the plan asks sees the same moment.
      const plan = await this.tl.client.transaction(async (session) => {
        await session.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
        return planIn(session, this.q, target);
      });
      // Read-only from here: apply runs a plan this instance made as it is, any other after
      // making it again from the audit trail and finding it the same.
      issued.set(freezePlan(plan), this);
      return plan;
    } catch (error) {
      throw toThreadlineError(error, 'revert.plan');
    }
  }

  /**
   * Run a plan in one transaction attributed to the caller; fails changing nothing when a row moved
   * on since. A plan that did not come from this instance's plan() (e.g. one read back from JSON)
   * is made again from the audit trail first and must be the same, so an edited plan never runs.
   */
  async apply(given: RevertPlan, options: RevertApplyOptions = {}): Promise<RevertApplyResult> {
    const trusted = typeof given === 'object' && given !== null && issued.get(given) === this;
    if (!trusted && !isObjectInput(given)) throw notAPlan();
    // Any other plan is read once into plain data: the copy is compared with a fresh plan, then run.
    const plan = trusted ? given : (readInput(given, 'revert.apply plan') as unknown as RevertPlan);
    let replan: ((tx: SqlSession) => Promise<RevertPlan>) | null = null;
    if (!trusted) {
      const target = targetOf(plan);
      replan = async (tx) => {
        const fresh = await planIn(tx, this.q, target);
        if (canonical(fresh) !== canonical(plan))
          throw new ThreadlineError(
            'REVERT_CONFLICT',
            'revert.apply: the plan is not the one the audit trail gives now (it was edited, or rows changed since it was made), so nothing was changed; plan again',
          );
        return fresh;
      };
    }
    return applyRevert(
      this.tl,
      plan,
      options,
      (schema, name) => loadTableMeta(this.run, this.q, schema, name, '{}'),
      replan,
    );
  }
}

/** Plans handed out by plan(), and the instance that made each. */
const issued = new WeakMap<object, RevertApi>();

/**
 * Plan under the planner settings the set-wise statements need, restored afterwards (apply plans
 * again inside its own transaction). Hash joins only: on statistics not yet refreshed after a bulk
 * write the planner may pick a nested loop over two large sets, or sort jsonb keys for a merge join
 * (the capture function does the same). JIT off: the set-wise statements' estimates can cross
 * jit_above_cost, and compiling them costs seconds. work_mem: a table's reverted changes stay in
 * memory.
 */
async function planIn(session: SqlSession, q: string, target: RevertTarget): Promise<RevertPlan> {
  const names = ['enable_nestloop', 'enable_mergejoin', 'jit', 'work_mem'];
  const [{ old }] = (
    await session.query<{ old: string[] }>(
      `SELECT ARRAY[${names.map((n) => `current_setting('${n}')`).join(', ')}] AS old,
              set_config('enable_nestloop', 'off', true), set_config('enable_mergejoin', 'off', true),
              set_config('jit', 'off', true), set_config('work_mem', '64MB', true)`,
    )
  ).rows as [{ old: string[] }];
  const run: Run = async (sql, params) => (await session.query(sql, params)).rows as never;
  const plan = await planRevert(run, q, target);
  await session.query(`SELECT ${names.map((n, i) => `set_config('${n}', $${i + 1}, true)`).join(', ')}`, old);
  return plan;
}

function notAPlan(): ThreadlineError {
  return new ThreadlineError('QUERY_INVALID', 'revert.apply: pass the plan tl.revert.plan() returned');
}

/** The target a plan was made for, from its summary (checked again by planRevert). */
function targetOf(plan: RevertPlan): RevertTarget {
  const t = (plan as { summary?: { target?: unknown } } | null)?.summary?.target as
    | Record<string, unknown>
    | undefined;
  if (typeof t !== 'object' || t === null) throw notAPlan();
  if (typeof t.transactionId === 'string') return { transactionId: t.transactionId };
  if (typeof t.correlationId === 'string') return { correlationId: t.correlationId };
  if (typeof t.table === 'string' && typeof t.to === 'string' && typeof t.pk === 'object' && t.pk !== null) {
    const change = /^change (\d+)$/.exec(t.to);
    return { table: t.table, pk: t.pk as never, to: change ? change[1]! : t.to };
  }
  throw notAPlan();
}

/** What a plan says, for comparing two (plannedAt left out). */
function canonical(plan: RevertPlan): string {
  try {
    return JSON.stringify([plan.steps, plan.conflicts, plan.summary, plan.causationId]);
  } catch {
    return '';
  }
}

export type * from './types.js';
