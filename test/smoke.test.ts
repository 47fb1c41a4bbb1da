import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Stream, TestClock } from "effect"
import { Fx, Reducer, Store } from "../src/index.js"

type Action = { readonly _tag: "Start"; readonly n: number } | { readonly _tag: "Item"; readonly value: number }
const reducer = Reducer.make((s: ReadonlyArray<number>, a: Action) =>
  a._tag === "Start"
    ? [s, Fx.stream(Stream.range(1, a.n).pipe(Stream.map((value) => ({ _tag: "Item", value }) as const)))]
    : [[...s, a.value], Fx.none]
)

describe("smoke", () => {
  it.scoped("stream feeds back", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: [] as ReadonlyArray<number>, reducer })
      const sub = yield* store.subscribe()
      const collected = yield* Effect.fork(Stream.runCollect(Stream.take(sub, 4)))
      const task = yield* store.send({ _tag: "Start", n: 3 })
      yield* task.finish
      expect(yield* store.state).toEqual([1, 2, 3])
      const seen = yield* Fiber.join(collected)
      expect(Chunk.toArray(seen).map((a) => a._tag)).toEqual(["Start", "Item", "Item", "Item"])
    }))
  it.scoped("delay on test clock", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({
        initialState: 0,
        reducer: Reducer.make((n: number, a: "go" | "tick") => a === "go" ? [n, Fx.delay("1 second", "tick" as const)] : [n + 1, Fx.none])
      })
      const task = yield* store.send("go")
      yield* TestClock.adjust("999 millis")
      expect(yield* store.state).toBe(0)
      yield* TestClock.adjust("1 millis")
      yield* task.finish
      expect(yield* store.state).toBe(1)
      yield* store.shutdown({ timeout: "1 second" })
      const err = yield* Effect.flip(store.send("go"))
      expect(err._tag).toBe("StoreShutdownError")
    }))
})
