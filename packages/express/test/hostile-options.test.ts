import { HOSTILE_OBJECTS, outcome } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { auditContext } from '../src/index.js';

it.each(HOSTILE_OBJECTS)(
  'auditContext refuses %s as its options when mounted, naming itself',
  async (_kind, make) => {
    expect(await outcome(() => auditContext(make('source') as never))).toMatch(
      /^(CONFIG_INVALID|INVALID_CONTEXT): @threadline\/express auditContext\(\)/,
    );
  },
);

it('auditContext refuses an actor that is not a function when mounted', async () => {
  expect(await outcome(() => auditContext({ actor: 'user:1' as never }))).toMatch(
    /^CONFIG_INVALID: @threadline\/express auditContext\(\): actor must be a function/,
  );
});
