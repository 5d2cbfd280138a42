import { rethrowCallerError } from '../caller-callback.js';
import { toThreadlineError } from '../db/db-errors.js';
import type { SqlClient } from '../db/sql-client.js';
import { type MaintainOptions, type MaintainResult, maintainStorage } from './maintain.js';
import { type StorageStatus, storageStatus } from './status.js';

export type { MaintainOptions, MaintainProgress, MaintainResult } from './maintain.js';
export type { StoragePartition, StorageStatus } from './status.js';

/** `tl.storage`: the audit_changes layout (SPEC section 10). */
export interface StorageApi {
  /** Partitions, sizes, row estimates, oldest and newest captured_at. Reads only. */
  status(): Promise<StorageStatus>;
  /**
   * Create partitions ahead, move rows out of the default partition, and convert an unpartitioned
   * audit_changes when the configured layout asks for partitions. Safe to run any time.
   */
  maintain(options?: MaintainOptions): Promise<MaintainResult>;
}

export function createStorage(
  client: SqlClient,
  schema: string,
  assertInstalled: (what: string) => Promise<void>,
): StorageApi {
  return {
    async status() {
      await assertInstalled('storage.status');
      return storageStatus(client, schema).catch((error) => {
        throw toThreadlineError(error, 'storage.status');
      });
    },
    async maintain(options) {
      await assertInstalled('storage.maintain');
      return maintainStorage(client, schema, options).catch((error) => {
        rethrowCallerError(error);
        throw toThreadlineError(error, 'storage.maintain');
      });
    },
  };
}
