/**
 * `PersistenceSql.layer` on SQLite (`@effect/sql-sqlite-node`, better-sqlite3) in temporary files: the
 * conformance suite, the SQL suite, and what is SQLite's own (WAL, durability, a second connection, the
 * table prefix check).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { describe, expect, it, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Telemetry } from "../../src/otel.js"
import { PersistenceSql } from "../../src/sql.js"
import { sqlSuite } from "./sql-suite.js"
import { commit, entry, list, load, persistenceSuite, snapshot } from "./suite.js"

/** A database file in a new temporary directory, removed (with its -wal and -shm files) at the end. */
class DatabaseFile extends Context.Tag("test/DatabaseFile")<DatabaseFile, string>() {}
const databaseFile = Layer.scoped(
  DatabaseFile,
  Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "composable-effect-sqlite-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.map((dir) => join(dir, "persistence.db")))
)
const client = Layer.unwrapEffect(Effect.map(DatabaseFile, (filename) => SqliteClient.layer({ filename })))

persistenceSuite(
  "PersistenceSql on SQLite",
  PersistenceSql.layer().pipe(Layer.provide(client), Layer.provide(databaseFile)),
  { refusesNull: true }
)

sqlSuite("PersistenceSql on SQLite: tables, migrations, restarts, errors", databaseFile, client)

layer(databaseFile, { excludeTestServices: true })("PersistenceSql on SQLite: the file", (it) => {
  const started = PersistenceSql.layer().pipe(Layer.provideMerge(client))
  const pragma = (name: string) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<Record<string, unknown>>(`PRAGMA ${name}`)).pipe(
      Effect.map((rows) => Object.values(rows[0]!)[0])
    )

  it.effect("is in WAL mode and syncs every commit (synchronous = FULL), on its first start and after a restart", () =>
    Effect.gen(function*() {
      const first = yield* Effect.all([pragma("journal_mode"), pragma("synchronous")]).pipe(Effect.provide(started))
      // Reopened, the file is in WAL already, where this build of SQLite defaults to NORMAL (1).
      const again = yield* Effect.all([pragma("journal_mode"), pragma("synchronous")]).pipe(Effect.provide(started))
      expect([first, again]).toEqual([["wal", 2], ["wal", 2]])
    }))

  it.effect("a second connection to the file (another process, say) reads what the first committed, while it is open", () =>
    Effect.gen(function*() {
      const other = yield* Effect.scoped(Effect.gen(function*() {
        const first = yield* Layer.build(started)
        yield* Effect.provide(commit([entry("h", "s", 1), entry("h", "s", 2)]), first)
        return yield* Effect.provide(load("h", "s"), started)
      }))
      expect(other).toEqual({ snapshot: Option.none(), journal: [entry("h", "s", 1), entry("h", "s", 2)] })
    }))
})

layer(databaseFile, { excludeTestServices: true })("PersistenceSql on SQLite: spans", (it) => {
  it.effect("load, commit and list each have a span with the host (the id, the row counts), over the SQL statements' spans", () => {
    const exporter = new InMemorySpanExporter()
    return Effect.gen(function*() {
      yield* commit([entry("traced", "s", 1), entry("traced", "s", 2), entry("traced", "t", 1)], [snapshot("traced", "s", 1)])
      yield* commit([entry("traced", "s", 3), entry("other", "t", 1)])
      yield* commit([], [])
      yield* load("traced", "s")
      yield* list("traced")
      const spans = exporter.getFinishedSpans()
      const ours = spans.filter((span) => span.name.startsWith("persistence."))
      // The empty commit did nothing, not even a span.
      expect(ours.map((span) => [span.name, span.attributes])).toEqual([
        ["persistence.commit", { "persistence.host": "traced", "persistence.journal_entries": 3, "persistence.snapshots": 1 }],
        // Of two hosts: no one host to name.
        ["persistence.commit", { "persistence.journal_entries": 2, "persistence.snapshots": 0 }],
        ["persistence.load", { "persistence.host": "traced", "persistence.id": "s" }],
        ["persistence.list", { "persistence.host": "traced" }]
      ])
      for (const span of ours) {
        const children = spans.filter((child) => child.parentSpanContext?.spanId === span.spanContext().spanId)
        expect(children.length, span.name).toBeGreaterThan(0)
      }
    }).pipe(
      Effect.provide(PersistenceSql.layer().pipe(Layer.provide(client))),
      Effect.provide(Telemetry.layer({ serviceName: "test", traces: new SimpleSpanProcessor(exporter) }))
    )
  })
})

describe("PersistenceSql.layer's tablePrefix", () => {
  it("is refused with a RangeError when the layer is made, before any SQL, unless it is a lower-case identifier", () => {
    for (const bad of ["", "1abc", "Upper", "a-b", "a b", "x; DROP TABLE y", "é", "a\"b", "a".repeat(53)]) {
      expect(() => PersistenceSql.layer({ tablePrefix: bad }), JSON.stringify(bad)).toThrow(RangeError)
    }
    expect(() => PersistenceSql.layer({ tablePrefix: "x; DROP TABLE y" })).toThrow(/tablePrefix must be/)
    for (const good of ["a", "_", "app_1", "a".repeat(52)]) {
      expect(Layer.isLayer(PersistenceSql.layer({ tablePrefix: good })), good).toBe(true)
    }
  })
})
