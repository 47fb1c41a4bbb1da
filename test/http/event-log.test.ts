import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Stream } from "effect"
import { EventLog } from "../../src/internal/eventLog.js"
import { Reducer, Store } from "../../src/index.js"
import { settle } from "../core/helpers.js"

const counter = Reducer.fromState((n: number, _: "inc") => n + 1)

describe("EventLog", () => {
  it.scoped("a client that stopped reading loses its own oldest events; the others, and the replay, get every one", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: 0, reducer: counter })
      const log = yield* EventLog.make(store, { replay: 4, clientBuffer: 4 })
      // Subscribed, never read: its buffer of 4 fills after 4 events.
      const stalled = yield* log.subscribe({ _tag: "Fresh" })
      const live = yield* log.subscribe({ _tag: "Fresh" })
      const reader = yield* Effect.fork(Stream.runCollect(Stream.take(live, 20)))
      for (let i = 0; i < 20; i++) {
        yield* store.send("inc")
        yield* Effect.yieldNow()
      }
      yield* settle
      // Done by now, or it never will be (the events it waits for were dropped).
      const done = yield* Fiber.poll(reader)
      expect(Option.isSome(done)).toBe(true)
      const read = yield* Option.getOrThrow(done)
      expect(Chunk.toReadonlyArray(read).map((event) => event.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
      // The stalled client slid: it holds the newest events, not the first four.
      const kept = yield* Stream.runCollect(Stream.take(stalled, 4))
      expect(Chunk.toReadonlyArray(kept).map((event) => event.id)).toEqual([17, 18, 19, 20])
      // The replay kept up too: a client resuming after 17 gets 18, 19, 20.
      const resumed = yield* log.subscribe(log.resume(17))
      const replayed = yield* Stream.runCollect(Stream.take(resumed, 3))
      expect(Chunk.toReadonlyArray(replayed).map((event) => event.id)).toEqual([18, 19, 20])
    }))
})
