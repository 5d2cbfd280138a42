export { PG_BIN, startThrowawayCluster, type ThrowawayCluster } from './cluster.js';
export { type DbHandle, type DbKind, describeEachDb, openDb, postgresEnabled } from './each-db.js';
export { isCiValue, PG_URL, REDIS_URL, REQUIRE_SERVICES, withDatabase } from './env.js';
export { type PgBouncer, pgbouncerInstalled, startPgBouncer } from './pgbouncer.js';
export { createPglite } from './pglite.js';
export { createTestDatabase, postgresAvailable, type TestDatabase } from './postgres.js';
export { redisAvailable, redisConnection, redisEnabled } from './redis.js';
export { redisServerInstalled, startThrowawayRedis, type ThrowawayRedis } from './redis-server.js';
export { openPool, startStreamingReplica } from './replica.js';
