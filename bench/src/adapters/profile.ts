/**
 * With --profile: where each server's CPU went, from its V8 CPU profile (main thread), as self
 * time per answered request (warm-up included, since the profile covers the whole process), by
 * category, plus the Threadline functions that took the most. Sampled wall time while running:
 * a sample taken inside a system call (socket writes) counts for that call.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { num, section, table } from '../print.js';
import { median } from '../stats.js';
import type { HttpRun } from './http.js';

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  samples: number[];
  timeDeltas: number[];
}

const CATEGORIES = [
  'threadline',
  'async_hooks',
  'framework & libraries',
  'socket writes',
  'node & V8',
  'gc',
] as const;
type Category = (typeof CATEGORIES)[number] | 'startup' | null;

function categorize(functionName: string, url: string): Category {
  if (functionName === '(idle)') return null;
  if (functionName === '(garbage collector)') return 'gc';
  if (/\/packages\/(core|express|hono|nestjs)\/dist\//.test(url)) return 'threadline';
  if (url.includes('async_hooks') || functionName === 'promiseInitHook') return 'async_hooks';
  if (/^(writev|writeBuffer|writeUtf8String|writeLatin1String)$/.test(functionName)) return 'socket writes';
  if (url.startsWith('node:internal/modules') || url.includes('/tsx/dist/')) return 'startup';
  if (url.includes('/node_modules/')) return 'framework & libraries';
  return 'node & V8';
}

interface Summary {
  perRequest: Map<Category, number>;
  functions: Map<string, number>;
}

function summarize(dir: string, requests: number): Summary | undefined {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(dir, f));
  } catch {
    return undefined;
  }
  // The main thread's profile is the largest (tsx's loader thread writes a small one too).
  const file = files.sort((a, b) => statSync(b).size - statSync(a).size)[0];
  if (!file || requests === 0) return undefined;
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const perRequest = new Map<Category, number>();
  const functions = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = byId.get(profile.samples[i]!)!;
    const us = (profile.timeDeltas[i] ?? 0) / requests;
    const category = categorize(frame.functionName, frame.url);
    if (category === null) continue;
    perRequest.set(category, (perRequest.get(category) ?? 0) + us);
    if (category === 'threadline') {
      const name = `${frame.functionName || '(anonymous)'} (${frame.url.replace(/^.*\/packages\//, '').replace(/\/dist\/.*$/, '')})`;
      functions.set(name, (functions.get(name) ?? 0) + us);
    }
  }
  return { perRequest, functions };
}

export function profileReport(runs: HttpRun[], dir: string): string {
  const groups = new Map<string, Summary[]>();
  for (const r of runs) {
    const s = summarize(
      join(dir, `${r.scenario}-${r.framework}-${r.variant}-r${r.rep}`),
      r.load.ok + (r.warm?.ok ?? 0),
    );
    if (!s) continue;
    const key = `${r.scenario}|${r.framework}|${r.variant}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  const rows: string[][] = [];
  const top: string[][] = [];
  for (const [key, summaries] of groups) {
    const [scenario, framework, variant] = key.split('|') as [string, string, string];
    const of = (c: Category) => median(summaries.map((s) => s.perRequest.get(c) ?? 0));
    const total = median(
      summaries.map((s) =>
        [...s.perRequest].filter(([c]) => c !== 'startup').reduce((sum, [, v]) => sum + v, 0),
      ),
    );
    rows.push([scenario, framework, variant, ...CATEGORIES.map((c) => num(of(c), 1)), num(total, 1)]);
    if (variant !== 'threadline') continue;
    const names = new Set(summaries.flatMap((s) => [...s.functions.keys()]));
    const ranked = [...names]
      .map((name) => [name, median(summaries.map((s) => s.functions.get(name) ?? 0))] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5);
    for (const [name, us] of ranked) top.push([`${scenario} ${framework}`, name, num(us, 2)]);
  }
  return section(
    `CPU profiles (--profile ${dir}): server self time per answered request, µs (median over repetitions)`,
    [
      'Sampled from each server process (main thread), warm-up included; module loading at startup is left out.',
      'Profiling slows every variant; compare rows, not these figures with the timings above.',
    ].join('\n'),
    table(['scenario', 'framework', 'variant', ...CATEGORIES, 'total'], rows),
    table(['Threadline variant', 'Threadline function (package)', 'µs/req'], top),
  );
}
