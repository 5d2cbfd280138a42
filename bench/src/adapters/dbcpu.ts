/**
 * CPU time of the PostgreSQL backends that serve one server's pool, read from /proc (the
 * benchmark and the database share the machine). Undefined where /proc is not readable, e.g.
 * for a remote server.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { BenchDb } from '../db.js';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** Backend pid -> CPU µs (user + system) so far, for the connections named `applicationName`. */
export async function backendCpu(
  db: BenchDb,
  applicationName: string,
): Promise<Map<number, number> | undefined> {
  const { rows } = await db.sql.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
    [applicationName],
  );
  const out = new Map<number, number>();
  try {
    for (const { pid } of rows) {
      // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(pid, ((Number(fields[11]) + Number(fields[12])) * 1e6) / clockTicks());
    }
  } catch {
    return undefined;
  }
  return out.size > 0 ? out : undefined;
}

/** CPU µs the backends used between two readings (backends present in both). */
export function backendCpuSince(
  before: Map<number, number> | undefined,
  after: Map<number, number> | undefined,
): number | undefined {
  if (!before || !after) return undefined;
  let used = 0;
  for (const [pid, us] of after) used += us - (before.get(pid) ?? us);
  return used;
}
