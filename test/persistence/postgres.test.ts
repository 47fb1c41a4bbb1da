/**
 * `PersistenceSql.layer` on a real PostgreSQL server (`@effect/sql-pg`), a throwaway one started by
 * test/setup/postgres.ts: the conformance suite (on its own server) and the SQL suite. Skipped, with the
 * reason printed, where PostgreSQL's binaries are not installed.
 */
import { PgClient } from "@effect/sql-pg"
import { describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { PersistenceSql } from "../../src/sql.js"
import * as Postgres from "../setup/postgres.js"
import { sqlSuite } from "./sql-suite.js"
import { persistenceSuite } from "./suite.js"

const bin = Postgres.binDir()
const skipped = bin === undefined ? `skipped: no PostgreSQL server binaries found; ${Postgres.installHint}` : undefined
if (skipped !== undefined) console.warn(`PostgreSQL persistence tests ${skipped}.`)

/** A new connection pool to the server, for each build of the layer (each start of an application). */
const client = Layer.unwrapEffect(
  Effect.map(Postgres.Postgres, (server) =>
    PgClient.layer({ host: server.host, port: server.port, username: server.user, database: server.database }))
)

describe.skipIf(skipped !== undefined)(`PersistenceSql on PostgreSQL${skipped === undefined ? "" : ` (${skipped})`}`, () => {
  persistenceSuite(
    "the conformance suite",
    PersistenceSql.layer().pipe(Layer.provide(client), Layer.provide(Postgres.layer())),
    { refusesNull: true }
  )

  sqlSuite("tables, migrations, restarts, errors", Postgres.layer(), client)
})
