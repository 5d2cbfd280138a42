import 'reflect-metadata';
import { createRequire } from 'node:module';
import { Body, Controller, HttpCode, type MiddlewareConsumer, Module, Post } from '@nestjs/common';
import { type ConformanceDb, openConformanceDb } from '@threadline/conformance';
import type * as Core from '@threadline/core';
import { postgresEnabled } from '@threadline/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Source from '../src/index.js';
import { listen, testActor } from './app.js';

const require = createRequire(import.meta.url);

// The published files, not the source: tsup must have compiled the decorators with SWC so that
// Nest's DI metadata is there, in both the ESM and the CommonJS build.
const builds: [string, () => Promise<typeof Source>][] = [
  ['ESM', () => import('../dist/index.js' as string) as Promise<typeof Source>],
  ['CJS', async () => require('../dist/index.cjs') as typeof Source],
];
// What a CommonJS app gets from require('@threadline/core'): the class token of the CJS build.
const coreFor = async (format: string) =>
  (format === 'CJS' ? require('@threadline/core') : await import('@threadline/core')) as typeof Core;

describe.each(builds)('built output (%s)', (format, load) => {
  it('carries decorator metadata: the middleware has design:paramtypes', async () => {
    const { ThreadlineModule } = await load();
    const applied: unknown[] = [];
    const consumer = {
      apply: (...middleware: unknown[]) => {
        applied.push(...middleware);
        return { forRoutes: () => consumer, exclude: () => consumer };
      },
    };
    new ThreadlineModule().configure(consumer as unknown as MiddlewareConsumer);
    expect(applied).toHaveLength(1);
    expect(Reflect.getMetadata('design:paramtypes', applied[0] as object)).toEqual([Object]);
  });

  describe.runIf(postgresEnabled())('in a Nest app', () => {
    let db: ConformanceDb;
    let table: string;
    beforeAll(async () => {
      db = await openConformanceDb(2);
      table = await db.table();
    });
    afterAll(() => db?.close());

    it('injects the Threadline instance and attributes requests', async () => {
      const { ThreadlineModule, InjectThreadline } = await load();
      @Controller('items')
      class Items {
        constructor(@InjectThreadline() private readonly tl: Core.Threadline) {}
        @Post()
        @HttpCode(200)
        create(@Body() body: { id: number }) {
          return this.tl.transaction((tx) => tx.query(`insert into ${table} (id) values ($1)`, [body.id]));
        }
      }
      @Module({
        imports: [ThreadlineModule.forRoot({ threadline: db.tl, actor: testActor })],
        controllers: [Items],
      })
      class AppModule {}
      const app = await listen(AppModule);
      try {
        expect(app.app.get((await coreFor(format)).Threadline)).toBe(db.tl);
        const res = await fetch(`${app.url}/items`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-test-actor': 'dist' },
          body: JSON.stringify({ id: 1 }),
        });
        expect(res.status).toBe(200);
        expect((await db.audit(table)).filter((r) => r.id === 1)).toMatchObject([
          { actor: 'dist', source: 'nestjs' },
        ]);
      } finally {
        await app.close();
      }
    });
  });
});
