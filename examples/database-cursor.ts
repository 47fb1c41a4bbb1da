/**
 * Database cursor streaming: 100,000 rows from a real embedded SQLite (sql.js, SQLite compiled to
 * WebAssembly) flow into a store as actions, batched with `Fx.batch`, with flat memory: the cursor is
 * read a page at a time, each page only when the store has reduced the previous one, and the state keeps
 * running totals, not the rows. `Cancel` (or a new `Export`) interrupts the cursor, which frees its statement.
 *
 * Run it: `tsx examples/database-cursor.ts` (creates an in-memory database of 100,000 orders).
 */
import { Chunk, Context, Data, Effect, Layer, Option, Stream } from "effect"
import initSqlJs, { type Database } from "sql.js"
import { pathToFileURL } from "node:url"
import { Fx, Reducer, Store } from "../src/index.js"

export interface Order {
  readonly id: number
  readonly cents: number
}

/** The embedded database as a service, so tests and programs provide their own. */
export class Db extends Context.Tag("examples/Db")<Db, Database>() {}

/** An in-memory SQLite with `count` orders (cents = id % 1000). */
export const DbWithOrders = (count: number) =>
  Layer.scoped(
    Db,
    Effect.acquireRelease(
      Effect.promise(async () => {
        const SQL = await initSqlJs()
        const db = new SQL.Database()
        db.run("create table orders (id integer primary key, cents integer not null)")
        // The seed row needs its own guard: `select 1` alone would make one order even for `count` 0.
        db.run(`with recursive n(i) as (select 1 where ${count} > 0 union all select i + 1 from n where i < ${count})
                insert into orders select i, i % 1000 from n`)
        return db
      }),
      (db) => Effect.sync(() => db.close())
    )
  )

/**
 * A cursor over a query as a Stream: a prepared statement stepped `pageSize` rows per pull, finalized when
 * the stream ends or is interrupted. Only one page is ever in memory.
 */
export const cursor = (sql: string, pageSize = 1000): Stream.Stream<Order, never, Db> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const db = yield* Db
    const statement = yield* Effect.acquireRelease(Effect.sync(() => db.prepare(sql)), (s) => Effect.sync(() => s.free()))
    // Once `step()` has said "no more rows" it must not be called again: SQLite would run the query anew.
    let exhausted = false
    const page = Effect.sync(() => {
      const rows: Array<Order> = []
      while (rows.length < pageSize && !exhausted) {
        if (!statement.step()) {
          exhausted = true
          break
        }
        const [id, cents] = statement.get() as [number, number]
        rows.push({ id, cents })
      }
      return rows
    })
    return Stream.repeatEffectChunkOption(
      Effect.flatMap(page, (rows) => rows.length === 0 ? Effect.fail(Option.none()) : Effect.succeed(Chunk.unsafeFromArray(rows)))
    )
  }))

export type Action = Data.TaggedEnum<{
  /** Starts an export; one already running is cancelled (its statement freed) and the totals start over. */
  Export: { readonly batchSize: number }
  /** Stops a running export: no more rows are read or reduced. */
  Cancel: {}
  Rows: { readonly rows: ReadonlyArray<Order> }
  Done: {}
}>
export const Action = Data.taggedEnum<Action>()

/** The export's cancellation id. */
const EXPORT = "database-cursor/export"

export interface State {
  readonly status: "idle" | "exporting" | "done" | "cancelled"
  readonly rows: number
  readonly cents: number
  readonly batches: number
  readonly largestBatch: number
}
export const initialState: State = { status: "idle", rows: 0, cents: 0, batches: 0, largestBatch: 0 }

export const reducer = Reducer.make((state: State, action: Action): readonly [State, Fx.Fx<Action, Db>] => {
  switch (action._tag) {
    case "Export":
      return [
        { ...initialState, status: "exporting" },
        Fx.sequential(
          Fx.batch(Fx.stream(cursor("select id, cents from orders order by id")), {
            size: action.batchSize,
            within: "100 millis",
            toAction: (rows) => Action.Rows({ rows })
          }),
          Fx.send(Action.Done())
        ).pipe(Fx.cancellable(EXPORT, { cancelInFlight: true }))
      ]
    case "Cancel":
      return state.status === "exporting" ? [{ ...state, status: "cancelled" }, Fx.cancel(EXPORT)] : [state, Fx.none]
    case "Rows":
      return [{
        ...state,
        rows: state.rows + action.rows.length,
        cents: state.cents + action.rows.reduce((sum, row) => sum + row.cents, 0),
        batches: state.batches + 1,
        largestBatch: Math.max(state.largestBatch, action.rows.length)
      }, Fx.none]
    case "Done":
      return [{ ...state, status: "done" }, Fx.none]
  }
})

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  Effect.gen(function*() {
    const store = yield* Store.make({ initialState, reducer, label: "database-cursor" })
    const started = performance.now()
    yield* Effect.flatMap(store.send(Action.Export({ batchSize: 500 })), (task) => task.finish)
    const state = yield* store.state
    console.log(`${state.rows} rows in ${state.batches} batches, ${state.cents} cents, ${(performance.now() - started).toFixed(0)} ms`)
  }).pipe(Effect.scoped, Effect.provide(DbWithOrders(100_000)), Effect.runPromise)
}
