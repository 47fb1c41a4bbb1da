/**
 * The seed's 7 integration tests (runtime/tests/stream_execution_test.rs), ported with their names.
 */
import { describe, expect, it } from "@effect/vitest"
import { type Duration, Effect, Option, Stream, TestClock } from "effect"
import { Fx, Reducer, Store } from "../../src/index.js"
import { record, settle } from "./helpers.js"

type Action =
  | { readonly _tag: "Start"; readonly stream: Stream.Stream<Action> }
  | { readonly _tag: "StartAll"; readonly fx: Fx.Fx<Action> }
  | { readonly _tag: "Item"; readonly source: string; readonly n: number }
  | { readonly _tag: "Phase"; readonly phase: string }

interface State {
  readonly items: ReadonlyArray<string>
  readonly phase: string
}
const initialState: State = { items: [], phase: "idle" }

const item = (source: string) => (n: number): Action => ({ _tag: "Item", source, n })

const reducer = Reducer.make((state: State, action: Action) => {
  switch (action._tag) {
    case "Start":
      return [state, Fx.stream(action.stream)]
    case "StartAll":
      return [state, action.fx]
    case "Item":
      return [{ ...state, items: [...state.items, `${action.source}${action.n}`] }, Fx.none]
    case "Phase":
      return [{ ...state, phase: action.phase, items: [...state.items, `phase:${action.phase}`] }, Fx.none]
  }
})

const run = (action: Action) =>
  Effect.gen(function*() {
    const store = yield* Store.make({ initialState, reducer })
    const task = yield* store.send(action)
    return { store, task }
  })

describe("stream execution (seed integration tests)", () => {
  it.scoped("test_stream_basic_execution: a static 3-item stream is reduced in order", () =>
    Effect.gen(function*() {
      const { store, task } = yield* run({ _tag: "Start", stream: Stream.make(1, 2, 3).pipe(Stream.map(item("a"))) })
      yield* task.finish
      expect((yield* store.state).items).toEqual(["a1", "a2", "a3"])
    }))

  it.scoped("test_stream_empty: an empty stream reduces nothing and finishes", () =>
    Effect.gen(function*() {
      const { store, task } = yield* run({ _tag: "Start", stream: Stream.empty })
      yield* task.finish
      expect(yield* store.state).toEqual(initialState)
      expect(yield* task.isRunning).toBe(false)
    }))

  it.scoped("test_stream_large_volume: 100 items all arrive, in order", () =>
    Effect.gen(function*() {
      const { store, task } = yield* run({ _tag: "Start", stream: Stream.range(1, 100).pipe(Stream.map(item("x"))) })
      yield* task.finish
      const items = (yield* store.state).items
      expect(items).toHaveLength(100)
      expect(items).toEqual(Array.from({ length: 100 }, (_, i) => `x${i + 1}`))
    }))

  it.scoped("test_async_stream_with_delays: 5 items 10 ms apart arrive exactly on the TestClock", () =>
    Effect.gen(function*() {
      const paced = Stream.range(1, 5).pipe(Stream.tap(() => Effect.sleep("10 millis")), Stream.map(item("d")))
      const { store, task } = yield* run({ _tag: "Start", stream: paced })
      yield* settle
      expect((yield* store.state).items).toEqual([])
      yield* TestClock.adjust("10 millis")
      expect((yield* store.state).items).toEqual(["d1"])
      yield* TestClock.adjust("29 millis")
      expect((yield* store.state).items).toEqual(["d1", "d2", "d3"])
      yield* TestClock.adjust("21 millis")
      yield* task.finish
      expect((yield* store.state).items).toEqual(["d1", "d2", "d3", "d4", "d5"])
    }))

  it.scoped("test_concurrent_streams: two streams in Fx.parallel run at the same time", () =>
    Effect.gen(function*() {
      const paced = (source: string, every: Duration.DurationInput) =>
        Fx.stream(Stream.range(1, 3).pipe(Stream.tap(() => Effect.sleep(every)), Stream.map(item(source))))
      const { store, task } = yield* run({ _tag: "StartAll", fx: Fx.parallel(paced("a", "10 millis"), paced("b", "15 millis")) })
      yield* settle
      yield* TestClock.adjust("45 millis")
      yield* task.finish
      // Interleaved by time, so neither stream waited for the other: a@10 b@15 a@20 a@30 b@30 b@45.
      expect((yield* store.state).items).toEqual(["a1", "b1", "a2", "a3", "b2", "b3"])
    }))

  it.scoped("test_stream_in_sequential: a stream after a phase change starts only after it", () =>
    Effect.gen(function*() {
      const fx = Fx.sequential(
        Fx.send({ _tag: "Phase", phase: "loading" } as Action),
        Fx.delay("5 millis", { _tag: "Phase", phase: "streaming" } as Action),
        Fx.stream(Stream.make(1, 2).pipe(Stream.map(item("s"))))
      )
      const { store, task } = yield* run({ _tag: "StartAll", fx })
      yield* settle
      expect((yield* store.state).items).toEqual(["phase:loading"])
      yield* TestClock.adjust("5 millis")
      yield* task.finish
      expect((yield* store.state).items).toEqual(["phase:loading", "phase:streaming", "s1", "s2"])
    }))

  it.scoped("test_stream_backpressure: item N+1 is not pulled until item N has been reduced", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const pulled = Stream.unfoldEffect(1, (n) =>
        Effect.sync(() => {
          if (n > 3) return Option.none()
          log.push(`pull ${n}`)
          return Option.some([n, n + 1] as const)
        }))
      const logging = Reducer.make((state: State, action: Action) => {
        if (action._tag === "Item") log.push(`reduce ${action.n}`)
        return reducer(state, action)
      })
      const store = yield* Store.make({ initialState, reducer: logging })
      const task = yield* store.send({ _tag: "Start", stream: Stream.map(pulled, item("p")) })
      yield* task.finish
      expect(log).toEqual(["pull 1", "reduce 1", "pull 2", "reduce 2", "pull 3", "reduce 3"])
    }))

  it.scoped("stream items are broadcast to subscribers in reduce order, after the action that started them", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState, reducer })
      const recorder = yield* record(store)
      const task = yield* store.send({ _tag: "Start", stream: Stream.make(1, 2).pipe(Stream.map(item("b"))) })
      yield* task.finish
      const tags = (yield* recorder.seen).map((a) => a._tag === "Item" ? `${a.source}${a.n}` : a._tag)
      expect(tags).toEqual(["Start", "b1", "b2"])
    }))
})
