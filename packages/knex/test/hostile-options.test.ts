import { HOSTILE_OBJECTS, outcome } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { attachThreadline } from '../src/index.js';

it.each(HOSTILE_OBJECTS)('attachThreadline refuses %s as its options, naming itself', async (_kind, make) => {
  expect(await outcome(() => attachThreadline({} as never, make('threadline') as never))).toMatch(
    /^CONFIG_INVALID: attachThreadline/,
  );
});
