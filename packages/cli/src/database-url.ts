import { ThreadlineError } from '@threadline/core';

export interface DatabaseTarget {
  readonly url: string;
  /** Where the URL came from, for messages: `--database-url`, `DATABASE_URL`, `--read-url`, `DATABASE_READ_URL`. */
  readonly source: '--database-url' | 'DATABASE_URL' | '--read-url' | 'DATABASE_READ_URL';
  /** `host:port/database`, safe to print (never the user or password). */
  readonly label: string;
}

const EXAMPLE = 'postgres://USER:PASSWORD@HOST:5432/DATABASE';

/** `--database-url` wins over `DATABASE_URL`; a malformed URL is a usage error (exit 2). */
export function resolveDatabaseUrl(
  flag: string | undefined,
  env: Record<string, string | undefined>,
): DatabaseTarget {
  const source = flag !== undefined ? '--database-url' : 'DATABASE_URL';
  const url = flag ?? env.DATABASE_URL;
  if (url === undefined || url.trim() === '') {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `this command needs a database: set DATABASE_URL or pass --database-url ${EXAMPLE}`,
    );
  }
  return parseTarget(url, source);
}

/**
 * The database reads go to (a streaming replica): `--read-url` wins over `DATABASE_READ_URL`;
 * null when neither is set (reads then use the database URL). Malformed: a usage error (exit 2).
 */
export function resolveReadUrl(
  flag: string | undefined,
  env: Record<string, string | undefined>,
): DatabaseTarget | null {
  const source = flag !== undefined ? '--read-url' : 'DATABASE_READ_URL';
  const url = flag ?? env.DATABASE_READ_URL;
  if (url === undefined) return null;
  if (url.trim() === '') {
    if (flag === undefined) return null;
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `--read-url needs the URL of a read replica, e.g. ${EXAMPLE}; leave it out to read from the database URL`,
    );
  }
  return parseTarget(url, source);
}

function parseTarget(url: string, source: DatabaseTarget['source']): DatabaseTarget {
  const invalid = (reason: string): never => {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${source} is not a valid PostgreSQL URL (${reason}); it should look like ${EXAMPLE}, with special characters in the password percent-encoded (e.g. @ as %40)`,
    );
  };
  let parsed: URL | undefined;
  try {
    parsed = new URL(url.trim());
  } catch {
    invalid('it does not parse as a URL');
  }
  const u = parsed!;
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    invalid(`it starts with "${u.protocol.slice(0, 20)}//" instead of "postgres://"`);
  }
  try {
    decodeURIComponent(u.username);
    decodeURIComponent(u.password);
    decodeURIComponent(u.pathname);
  } catch {
    invalid('it contains a malformed %-escape');
  }
  const host = u.hostname || u.searchParams.get('host') || '';
  if (host === '') invalid('it names no host');
  const database =
    decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username) || '(default)';
  return { url: url.trim(), source, label: `${host}${u.port ? `:${u.port}` : ''}/${database}` };
}
