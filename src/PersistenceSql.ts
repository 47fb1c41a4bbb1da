/**
 * The `Persistence` service on `@effect/sql`: SQLite (`@effect/sql-sqlite-node`), PostgreSQL
 * (`@effect/sql-pg`) or any other `SqlClient` whose SQL has `INSERT ... ON CONFLICT`. Import it from
 * `composable-effect/sql`.
 *
 * Contents:
 * - layers: `layer`, the service over the application's `SqlClient`, after its migrations.
 *
 * The layer keeps two tables, the same on every database (`<prefix>` is `composable_effect` unless
 * `tablePrefix` says otherwise):
 * - `<prefix>_journal (host, id, seq, version, action)`, primary key `(host, id, seq)`: the journal; an
 *   entry written twice is kept once.
 * - `<prefix>_snapshots (host, id, seq, version, state)`, primary key `(host, id)`: each store's latest
 *   snapshot; an older one never replaces it, and the journal entries it covers are deleted.
 *
 * They are created by `@effect/sql`'s `Migrator`, which records what it ran in `<prefix>_migrations` and
 * so runs each migration once per database, however often the layer starts and however many
 * applications start at once (a start that loses the race to create that table tries again). A commit
 * is one transaction; a load is one statement, so it reads the snapshot and the journal after it from
 * one state of the database even while another process commits.
 *
 * On SQLite (`@effect/sql-sqlite-node`), the client already puts the file in WAL mode (unless its
 * `disableWAL` is set): readers, in this process or others, read while a commit is written, and a crash
 * never leaves a half-written commit. better-sqlite3 waits up to 5 seconds for another process's write
 * lock. The layer sets `PRAGMA synchronous = FULL` on the connection, because in WAL mode SQLite
 * defaults to `NORMAL` once the file is in WAL (better-sqlite3 is built so), where a power loss or an OS
 * crash can undo the last commits; with `FULL` a commit that succeeded stays.
 *
 * @since 0.2.0
 */
import type * as Migrator from "@effect/sql/Migrator"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Layer from "effect/Layer"
import * as internal from "./internal/persistenceSql.js"
import type * as Persistence from "./Persistence.js"

// -------------------------------------------------------------------------------------------------
// layers
// -------------------------------------------------------------------------------------------------

/**
 * The `Persistence` service over the `SqlClient` it is given: it runs its migrations (creating the
 * tables the first time), then serves loads, commits and listings, each in a span (`persistence.load`,
 * `persistence.commit`, `persistence.list`) with the host (`persistence.host`; for a commit, when it is
 * of one host), the id (`persistence.id`, for a load) and a commit's row counts
 * (`persistence.journal_entries`, `persistence.snapshots`) as attributes. Every
 * database error is a `PersistenceError` naming the operation, with the `SqlError` as its `cause`; the
 * layer itself fails with the `SqlError` or the `MigrationError` of its migrations.
 *
 * `tablePrefix` (default `"composable_effect"`) names the tables, so several applications (or tests)
 * can share one database: 1 to 52 lower-case letters, digits or `_`, not starting with a digit. Anything
 * else is a `RangeError`, thrown by `layer` itself: the prefix becomes part of the SQL, so it is checked
 * before any is written.
 *
 * @example
 * ```ts
 * import { Persistence } from "composable-effect"
 * import { PersistenceSql } from "composable-effect/sql"
 * import { SqliteClient } from "@effect/sql-sqlite-node"
 * import { Effect, Layer } from "effect"
 *
 * const PersistenceLive = PersistenceSql.layer().pipe(
 *   Layer.provide(SqliteClient.layer({ filename: "app.db" }))
 * )
 *
 * const ids = Effect.flatMap(Persistence.Persistence, (persistence) => persistence.list("chat")).pipe(
 *   Effect.provide(PersistenceLive)
 * )
 * ```
 * @since 0.2.0
 * @category layers
 */
export const layer: (
  options?: { readonly tablePrefix?: string | undefined }
) => Layer.Layer<Persistence.Persistence, SqlError | Migrator.MigrationError, SqlClient.SqlClient> = internal.layer
