import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// Only meaningful under test/nest11/vitest.config.ts, which points @nestjs/* at NestJS 11.
describe('NestJS 11 run', () => {
  it('loads @nestjs/core 11, which itself loads @nestjs/common and platform-express 11', async () => {
    const core = await import('@nestjs/core');
    const common = await import('@nestjs/common');
    expect(common.Module).toBe(createRequire(import.meta.url)('@nestjs/common').Module);
    const coreDir = createRequire(import.meta.url).resolve('@nestjs/core');
    expect(core.NestFactory).toBe(createRequire(import.meta.url)('@nestjs/core').NestFactory);
    const version = (file: string) => (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    const fromCore = createRequire(coreDir);
    expect(typeof core.NestFactory.create).toBe('function');
    expect(version(fromCore.resolve('./package.json'))).toMatch(/^11\./);
    expect(version(fromCore.resolve('@nestjs/common/package.json'))).toMatch(/^11\./);
    expect(version(fromCore.resolve('@nestjs/platform-express/package.json'))).toMatch(/^11\./);
  });
});
