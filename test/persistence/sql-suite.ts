/**
 * What `PersistenceSql.layer` does on any SQL database beyond the conformance suite: its tables and
 * migrations, restarts, prefixes, concurrent starts and its errors. Each database's test file runs it
 * with a `resource` (a database file, a server) that lives for the whole suite and a `client` layer over
 * it, built afresh by every `Effect.provide`: a provide is one start of an application.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Persistence } from "../../src/index.js"
import { PersistenceSql } from "../../src/sql.js"
import { commit, entry, list, load, snapshot } from "./suite.js"

export const sqlSuite = <R>(
  name: string,
  resource: Layer.Layer<R, unknown>,
  client: Layer.Layer<SqlClient.SqlClient, unknown, R>
): void =>
  layer(resource, { excludeTestServices: true, timeout: "120 seconds" })(name, (it) => {
    /** The service and the client it runs on, one start of an application (a new connection). */
    const started = (tablePrefix?: string) =>
      PersistenceSql.layer(tablePrefix === undefined ? {} : { tablePrefix }).pipe(Layer.provideMerge(client))

    const rows = <A extends object>(query: (sql: SqlClient.SqlClient) => Effect.Effect<ReadonlyArray<A>, SqlError>) =>
      Effect.flatMap(SqlClient.SqlClient, query)

    const count = (table: string, host: string) =>
      rows((sql) => sql<{ readonly n: number | string }>`SELECT COUNT(*) AS n FROM ${sql(table)} WHERE host = ${host}`).pipe(
        Effect.map((result) => Number(result[0]!.n))
      )

    it.effect("what is committed is there after the application stops and starts again", () =>
      Effect.gen(function*() {
        yield* commit([entry("h", "s", 1), entry("h", "s", 2), entry("h", "s", 3)], [snapshot("h", "s", 1)]).pipe(
          Effect.provide(started("restart"))
        )
        const after = yield* Effect.all([load("h", "s"), list("h")]).pipe(Effect.provide(started("restart")))
        expect(after).toEqual([{ snapshot: Option.some(snapshot("h", "s", 1)), journal: [entry("h", "s", 2), entry("h", "s", 3)] }, ["s"]])
      }))

    it.effect("the default prefix names the tables composable_effect_journal and composable_effect_snapshots", () =>
      Effect.gen(function*() {
        const tables = yield* Effect.gen(function*() {
          yield* commit([entry("default", "s", 1)], [snapshot("default", "t", 0)])
          return [yield* count("composable_effect_journal", "default"), yield* count("composable_effect_snapshots", "default")]
        }).pipe(Effect.provide(started()))
        expect(tables).toEqual([1, 1])
      }))

    it.effect("the migrations run once: a second start finds them done, runs nothing and keeps the data", () =>
      Effect.gen(function*() {
        const migrations = rows((sql) =>
          sql<{ readonly migration_id: number; readonly name: string }>`SELECT migration_id, name FROM ${sql("twice_migrations")}`
        ).pipe(Effect.map((found) => found.map(({ migration_id, name }) => [Number(migration_id), name])))
        const first = yield* Effect.zipLeft(migrations, commit([entry("h", "s", 1)])).pipe(Effect.provide(started("twice")))
        const second = yield* Effect.all([migrations, load("h", "s")]).pipe(Effect.provide(started("twice")))
        const all = [[1, "create_tables"], [2, "request_keys"]]
        expect(first).toEqual(all)
        expect(second).toEqual([all, { snapshot: Option.none(), journal: [entry("h", "s", 1)] }])
      }))

    it.effect("tables made before the request keys (migration 1 only) are migrated, and their rows load without keys", () =>
      Effect.gen(function*() {
        // The tables as the first release made them, with a row in each, and the migrator's record of it.
        yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`CREATE TABLE ${sql("old_journal")} (host TEXT NOT NULL, id TEXT NOT NULL, seq BIGINT NOT NULL, version INTEGER NOT NULL, action TEXT NOT NULL, PRIMARY KEY (host, id, seq))`
          yield* sql`CREATE TABLE ${sql("old_snapshots")} (host TEXT NOT NULL, id TEXT NOT NULL, seq BIGINT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL, PRIMARY KEY (host, id))`
          yield* sql`CREATE TABLE ${sql("old_migrations")} (migration_id INTEGER PRIMARY KEY NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, name TEXT NOT NULL)`
          yield* sql`INSERT INTO ${sql("old_migrations")} (migration_id, name) VALUES (1, 'create_tables')`
          yield* sql`INSERT INTO ${sql("old_journal")} (host, id, seq, version, action) VALUES ('h', 's', 2, 1, '{"_tag":"Step","n":2}')`
          yield* sql`INSERT INTO ${sql("old_snapshots")} (host, id, seq, version, state) VALUES ('h', 's', 1, 1, '{"at":1}')`
        }).pipe(Effect.provide(client))
        const keyed = { ...entry("h", "s", 3), key: "k3" }
        const loaded = yield* Effect.zipRight(commit([keyed]), load("h", "s")).pipe(Effect.provide(started("old")))
        expect(loaded).toEqual({ snapshot: Option.some(snapshot("h", "s", 1)), journal: [entry("h", "s", 2), keyed] })
        expect(Option.map(loaded.snapshot, (s) => s.keys)).toEqual(Option.some(undefined))
      }))

    it.effect("two applications starting at once on a fresh database both start, and the migrations run once", () =>
      Effect.gen(function*() {
        const started2 = yield* Effect.all([
          Effect.provide(commit([entry("h", "one", 1)]), started("together")),
          Effect.provide(commit([entry("h", "two", 1)]), started("together"))
        ], { concurrency: 2 }).pipe(Effect.exit)
        expect(started2._tag).toBe("Success")
        const after = yield* Effect.all([
          list("h"),
          rows((sql) => sql<{ readonly n: number | string }>`SELECT COUNT(*) AS n FROM ${sql("together_migrations")}`)
        ]).pipe(Effect.provide(started("together")))
        expect(after[0]).toEqual(["one", "two"])
        expect(Number(after[1][0]!.n)).toBe(2)
      }))

    it.effect("two prefixes on one database are two stores of data: neither sees the other's", () =>
      Effect.gen(function*() {
        yield* commit([entry("h", "s", 1, `"in a"`)], [snapshot("h", "only-a", 0)]).pipe(Effect.provide(started("iso_a")))
        yield* commit([entry("h", "s", 1, `"in b"`), entry("h", "s", 2, `"in b"`)]).pipe(Effect.provide(started("iso_b")))
        const a = yield* Effect.all([load("h", "s"), list("h")]).pipe(Effect.provide(started("iso_a")))
        const b = yield* Effect.all([load("h", "s"), list("h")]).pipe(Effect.provide(started("iso_b")))
        expect(a).toEqual([{ snapshot: Option.none(), journal: [entry("h", "s", 1, `"in a"`)] }, ["only-a", "s"]])
        expect(b).toEqual([{ snapshot: Option.none(), journal: [entry("h", "s", 1, `"in b"`), entry("h", "s", 2, `"in b"`)] }, ["s"]])
      }))

    it.effect("a snapshot deletes the journal rows it covers from the table, not only from loads", () =>
      Effect.gen(function*() {
        const journal = Array.from({ length: 10 }, (_, i) => entry("h", "s", i + 1))
        const counts = yield* Effect.gen(function*() {
          yield* commit([...journal, entry("h", "other", 1)])
          const before = yield* count("covered_journal", "h")
          yield* commit([], [snapshot("h", "s", 7)])
          const after = yield* count("covered_journal", "h")
          // An older snapshot afterwards is not stored, and deletes nothing more.
          yield* commit([], [snapshot("h", "s", 9)])
          yield* commit([], [snapshot("h", "s", 8)])
          return [before, after, yield* count("covered_journal", "h"), yield* count("covered_snapshots", "h")]
        }).pipe(Effect.provide(started("covered")))
        expect(counts).toEqual([11, 4, 2, 1])
      }))

    it.effect("an entry at or below the stored snapshot, committed late, is never loaded, and the next snapshot deletes it", () =>
      Effect.gen(function*() {
        const found = yield* Effect.gen(function*() {
          yield* commit([entry("h", "s", 1), entry("h", "s", 2), entry("h", "s", 3)], [snapshot("h", "s", 2)])
          // A retried commit from before the snapshot, arriving after it: replayed on the snapshot, it would
          // apply its action twice.
          yield* commit([entry("h", "s", 1), entry("h", "s", 2, `"late"`), entry("h", "s", 4)])
          const loaded = yield* load("h", "s")
          yield* commit([], [snapshot("h", "s", 3)])
          return [loaded, yield* count("late_journal", "h")] as const
        }).pipe(Effect.provide(started("late")))
        expect(found).toEqual([{ snapshot: Option.some(snapshot("h", "s", 2)), journal: [entry("h", "s", 3), entry("h", "s", 4)] }, 1])
      }))

    it.effect("a database error is a PersistenceError naming the operation, with the SqlError as its cause", () =>
      Effect.gen(function*() {
        const errors = yield* Effect.gen(function*() {
          // Tables gone under a running layer: every statement fails in the database.
          yield* rows((sql) => Effect.as(sql`DROP TABLE ${sql("dropped_journal")}`, []))
          yield* rows((sql) => Effect.as(sql`DROP TABLE ${sql("dropped_snapshots")}`, []))
          return yield* Effect.all([
            Effect.flip(load("h", "s")),
            Effect.flip(commit([entry("h", "s", 1)])),
            Effect.flip(list("h"))
          ])
        }).pipe(Effect.provide(started("dropped")))
        expect(errors.map((error) => error.operation)).toEqual(["load", "commit", "list"])
        for (const error of errors) {
          expect(error).toBeInstanceOf(Persistence.PersistenceError)
          expect(error.cause).toBeInstanceOf(SqlError)
        }
      }))
  })
