import { HOSTILE_OBJECTS, outcome } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { exportWorker, withAuditContext } from '../src/index.js';

it.each(HOSTILE_OBJECTS)('withAuditContext refuses %s as its options, naming itself', async (_kind, make) => {
  expect(await outcome(() => withAuditContext(async () => undefined, make('actor') as never))).toMatch(
    /^CONFIG_INVALID: @threadline\/bullmq withAuditContext/,
  );
});

it.each(
  HOSTILE_OBJECTS.filter(([kind]) => !kind.startsWith('a null-prototype') && !kind.includes('has trap')),
)('exportWorker refuses %s as its options, naming itself', async (_kind, make) => {
  expect(await outcome(() => exportWorker(make('queueName') as never))).toMatch(
    /^CONFIG_INVALID: exportWorker/,
  );
});
