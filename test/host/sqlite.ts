/**
 * The notes feature's stores on a SQLite file: for the keyed-store tests (contract.ts) and the cluster's,
 * whose child processes import these too (so nothing here imports the test runner).
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Persistence } from "../../src/index.js"
import { PersistenceSql } from "../../src/sql.js"
import type { State } from "./fixture.js"

/** A SQLite file in a fresh directory, deleted when the scope closes. */
export const tempDatabase = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "ce-stores-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => join(dir, "stores.db")))

/** `Persistence` on the SQLite file `filename`. */
export const sqlitePersistence = (filename: string) => PersistenceSql.layer().pipe(Layer.provide(SqliteClient.layer({ filename })))

/** What is stored for store `id` of host `host` in the SQLite file, read by a process that runs no store. */
export const stored = (filename: string, host: string, id: string) =>
  Effect.flatMap(Persistence.Persistence, (p) => p.load({ host, id })).pipe(Effect.provide(sqlitePersistence(filename)))

/** The notes a state holds, without the echoes effects added. */
export const sent = (state: State): ReadonlyArray<string> => state.notes.filter((note) => !note.startsWith("echo:"))
