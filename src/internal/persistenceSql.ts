import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Persistence from "../Persistence.js"

/**
 * Rows per multi-row statement. SQLite binds at most 32,766 parameters per statement (999 before 3.32),
 * PostgreSQL 65,535; 500 rows of 6 columns is 3,000, well under both, and still one round trip per 500
 * rows.
 */
const CHUNK = 500

/**
 * What a table prefix may be: lower-case letters, digits and `_`, starting with a letter or `_`. The
 * names are always quoted, but lower case matters anyway: the migrator checks PostgreSQL for its table
 * with `'name'::regclass`, which folds the text to lower case, so a prefix with capitals would not find
 * its migrations table on the second start and try to create it again. 52 characters leave room for the
 * longest suffix (`_migrations`) within PostgreSQL's 63-byte identifiers.
 */
const prefixPattern = /^[a-z_][a-z0-9_]{0,51}$/

/** The table names for a prefix, or a `RangeError` (thrown when the layer is made) for a bad prefix. */
export const tableNames = (prefix: string) => {
  if (typeof prefix !== "string" || !prefixPattern.test(prefix)) {
    throw new RangeError(
      `PersistenceSql.layer: tablePrefix must be 1 to 52 lower-case letters, digits or "_", not starting with a digit, got ${
        JSON.stringify(prefix)
      }`
    )
  }
  return { journal: `${prefix}_journal`, snapshots: `${prefix}_snapshots`, migrations: `${prefix}_migrations` }
}

type Names = ReturnType<typeof tableNames>

/**
 * The schema, one migration per change, never edited once released (the migrator skips ids it already
 * ran). The same SQL on SQLite and PostgreSQL: `BIGINT` is a 64-bit integer on both (SQLite gives it
 * integer affinity), and the primary keys are the indexes every query here needs (load and the journal
 * delete by `(host, id)` and `seq`, list by `host`).
 */
const migrations = (names: Names) =>
  Migrator.fromRecord({
    "1_create_tables": Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.zipRight(
        sql`CREATE TABLE ${sql(names.journal)} (
  host TEXT NOT NULL,
  id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  version INTEGER NOT NULL,
  action TEXT NOT NULL,
  PRIMARY KEY (host, id, seq)
)`,
        sql`CREATE TABLE ${sql(names.snapshots)} (
  host TEXT NOT NULL,
  id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  version INTEGER NOT NULL,
  state TEXT NOT NULL,
  PRIMARY KEY (host, id)
)`
      )),
    // The requests' ids that let a store recognise a request delivered twice (`StoreEntity`): a journal
    // entry's own, and a snapshot's list of those it deleted (JSON text). Nullable: rows without them
    // (written before this migration, or by a plain host) have none.
    "2_request_keys": Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.zipRight(
        sql`ALTER TABLE ${sql(names.journal)} ADD COLUMN request_key TEXT`,
        sql`ALTER TABLE ${sql(names.snapshots)} ADD COLUMN request_keys TEXT`
      ))
  })

const chunks = <A>(rows: ReadonlyArray<A>): ReadonlyArray<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < rows.length; i += CHUNK) out.push(rows.slice(i, i + CHUNK))
  return out
}

/**
 * One snapshot per store: the one covering the most, the later of equals, which is what applying them in
 * order leaves. PostgreSQL refuses an upsert that touches one row twice, so a commit with two snapshots
 * of a store must send one.
 */
const latestSnapshots = (snapshots: ReadonlyArray<Persistence.Snapshot>): ReadonlyArray<Persistence.Snapshot> => {
  const latest = new Map<string, Persistence.Snapshot>()
  for (const snapshot of snapshots) {
    const key = JSON.stringify([snapshot.host, snapshot.id])
    const previous = latest.get(key)
    if (previous === undefined || previous.seq <= snapshot.seq) latest.set(key, snapshot)
  }
  return [...latest.values()]
}

const byHost = (snapshots: ReadonlyArray<Persistence.Snapshot>): ReadonlyMap<string, Array<string>> => {
  const hosts = new Map<string, Array<string>>()
  for (const { host, id } of snapshots) {
    const ids = hosts.get(host)
    if (ids === undefined) hosts.set(host, [id])
    else ids.push(id)
  }
  return hosts
}

/**
 * A row of the load query: `kind` 0 is the snapshot (its state in `body`, its request keys in `keys` as
 * JSON), 1 a journal entry (its request key in `keys`).
 */
interface LoadRow {
  readonly kind: number | bigint | string
  readonly seq: number | bigint | string
  readonly version: number | bigint | string
  readonly body: string
  readonly keys: string | null
}

/** A snapshot's request keys as stored: JSON text, or `null` for none. */
const encodeKeys = (keys: ReadonlyArray<string> | undefined): string | null =>
  keys === undefined || keys.length === 0 ? null : JSON.stringify(keys)

/** Stored keys that are not a JSON list of strings (a row edited by hand) count as none, not a failed load. */
const decodeKeys = (text: string | null): ReadonlyArray<string> | undefined => {
  if (text === null) return undefined
  try {
    const keys: unknown = JSON.parse(text)
    return Array.isArray(keys) && keys.every((key) => typeof key === "string") ? keys : undefined
  } catch {
    return undefined
  }
}

/**
 * The service over a client. Numbers are read with `Number`: PostgreSQL's driver returns `BIGINT` as a
 * string (it may not fit a JavaScript number; a `seq` does), SQLite's a number, or a `bigint` when the
 * caller asked for safe integers.
 */
const make = (
  sql: SqlClient.SqlClient,
  names: Names
): Context.Tag.Service<typeof Persistence.Persistence> => {
  const journal = sql(names.journal)
  const snapshots = sql(names.snapshots)
  const fail = (operation: Persistence.PersistenceError["operation"]) => (cause: SqlError) =>
    new Persistence.PersistenceError({ operation, cause })

  // An entry already stored, or twice in the commit, is kept as first written: the journal is idempotent.
  const insertJournal = (rows: ReadonlyArray<Persistence.JournalEntry>) =>
    sql`INSERT INTO ${journal} ${
      sql.insert(rows.map(({ action, host, id, key, seq, version }) => ({ host, id, seq, version, action, request_key: key ?? null })))
    } ON CONFLICT DO NOTHING`

  // The `WHERE` keeps a stored snapshot that covers more: a late or repeated commit never takes a store back.
  const upsertSnapshots = (rows: ReadonlyArray<Persistence.Snapshot>) =>
    sql`INSERT INTO ${snapshots} ${
      sql.insert(rows.map(({ host, id, keys, seq, state, version }) => ({ host, id, seq, version, state, request_keys: encodeKeys(keys) })))
    } ON CONFLICT (host, id) DO UPDATE SET seq = excluded.seq, version = excluded.version, state = excluded.state,
  request_keys = excluded.request_keys
WHERE excluded.seq >= ${snapshots}.seq`

  // Deletes up to the snapshot now stored, whichever won the upsert, so no journal row is ever left at or
  // below its store's snapshot (the load would skip it anyway).
  const deleteCovered = (host: string, ids: ReadonlyArray<string>) =>
    sql`DELETE FROM ${journal} WHERE host = ${host} AND id IN ${sql.in(ids)} AND seq <= (
  SELECT ${snapshots}.seq FROM ${snapshots} WHERE ${snapshots}.host = ${journal}.host AND ${snapshots}.id = ${journal}.id
)`

  return {
    // One statement, so the snapshot and the journal after it are read from one state of the database:
    // read in two, a commit between them (from another process) could delete the entries after the
    // older snapshot read first, and the store would be restored with a gap.
    load: ({ host, id }) =>
      sql<LoadRow>`SELECT 0 AS kind, seq, version, state AS body, request_keys AS keys FROM ${snapshots} WHERE host = ${host} AND id = ${id}
UNION ALL
SELECT 1 AS kind, seq, version, action AS body, request_key AS keys FROM ${journal} WHERE host = ${host} AND id = ${id} AND NOT EXISTS (
  SELECT 1 FROM ${snapshots} WHERE ${snapshots}.host = ${journal}.host AND ${snapshots}.id = ${journal}.id
    AND ${snapshots}.seq >= ${journal}.seq
)
ORDER BY kind, seq`.pipe(
        Effect.map((rows): Persistence.Stored => {
          let snapshot = Option.none<Persistence.Snapshot>()
          const entries: Array<Persistence.JournalEntry> = []
          for (const row of rows) {
            const seq = Number(row.seq)
            const version = Number(row.version)
            if (Number(row.kind) === 0) {
              const keys = decodeKeys(row.keys)
              snapshot = Option.some({ host, id, seq, version, state: row.body, ...(keys === undefined ? {} : { keys }) })
            } else {
              entries.push({ host, id, seq, version, action: row.body, ...(row.keys === null ? {} : { key: row.keys }) })
            }
          }
          return { snapshot, journal: entries }
        }),
        Effect.mapError(fail("load")),
        Effect.withSpan("persistence.load", {
          attributes: { "persistence.host": host, "persistence.id": id },
          captureStackTrace: false
        })
      ),

    commit: (commit) => {
      if (commit.journal.length === 0 && commit.snapshots.length === 0) return Effect.void
      const latest = latestSnapshots(commit.snapshots)
      // The host when the commit is of one (a StoreHost commits its own stores); OpenTelemetry would turn
      // a list of hosts into one JSON string, so a commit of several has none.
      const hosts = new Set([...commit.journal, ...commit.snapshots].map((row) => row.host))
      return sql.withTransaction(Effect.gen(function*() {
        for (const rows of chunks(commit.journal)) yield* insertJournal(rows)
        for (const rows of chunks(latest)) yield* upsertSnapshots(rows)
        for (const [host, ids] of byHost(latest)) {
          for (const chunk of chunks(ids)) yield* deleteCovered(host, chunk)
        }
      })).pipe(
        Effect.mapError(fail("commit")),
        Effect.withSpan("persistence.commit", {
          attributes: {
            ...(hosts.size === 1 ? { "persistence.host": [...hosts][0] } : {}),
            "persistence.journal_entries": commit.journal.length,
            "persistence.snapshots": latest.length
          },
          captureStackTrace: false
        })
      )
    },

    list: (host) =>
      sql<{ readonly id: string }>`SELECT id FROM ${snapshots} WHERE host = ${host}
UNION
SELECT id FROM ${journal} WHERE host = ${host}`.pipe(
        Effect.map((rows) => rows.map((row) => row.id)),
        Effect.mapError(fail("list")),
        Effect.withSpan("persistence.list", { attributes: { "persistence.host": host }, captureStackTrace: false })
      )
  }
}

/**
 * Makes a commit durable on SQLite: in WAL mode SQLite's default `synchronous` is `NORMAL` once the file
 * is in WAL (better-sqlite3 is built with `SQLITE_DEFAULT_WAL_SYNCHRONOUS=1`), where a power loss or an
 * OS crash can undo the last commits (never corrupt the file). `FULL` syncs the WAL at every commit, so a
 * commit that succeeded is kept. It is a setting of the connection: `@effect/sql-sqlite-node` has one.
 * A driver that refuses the pragma (a managed SQLite) keeps its own setting.
 */
const durable = (sql: SqlClient.SqlClient): Effect.Effect<void> =>
  sql.onDialectOrElse({
    sqlite: () =>
      sql`PRAGMA synchronous = FULL`.pipe(
        Effect.asVoid,
        Effect.catchAll((cause) => Effect.logDebug("PersistenceSql: PRAGMA synchronous = FULL refused", cause))
      ),
    orElse: () => Effect.void
  })

/** @internal */
export const layer = (
  options?: { readonly tablePrefix?: string | undefined }
): Layer.Layer<Persistence.Persistence, SqlError | Migrator.MigrationError, SqlClient.SqlClient> => {
  const names = tableNames(options?.tablePrefix ?? "composable_effect")
  return Layer.effect(
    Persistence.Persistence,
    Effect.gen(function*() {
      // Exact names whatever name transforms the application's client has (camelCase results, say).
      const sql = (yield* SqlClient.SqlClient).withoutTransforms()
      yield* durable(sql)
      yield* Migrator.make({})({ loader: migrations(names), table: names.migrations }).pipe(
        Effect.provideService(SqlClient.SqlClient, sql),
        // Applications starting at once on a fresh PostgreSQL database (replicas of one deployment) race
        // to create the migrations table: the migrator looks for it, then creates it, outside any lock,
        // and the losers fail with "relation already exists". Once it exists the migrator locks it, so a
        // retry waits for the winner's migrations and finds them done. Migrations run in a transaction,
        // so a failed attempt left nothing behind.
        Effect.retry({ times: 3, schedule: Schedule.spaced("50 millis"), while: (error) => error._tag === "SqlError" })
      )
      return make(sql, names)
    })
  )
}
