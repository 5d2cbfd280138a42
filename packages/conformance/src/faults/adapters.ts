import { ActorRef, runWithAuditContext } from '@threadline/core';
import { redisEnabled } from '@threadline/test-utils';
import type { JobAdapterHarness } from '../job.js';
import type { RequestAdapterHarness } from '../request.js';
import type { TransactionAdapterHarness } from '../transaction.js';
import { describeFaultScenarios, faultThreadline, outcomeOf } from './scenarios.js';

/**
 * The fault scenarios through a request adapter: each write is a POST /items served by the
 * harness's app (its error handler answers 500 with the error's `code` and `message`).
 */
export function describeRequestAdapterFaults(harness: RequestAdapterHarness): void {
  describeFaultScenarios(`request adapter ${harness.name}`, async (options) => {
    const { tl, pool } = faultThreadline(options);
    const app = await harness.start({ tl, table: options.table });
    return {
      async write(id, actor) {
        const res = await fetch(`${app.url}/items`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-test-actor': actor },
          body: JSON.stringify({ id }),
        });
        const text = await res.text();
        if (res.status === 200) return { ok: true };
        const body = JSON.parse(text) as { code?: string; message?: string };
        return { ok: false, code: body.code, message: body.message ?? text };
      },
      async close() {
        await app.close();
        await pool.end();
      },
    };
  });
}

/** The fault scenarios through a job adapter: each write is a job enqueued as the actor. */
export function describeJobAdapterFaults(harness: JobAdapterHarness): void {
  describeFaultScenarios(
    `job adapter ${harness.name}`,
    async (options) => {
      const { tl, pool } = faultThreadline(options);
      const worker = await harness.start({
        tl,
        table: options.table,
        concurrency: 8,
        async process(data) {
          await tl.transaction((tx) => tx.query(`insert into ${options.table} (id) values ($1)`, [data.id]));
        },
        actor: () => undefined,
      });
      return {
        async write(id, actor) {
          const outcome = await worker.enqueue({ id }, { inContextOf: { actor: ActorRef.user(actor) } });
          return outcome.status === 'completed' ? { ok: true } : { ok: false, message: outcome.reason };
        },
        async close() {
          await worker.close();
          await pool.end();
        },
      };
    },
    redisEnabled(),
  );
}

/** The fault scenarios through an ORM's transaction hooks: each write is one ORM transaction. */
export function describeTransactionAdapterFaults(harness: TransactionAdapterHarness): void {
  describeFaultScenarios(`transaction adapter ${harness.name}`, async (options) => {
    const { tl, pool } = faultThreadline(options);
    const orm = await harness.open({
      url: options.url,
      poolSize: options.poolSize,
      tl,
      ...(options.acquireTimeoutMillis ? { acquireTimeoutMillis: options.acquireTimeoutMillis } : {}),
    });
    return {
      write: (id, actor) =>
        outcomeOf(
          runWithAuditContext({ actor: ActorRef.user(actor) }, () =>
            orm.transaction((tx) => tx.exec(`insert into ${options.table} (id) values ($1)`, [id])),
          ),
        ),
      async close() {
        await orm.close();
        await pool.end();
      },
    };
  });
}
