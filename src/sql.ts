/**
 * Persistence on a SQL database, on its own entry point, `composable-effect/sql` (it needs `@effect/sql`
 * and a client for your database, such as `@effect/sql-sqlite-node` or `@effect/sql-pg`):
 * `import { PersistenceSql } from "composable-effect/sql"`.
 *
 * @since 0.2.0
 */

/**
 * The `Persistence` service on `@effect/sql`.
 *
 * @since 0.2.0
 */
export * as PersistenceSql from "./PersistenceSql.js"
