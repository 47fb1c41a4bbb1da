/**
 * The process the crash test kills: a host persisting to the SQLite file in argv[2] with the durability
 * in argv[3], sending `Add` actions from four fibers as fast as it can and printing `ack <store> <n>` for
 * each send that was acknowledged, until it is killed.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer, Ref } from "effect"
import { StoreHost } from "../../src/index.js"
import { PersistenceSql } from "../../src/sql.js"
import { Action, initialState, makeReducer, State } from "./fixture.js"

const [filename, durability] = [process.argv[2]!, process.argv[3] as "sync" | "group"]

const program = Effect.gen(function*() {
  const host = yield* StoreHost.make({
    name: "crash",
    initialState,
    reducer: makeReducer(yield* Ref.make(0)),
    persistence: { state: State, actions: Action, durability, snapshotEvery: { actions: 50 } }
  })
  process.stdout.write("ready\n")
  yield* Effect.forEach([0, 1, 2, 3], (worker) =>
    Effect.forEach(Array.from({ length: 1_000_000 }, (_, i) => i), (n) =>
      Effect.flatMap(host.send(`s${worker}`, { _tag: "Add", note: String(n) }), () =>
        Effect.sync(() => process.stdout.write(`ack s${worker} ${n}\n`))), { discard: true }), { concurrency: "unbounded", discard: true })
}).pipe(
  Effect.scoped,
  Effect.provide(PersistenceSql.layer().pipe(Layer.provide(SqliteClient.layer({ filename }))))
)

Effect.runFork(program)
