import diagnostics from 'node:diagnostics_channel';
import { describeEachDb } from '@threadline/test-utils';
import { afterEach, expect, it } from 'vitest';
import {
  ActorRef,
  runWithAuditContext,
  TELEMETRY_CHANNEL_NAMES,
  TELEMETRY_CHANNELS,
  TELEMETRY_TRACING_CHANNEL_NAMES,
} from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

type Event = { channel: string; payload: Record<string, unknown> };
const events: Event[] = [];
const unsubscribe: (() => void)[] = [];

function listenToEverything(): void {
  for (const name of TELEMETRY_CHANNEL_NAMES) {
    const fn = (message: unknown) => events.push({ channel: name, payload: { ...(message as object) } });
    diagnostics.subscribe(name, fn);
    unsubscribe.push(() => diagnostics.unsubscribe(name, fn));
  }
  for (const name of TELEMETRY_TRACING_CHANNEL_NAMES) {
    const tc = diagnostics.tracingChannel(name);
    const handlers = Object.fromEntries(
      (['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const).map((kind) => [
        kind,
        (message: unknown) =>
          events.push({ channel: `${name}:${kind}`, payload: { ...(message as object) } }),
      ]),
    );
    tc.subscribe(handlers as never);
    unsubscribe.push(() => tc.unsubscribe(handlers as never));
  }
}

afterEach(() => {
  for (const u of unsubscribe.splice(0)) u();
  events.length = 0;
});

describeEachDb('telemetry on node:diagnostics_channel', (db) => {
  it('names every channel threadline:<area>:<event>', () => {
    for (const name of [...TELEMETRY_CHANNEL_NAMES, ...TELEMETRY_TRACING_CHANNEL_NAMES])
      expect(name).toMatch(/^threadline:[a-z]+:[a-z_]+$/);
    expect(TELEMETRY_CHANNEL_NAMES).toContain('threadline:retention:purge_batch');
    expect(TELEMETRY_CHANNEL_NAMES).toContain('threadline:export:failed');
    expect(TELEMETRY_CHANNEL_NAMES).toContain('threadline:operator:access_denied');
  });

  it('publishes counts, durations, codes and table names, never row values, actor ids or correlation ids', async () => {
    const s = uniqueName('tel');
    await db().exec(`create schema ${s}; create table ${s}.notes (id int primary key, body text, email text);
      insert into ${s}.notes values (1, 'SECRET-OLD-ROW', 'old@secret.example')`);
    const tl = await installed(db(), { [`${s}.notes`]: { mask: ['email'] } });
    listenToEverything();
    await tl.installTriggers({ tables: [`${s}.notes`] });
    await runWithAuditContext(
      {
        actor: ActorRef.user('SECRET-ACTOR-42'),
        correlationId: 'SECRET-CORRELATION',
        requestId: 'SECRET-REQUEST',
      },
      async () => {
        await tl.transaction(async (tx) => {
          await tx.query(`insert into ${s}.notes values (2, 'SECRET-ROW-VALUE', 'x@secret.example')`);
          await tl.recordAction('note.created', { reason: 'SECRET-REASON' });
        });
        await tl.continuity.baseline({ table: `${s}.notes`, batchSize: 10 });
      },
    );
    await tl.health.coverage({ schema: s });
    await tl.health.verify({ expectedTables: [`${s}.notes`] });
    await tl.policy.show();
    await tl.health.coverage({ schema: 'SECRET-NO-SUCH-SCHEMA' }).catch(() => undefined);
    await tl.removeTriggers({ tables: [`${s}.notes`] });

    const byChannel = (name: string) => events.filter((e) => e.channel === name).map((e) => e.payload);
    expect(byChannel(TELEMETRY_CHANNELS.triggersInstalled)).toEqual([
      { tables: [`${s}.notes`], count: 1, durationMs: expect.any(Number) },
    ]);
    expect(byChannel(TELEMETRY_CHANNELS.transactionBound)).toEqual([{ captured: true, bound: true }]);
    expect(byChannel(TELEMETRY_CHANNELS.actionRecorded)).toEqual([{ status: 'ok', linked: true }]);
    expect(byChannel(TELEMETRY_CHANNELS.healthChecked)).toEqual([
      { schemas: 1, covered: 1, uncovered: 0, expectedUncovered: 0 },
    ]);
    expect(byChannel(TELEMETRY_CHANNELS.findingsChecked)).toEqual([
      { errors: 0, warnings: 0, codes: {}, durationMs: expect.any(Number) },
      { errors: 0, warnings: 0, codes: {}, durationMs: expect.any(Number) },
    ]);
    expect(byChannel(TELEMETRY_CHANNELS.coverageVerified)).toEqual([
      { ok: true, expected: 1, covered: 1, violated: 0 },
    ]);
    expect(byChannel(TELEMETRY_CHANNELS.healthFailed)).toEqual([
      { check: 'coverage', code: 'NOT_FOUND', durationMs: expect.any(Number) },
    ]);
    expect(byChannel(TELEMETRY_CHANNELS.baselineCompleted)).toEqual([
      { table: `${s}.notes`, batches: 1, scanned: 2, recorded: 1, durationMs: expect.any(Number) },
    ]);
    expect(byChannel(TELEMETRY_CHANNELS.triggersRemoved)).toEqual([
      { tables: [`${s}.notes`], count: 1, durationMs: expect.any(Number) },
    ]);
    const policy = byChannel(TELEMETRY_CHANNELS.policyChecked)[0]!;
    expect(policy.matches).toBe(1);
    expect(byChannel('threadline:health:check:start').map((p) => p.check)).toEqual([
      'coverage',
      'verify',
      'coverage',
    ]);
    expect(byChannel('threadline:health:check:error')).toEqual([
      { check: 'coverage', errorCode: 'NOT_FOUND', durationMs: expect.any(Number) },
    ]);
    expect(byChannel('threadline:continuity:baseline:asyncEnd')).toEqual([
      { table: `${s}.notes`, batches: 1, scanned: 2, recorded: 1, durationMs: expect.any(Number) },
    ]);
    const everything = JSON.stringify(events);
    for (const secret of ['SECRET-', 'secret.example', 'note.created'])
      expect(everything, secret).not.toContain(secret);
  });

  it('costs nothing and publishes nothing when no one listens', async () => {
    const tl = await installed(db());
    const t = uniqueName('quiet');
    await db().exec(`create table ${t} (id int primary key)`);
    await tl.installTriggers({ tables: [t] });
    const seen: unknown[] = [];
    const fn = (m: unknown) => seen.push(m);
    diagnostics.subscribe(TELEMETRY_CHANNELS.transactionBound, fn);
    diagnostics.unsubscribe(TELEMETRY_CHANNELS.transactionBound, fn);
    await tl.transaction(async (tx) => tx.query(`insert into ${t} values (1)`));
    expect(seen).toEqual([]);
    expect(diagnostics.channel(TELEMETRY_CHANNELS.transactionBound).hasSubscribers).toBe(false);
  });
});
