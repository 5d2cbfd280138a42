import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ActorRef, createThreadline, runWithAuditContext } from '@threadline/core';
import { describeEachDb } from '@threadline/test-utils';
import { afterEach, expect, it } from 'vitest';
import { type Instrumentation, instrumentThreadline } from '../src/index.js';

let counter = 0;
const unique = (p: string) => `${p}_${process.pid}_${++counter}`;

function setup() {
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({
    exporter: metricExporter,
    exportIntervalMillis: 3_600_000,
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
  const instrumentation = instrumentThreadline({ meterProvider, tracerProvider });
  const metrics = async (): Promise<Map<string, MetricData>> => {
    await reader.forceFlush();
    const out = new Map<string, MetricData>();
    for (const rm of metricExporter.getMetrics())
      for (const sm of rm.scopeMetrics) for (const m of sm.metrics) out.set(m.descriptor.name, m);
    return out;
  };
  return { instrumentation, metrics, spans: () => spanExporter.getFinishedSpans(), meterProvider };
}

const points = (m: MetricData | undefined) =>
  (m?.dataPoints ?? []).map((p) => ({ attributes: p.attributes, value: p.value }));

let active: Instrumentation | undefined;
afterEach(() => {
  active?.uninstall();
  active = undefined;
});

describeEachDb('instrumentThreadline', (db) => {
  it('records metrics and spans from a real Threadline, with no row values, actor ids or correlation ids', async () => {
    const s = unique('otel');
    await db().exec(`create schema ${s}; create table ${s}.items (id int primary key, secret text);
      insert into ${s}.items values (1, 'SECRET-ROW-1');`);
    const tl = createThreadline({ db: db().db, tables: { [`${s}.items`]: { mask: ['secret'] } } });
    await tl.install();
    const otel = setup();
    active = otel.instrumentation;
    await tl.installTriggers({ tables: [`${s}.items`] });
    await runWithAuditContext(
      { actor: ActorRef.user('SECRET-ACTOR'), correlationId: 'SECRET-CORR' },
      async () => {
        await tl.transaction(async (tx) => {
          await tx.query(`insert into ${s}.items values (2, 'SECRET-ROW-2')`);
          await tl.recordAction('item.added');
        });
        await tl.transaction(async (tx) => tx.query('select 1'));
        await tl.continuity.baseline({ table: `${s}.items` });
      },
    );
    await tl.health.coverage({ schema: s });
    await db().exec(`alter table ${s}.items disable trigger threadline_capture_update`);
    await tl.health.findings({ schema: s });
    await tl.health.coverage({ schema: `${s}_missing` }).catch(() => undefined);
    await tl.policy.show();

    const m = await otel.metrics();
    expect(points(m.get('threadline.transactions'))).toEqual([
      { attributes: { captured: true }, value: 1 },
      { attributes: { captured: false }, value: 1 },
    ]);
    expect(points(m.get('threadline.actions'))).toEqual([{ attributes: { status: 'ok' }, value: 1 }]);
    expect(points(m.get('threadline.capture.tables'))).toEqual([
      { attributes: { operation: 'install' }, value: 1 },
    ]);
    expect(points(m.get('threadline.continuity.baseline.rows'))).toEqual([{ attributes: {}, value: 1 }]);
    expect(points(m.get('threadline.health.checks'))).toEqual([
      { attributes: { check: 'coverage', outcome: 'ok' }, value: 1 },
      { attributes: { check: 'findings', outcome: 'ok' }, value: 1 },
      { attributes: { check: 'coverage', outcome: 'error', 'error.type': 'NOT_FOUND' }, value: 1 },
    ]);
    const duration = m.get('threadline.health.check.duration');
    expect(duration?.descriptor.unit).toBe('s');
    expect(duration?.dataPoints.map((p) => (p.value as { count: number }).count)).toEqual([1, 1, 1]);
    expect(points(m.get('threadline.coverage.tables'))).toEqual([
      { attributes: { status: 'covered' }, value: 1 },
      { attributes: { status: 'uncovered' }, value: 0 },
      { attributes: { status: 'expected_uncovered' }, value: 0 },
    ]);
    expect(
      points(m.get('threadline.health.findings')).find(
        (p) => p.attributes.code === 'capture_trigger_disabled',
      ),
    ).toEqual({ attributes: { code: 'capture_trigger_disabled' }, value: 1 });
    expect(
      points(m.get('threadline.policy.tables')).find((p) => p.attributes.state === 'matches')?.value,
    ).toBeGreaterThanOrEqual(1);

    const spans = otel.spans();
    expect(spans.map((sp) => sp.name)).toEqual([
      'threadline.continuity.baseline',
      'threadline.health.check',
      'threadline.health.check',
      'threadline.health.check',
      'threadline.policy.check',
    ]);
    expect(spans[0]!.attributes).toEqual({
      'threadline.table': `${s}.items`,
      'threadline.batches': 1,
      'threadline.scanned': 2,
      'threadline.recorded': 1,
    });
    expect(spans[3]!.status).toEqual({ code: 2, message: 'NOT_FOUND' });
    expect(spans[3]!.attributes['error.type']).toBe('NOT_FOUND');
    const everything = JSON.stringify([
      [...m.values()].map((x) => x.dataPoints.map((p) => p.attributes)),
      spans.map((sp) => [sp.name, sp.attributes]),
    ]);
    expect(everything).not.toContain('SECRET');
  });

  it('uninstall stops recording', async () => {
    const otel = setup();
    otel.instrumentation.uninstall();
    const tl = createThreadline({ db: db().db });
    await tl.install();
    await tl.transaction(async (tx) => tx.query('select 1'));
    const m = await otel.metrics();
    expect(points(m.get('threadline.transactions'))).toEqual([]);
    expect(otel.spans()).toEqual([]);
  });
});
