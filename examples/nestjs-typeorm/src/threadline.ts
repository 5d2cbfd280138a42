import { createThreadline } from '@threadline/core';
import pg from 'pg';

export const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('DATABASE_URL is not set (`pnpm start` sets it for you)');

/** Threadline, on a small pool of its own: installs capture, records actions, answers audit queries. */
export const threadline = createThreadline({
  db: new pg.Pool({ connectionString: databaseUrl, max: 2 }),
  // Capture options of this service's tables: the card token is never copied into the audit trail.
  tables: { 'billing.invoices': {}, 'billing.payments': { exclude: ['card_token'] } },
});
