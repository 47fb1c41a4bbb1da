import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Option, Stream } from "effect"
import { Action, cursor, DbWithOrders, initialState, reducer } from "../../examples/database-cursor.js"
import { Store } from "../../src/index.js"
import { record } from "../core/helpers.js"

describe("examples/database-cursor", () => {
  it.live("streams 100,000 rows from SQLite in batches, with flat memory", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState, reducer, label: "db-example" })
      const gc = (globalThis as { gc?: () => void }).gc
      gc?.()
      const before = process.memoryUsage().heapUsed
      let peak = before
      yield* Effect.forkScoped(Effect.forever(Effect.zipRight(
        Effect.sync(() => void (peak = Math.max(peak, process.memoryUsage().heapUsed))),
        Effect.sleep("5 millis")
      )))
      yield* Effect.flatMap(store.send(Action.Export({ batchSize: 500 })), (task) => task.finish)
      const state = yield* store.state
      expect(state).toEqual({
        status: "done",
        rows: 100_000,
        cents: 100 * (999 * 1000) / 2, // cents = id % 1000: 100 full cycles of 0..999
        batches: 200,
        largestBatch: 500
      })
      // 100,000 row objects held at once would be several MB more than a page at a time.
      expect(peak - before).toBeLessThan(48 * 1024 * 1024)
    }).pipe(Effect.scoped, Effect.provide(DbWithOrders(100_000))))

  it.live("a final partial batch is delivered", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState, reducer })
      yield* Effect.flatMap(store.send(Action.Export({ batchSize: 300 })), (task) => task.finish)
      const state = yield* store.state
      expect([state.rows, state.batches]).toEqual([1_000, 4]) // 300 + 300 + 300 + 100
    }).pipe(Effect.scoped, Effect.provide(DbWithOrders(1_000))))

  it.live("Cancel stops the export: the totals stop where they were and no rows are reduced after it", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState, reducer })
      const { seen } = yield* record(store)
      yield* store.sendAndWaitFor(Action.Export({ batchSize: 500 }), Action.$is("Rows"), { timeout: "10 seconds" })
      yield* store.send(Action.Cancel())
      yield* store.shutdown() // waits for every effect to end
      const state = yield* store.state
      expect(state.status).toBe("cancelled")
      expect(state.rows).toBeLessThan(100_000)
      const actions = yield* seen
      expect(actions.slice(actions.findIndex(Action.$is("Cancel"))).filter(Action.$is("Rows"))).toEqual([])
      expect(state.rows).toBe(actions.filter(Action.$is("Rows")).reduce((n, a) => n + a.rows.length, 0))
    }).pipe(Effect.scoped, Effect.provide(DbWithOrders(100_000))))

  it.live("a second Export cancels the first and starts over: the totals are one export's", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState, reducer })
      yield* store.sendAndWaitFor(Action.Export({ batchSize: 500 }), Action.$is("Rows"), { timeout: "10 seconds" })
      yield* Effect.flatMap(store.send(Action.Export({ batchSize: 1000 })), (task) => task.finish)
      expect(yield* store.state).toEqual({
        status: "done",
        rows: 100_000,
        cents: 100 * (999 * 1000) / 2,
        batches: 100,
        largestBatch: 1000
      })
    }).pipe(Effect.scoped, Effect.provide(DbWithOrders(100_000))))

  it.live("the cursor ends after the last row whatever the row count: none, fewer than a page, not a multiple of it", () =>
    Effect.gen(function*() {
      for (const count of [0, 1, 2, 1_001]) {
        const rows = yield* Stream.runCollect(cursor("select id, cents from orders order by id", 1000)).pipe(
          Effect.provide(DbWithOrders(count)),
          Effect.timeout("10 seconds")
        )
        expect([count, Chunk.size(rows), Chunk.last(rows).pipe(Option.map((o) => o.id), Option.getOrNull)]).toEqual([
          count,
          count,
          count === 0 ? null : count
        ])
      }
    }))
})
