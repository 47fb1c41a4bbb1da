/**
 * The notes feature of the host tests (test/host/fixture.ts) as a cluster entity, and a runner of it: the
 * cluster's single runner with its message and runner storage, and the stores' persistence, all in one
 * SQLite file, as one machine runs it.
 */
import { SingleRunner } from "@effect/cluster"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer, Ref } from "effect"
import { StoreEntity } from "../../src/cluster.js"
import { Persistence } from "../../src/index.js"
import { PersistenceSql } from "../../src/sql.js"
import { Action, initialState, makeReducer, State } from "../host/fixture.js"

export const Notes = StoreEntity.make("Notes", { state: State, actions: Action })

/** A runner of `Notes` on the SQLite file `filename`: building it starts the runner, closing it stops it. */
export const runner = (
  filename: string,
  options: Partial<StoreEntity.Options<State, Action, never, unknown, unknown>> = {},
  /** Wraps the stores' persistence (a test's fault injection): given it, it gives it again. */
  persistence: Layer.Layer<Persistence.Persistence, never, Persistence.Persistence> = Layer.service(Persistence.Persistence)
) =>
  Layer.unwrapEffect(Effect.map(Ref.make(0), (effectsRun) =>
    StoreEntity.layer(Notes, {
      initialState,
      reducer: makeReducer(effectsRun),
      persistence: { restored: { _tag: "Restored" } },
      ...options
    }))).pipe(
      Layer.provide(Layer.provide(persistence, PersistenceSql.layer())),
      Layer.provideMerge(SingleRunner.layer({ runnerStorage: "sql" })),
      Layer.provideMerge(SqliteClient.layer({ filename }))
    )

export { sent, tempDatabase } from "../host/sqlite.js"
