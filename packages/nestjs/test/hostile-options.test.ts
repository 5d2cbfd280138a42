import 'reflect-metadata';
import { HOSTILE_OBJECTS, outcome } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ThreadlineModule, WithAuditContext } from '../src/index.js';

it.each(HOSTILE_OBJECTS)(
  'ThreadlineModule.forRoot refuses %s as its options, naming itself',
  async (_kind, make) => {
    expect(await outcome(() => ThreadlineModule.forRoot(make('threadline') as never))).toMatch(
      /^(CONFIG_INVALID|INVALID_CONTEXT): @threadline\/nestjs ThreadlineModule/,
    );
  },
);

it.each(HOSTILE_OBJECTS)(
  'ThreadlineModule.forRootAsync refuses %s as its options, naming itself',
  async (_kind, make) => {
    expect(await outcome(() => ThreadlineModule.forRootAsync(make('useFactory') as never))).toMatch(
      /^CONFIG_INVALID: @threadline\/nestjs ThreadlineModule\.forRootAsync/,
    );
  },
);

it.each(HOSTILE_OBJECTS)(
  '@WithAuditContext() refuses %s as its options, naming itself',
  async (_kind, make) => {
    expect(await outcome(() => WithAuditContext(make('source') as never))).toMatch(
      /^(CONFIG_INVALID|INVALID_CONTEXT): @WithAuditContext\(\)/,
    );
  },
);
