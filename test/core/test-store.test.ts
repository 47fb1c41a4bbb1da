import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Data, Effect, Exit, Layer, pipe, Schema, Stream, TestClock } from "effect"
import { Fx, Reducer, ReducerTest, TestStore } from "../../src/index.js"
import { Go, Log, sequenceReducer } from "./helpers.js"

class Greeter extends Context.Tag("test/Greeter")<Greeter, { readonly greet: (name: string) => Effect.Effect<string> }>() {}

type Action = Data.TaggedEnum<{
  Load: { readonly name: string }
  Loaded: { readonly text: string }
  Start: {}
  Tick: { readonly n: number }
  Stop: {}
  Noop: {}
  Bump: {}
}>
const Action = Data.taggedEnum<Action>()

interface State {
  readonly text: string
  readonly ticks: ReadonlyArray<number>
  readonly count: number
}
const initialState: State = { text: "", ticks: [], count: 0 }

const reducer = Reducer.make((state: State, action: Action) => {
  switch (action._tag) {
    case "Load":
      return [state, Fx.future(Effect.flatMap(Greeter, (greeter) => greeter.greet(action.name)).pipe(Effect.map((text) => Action.Loaded({ text }))))]
    case "Loaded":
      return [{ ...state, text: action.text }, Fx.none]
    case "Start":
      return [state, Fx.cancellable(Fx.stream(Stream.range(1, 3).pipe(Stream.tap(() => Effect.sleep("1 second")), Stream.map((n) => Action.Tick({ n })))), "ticks")]
    case "Tick":
      return [{ ...state, ticks: [...state.ticks, action.n] }, Fx.none]
    case "Stop":
      return [state, Fx.cancel("ticks")]
    case "Noop":
      return [state, Fx.none]
    case "Bump":
      return [{ ...state, count: state.count + 1 }, Fx.send(Action.Noop())]
  }
})

const Live = Layer.succeed(Greeter, { greet: (name) => Effect.succeed(`Hello, ${name}`) })
const Test = Layer.succeed(Greeter, { greet: (name) => Effect.succeed(`test ${name}`) })

const make = (exhaustivity: "exhaustive" | "non-exhaustive" = "exhaustive") =>
  TestStore.make({ initialState, reducer, exhaustivity, receiveTimeout: "100 millis" })

describe("TestStore", () => {
  it.scoped("effects run on the TestClock; their actions are reduced as they arrive and recorded until received", () =>
    Effect.gen(function*() {
      const store = yield* make()
      yield* store.send(Action.Start())
      yield* TestClock.adjust("1 second")
      // As in a store (and in TCA's TestStore): reduced on arrival, recorded with the state it left.
      expect((yield* store.state).ticks).toEqual([1])
      expect(yield* store.received).toEqual([Action.Tick({ n: 1 })])
      yield* store.receive(Action.Tick({ n: 1 }), (s) => ({ ...s, ticks: [1] }))
      yield* TestClock.adjust("1 second")
      yield* store.receive("Tick", { ...initialState, ticks: [1, 2] })
      yield* store.send(Action.Stop())
      yield* TestClock.adjust("5 seconds")
      yield* store.finish()
    }).pipe(Effect.provide(Live)))

  it.scoped("a test swaps the environment with a Layer", () =>
    Effect.gen(function*() {
      const store = yield* make()
      yield* store.send(Action.Load({ name: "Ada" }))
      yield* store.receive((a) => a._tag === "Loaded", (s) => ({ ...s, text: "test Ada" }))
    }).pipe(Effect.provide(Test)))

  it.scoped("non-exhaustive: unasserted actions are reduced in order and skipped changes are allowed", () =>
    Effect.gen(function*() {
      const store = yield* make("non-exhaustive")
      yield* store.send(Action.Start())
      yield* TestClock.adjust("3 seconds")
      // Skips Tick 1 and 2 (reducing them), checks only what the expectation sets.
      yield* store.receive(Action.Tick({ n: 3 }), (s) => ({ ...s, ticks: [1, 2, 3] }))
      yield* store.send(Action.Bump()) // state changes, no expectation: allowed
      yield* store.finish()
      expect((yield* store.state).count).toBe(1)
    }).pipe(Effect.provide(Live)))

  it.scoped("skipReceivedActions reduces held actions; skipInFlightEffects cancels running ones", () =>
    Effect.gen(function*() {
      const store = yield* make()
      yield* store.send(Action.Start())
      yield* TestClock.adjust("1 second")
      yield* store.skipReceivedActions()
      expect((yield* store.state).ticks).toEqual([1])
      yield* store.skipInFlightEffects({ interrupt: true })
      yield* store.finish()
    }).pipe(Effect.provide(Live)))
})

describe("TestStore failures", () => {
  const failure = <A>(effect: Effect.Effect<A, TestStore.TestStoreError>) => Effect.flip(effect)

  it.scoped("StateMismatch shows a structural diff", () =>
    Effect.gen(function*() {
      const store = yield* make()
      const error = yield* failure(store.send(Action.Bump(), (s) => ({ ...s, count: 5 })))
      expect(error.reason).toBe("StateMismatch")
      expect(error.message).toContain("state.count")
      expect(error.message).toContain("-   5")
      expect(error.message).toContain("+   1")
      yield* store.skipReceivedActions()
    }).pipe(Effect.provide(Live)))

  it.scoped("ReducerDefect: a reducer that throws fails the send, naming the action and the error", () =>
    Effect.gen(function*() {
      const reducer = Reducer.make((n: number, action: "inc" | "boom"): readonly [number, Fx.Fx<never>] => {
        if (action === "boom") throw new Error("division by zero")
        return [n + 1, Fx.none]
      })
      const store = yield* TestStore.make({ initialState: 0, reducer })
      const error = yield* failure(store.send("boom"))
      expect(error.reason).toBe("ReducerDefect")
      expect(error.message).toContain(`on "boom": Error: division by zero`)
      // The store itself went on, as a store does: the next action is reduced.
      yield* store.send("inc", 1)
    }))

  it.scoped("states holding a Date, a RegExp or an opaque object compare by content, not as empty objects", () =>
    Effect.gen(function*() {
      class Secret {
        readonly #value: number
        constructor(value: number) {
          this.#value = value
        }
        get value() {
          return this.#value
        }
      }
      type S = { readonly at: Date; readonly pattern: RegExp; readonly secret: Secret }
      const reducer = Reducer.fromState((_: S, n: number): S => ({ at: new Date(n), pattern: new RegExp(`x${n}`), secret: new Secret(n) }))
      const store = yield* TestStore.make({ initialState: { at: new Date(0), pattern: /x0/, secret: new Secret(0) } as S, reducer })
      const secret = (yield* store.state).secret
      const wrongDate = yield* failure(store.send(1, (s) => ({ ...s, at: new Date(999), pattern: /x1/ })))
      expect(wrongDate.reason).toBe("StateMismatch")
      const noExpectation = yield* failure(store.send(2))
      expect(noExpectation.reason).toBe("UnexpectedStateChange")
      // An opaque object is equal to itself only.
      expect((yield* store.state).secret).not.toBe(secret)
      const opaque = yield* failure(store.send(3, (s) => ({ ...s, at: new Date(3), pattern: /x3/ })))
      expect(opaque.reason).toBe("StateMismatch")
    }))

  it.scoped("UnexpectedStateChange: the state changed but no expectation was given", () =>
    Effect.gen(function*() {
      const store = yield* make()
      const error = yield* failure(store.send(Action.Bump()))
      expect(error.reason).toBe("UnexpectedStateChange")
      expect(error.message).toContain("no expectation was given")
      yield* store.skipReceivedActions()
    }).pipe(Effect.provide(Live)))

  it.scoped("ExpectedStateChange: an expectation of change, and no change happened", () =>
    Effect.gen(function*() {
      const store = yield* make()
      const error = yield* failure(store.send(Action.Noop(), (s) => ({ ...s, count: 1 })))
      expect(error.reason).toBe("ExpectedStateChange")
      expect(error.message).toContain("no change occurred")
    }).pipe(Effect.provide(Live)))

  it.scoped("UnassertedReceivedActions: send while received actions are unasserted, naming them", () =>
    Effect.gen(function*() {
      const store = yield* make()
      yield* store.send(Action.Bump(), (s) => ({ ...s, count: 1 }))
      const error = yield* failure(store.send(Action.Noop()))
      expect(error.reason).toBe("UnassertedReceivedActions")
      expect(error.message).toContain(`"_tag":"Noop"`)
      yield* store.skipReceivedActions()
    }).pipe(Effect.provide(Live)))

  it.scoped("UnexpectedReceivedAction: the next received action does not match", () =>
    Effect.gen(function*() {
      const store = yield* make()
      yield* store.send(Action.Bump(), (s) => ({ ...s, count: 1 }))
      const error = yield* failure(store.receive("Tick"))
      expect(error.reason).toBe("UnexpectedReceivedAction")
      expect(error.message).toContain(`Expected to receive "Tick", but received {"_tag":"Noop"}`)
      yield* store.skipReceivedActions()
    }).pipe(Effect.provide(Live)))

  it.scoped("UnexpectedReceivedAction: an expected action of the same tag is diffed against the received one", () =>
    Effect.gen(function*() {
      const store = yield* make()
      yield* store.send(Action.Start())
      yield* TestClock.adjust("1 second")
      const error = yield* failure(store.receive(Action.Tick({ n: 7 })))
      expect(error.reason).toBe("UnexpectedReceivedAction")
      expect(error.message).toContain("(- expected, + received)\n  action.n\n-   7\n+   1")
      yield* store.skipReceivedActions()
      yield* store.send(Action.Stop())
    }).pipe(Effect.provide(Live)))

  it.scoped("ReceiveTimeout says that effects run on the TestClock", () =>
    Effect.gen(function*() {
      const store = yield* make()
      yield* store.send(Action.Start())
      const error = yield* failure(store.receive("Tick", undefined, { timeout: "30 millis" }))
      expect(error.reason).toBe("ReceiveTimeout")
      expect(error.message).toContain("TestClock.adjust")
      expect(error.message).toContain(`{"_tag":"Start"}`)
      yield* store.skipInFlightEffects({ interrupt: true })
    }).pipe(Effect.provide(Live)))

  it.scoped("finish fails on running effects, naming the action that started them", () =>
    Effect.gen(function*() {
      const store = yield* make()
      yield* store.send(Action.Start())
      const error = yield* failure(store.finish())
      expect(error.reason).toBe("EffectsStillRunning")
      expect(error.message).toContain(`1 effect(s) still running, started by:\n  {"_tag":"Start"}`)
    }).pipe(Effect.provide(Live)))

  it.scoped("finish fails on received actions that were never asserted", () =>
    Effect.gen(function*() {
      const store = yield* make()
      yield* store.send(Action.Bump(), (s) => ({ ...s, count: 1 }))
      const error = yield* failure(store.finish())
      expect(error.reason).toBe("UnassertedReceivedActions")
      expect(error.message).toContain(`1 received action(s) were never asserted`)
    }).pipe(Effect.provide(Live)))

  it.effect("finish runs by itself when the scope closes", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
        const store = yield* make()
        yield* store.send(Action.Start())
      })))
      expect(Exit.isFailure(exit)).toBe(true)
      const defect = Exit.isFailure(exit) ? Cause.pretty(exit.cause) : ""
      expect(defect).toContain("effect(s) still running")
    }).pipe(Effect.provide(Live)))
})

describe("ReducerTest", () => {
  it.effect("given/when/then checks the next state and the returned effect as data", () =>
    Effect.gen(function*() {
      const outcome = yield* ReducerTest.given(reducer, initialState).when(Action.Start()).then({
        state: initialState,
        fx: { kinds: ["Cancellable", "Stream"], cancellationIds: ["ticks"], parallelBranches: 1 }
      })
      expect(outcome.summary.sent).toEqual([])
      const error = yield* Effect.flip(ReducerTest.given(reducer, initialState).when(Action.Bump()).then({
        state: (s) => ({ ...s, count: 2 }),
        fx: { sent: [] }
      }))
      expect(error.message).toContain("state.count")
      expect(error.message).toContain(`fx.sent: expected [], got [{"_tag":"Noop"}]`)
    }))

  it.effect("given/when/then checks an expected undefined state, when the state type allows it", () =>
    Effect.gen(function*() {
      const selection = Reducer.fromState((_: string | undefined, a: { readonly select: string | undefined }) => a.select)
      const error = yield* Effect.flip(ReducerTest.given(selection, undefined).when({ select: "row-1" }).then({ state: undefined }))
      expect(error.message).toContain(`"row-1"`)
      yield* ReducerTest.given(selection, "row-1").when({ select: undefined }).then({ state: undefined })
    }))

  const Counter = Schema.Literal("inc", "dec", "reset")
  const clamped = Reducer.fromState((n: number, a: "inc" | "dec" | "reset") =>
    a === "reset" ? 0 : Math.min(10, Math.max(0, a === "inc" ? n + 1 : n - 1)))

  it.effect.prop("a clamped counter stays within bounds for any action sequence", [ReducerTest.actionSequences(Counter, { maxLength: 60 })], ([actions]) =>
    Effect.asVoid(ReducerTest.checkInvariant(clamped, 0, actions, (n) => n >= 0 && n <= 10)))

  it.effect("checkInvariant reports the step that broke it", () =>
    Effect.gen(function*() {
      const broken = Reducer.fromState((n: number, a: "inc" | "dec" | "reset") => a === "dec" ? n - 1 : a === "inc" ? n + 1 : 0)
      const error = yield* Effect.flip(ReducerTest.checkInvariant(broken, 0, ["inc", "dec", "dec"] as const, (n) => n >= 0 || `negative: ${n}`))
      expect(error.message).toContain("Invariant broken at step 2 by \"dec\": negative: -1")
    }))
})

describe("TestStore with the Phase 8.6 combinators", () => {
  type Action = Data.TaggedEnum<{
    Query: { readonly q: string }
    Results: { readonly q: string }
    Import: {}
    Rows: { readonly rows: ReadonlyArray<number> }
    Poll: {}
    Ping: { readonly n: number }
    Stalled: {}
  }>
  const Action = Data.taggedEnum<Action>()
  type State = { readonly results: ReadonlyArray<string>; readonly rows: number; readonly pings: ReadonlyArray<number>; readonly stalled: boolean }
  const initial: State = { results: [], rows: 0, pings: [], stalled: false }

  const reducer = Reducer.make((s: State, a: Action) => {
    switch (a._tag) {
      case "Query":
        return [s, pipe(Fx.send(Action.Results({ q: a.q })), Fx.debounce("search", "300 millis"))]
      case "Results":
        return [{ ...s, results: [...s.results, a.q] }, Fx.none]
      case "Import":
        return [s, Fx.batch(Fx.stream(Stream.range(1, 5)), { size: 2, within: "1 second", toAction: (rows) => Action.Rows({ rows }) })]
      case "Rows":
        return [{ ...s, rows: s.rows + a.rows.length }, Fx.none]
      case "Poll":
        return [s, pipe(
          Fx.stream(Stream.make(1, 2, 3).pipe(Stream.map((n) => Action.Ping({ n })))),
          Fx.rateLimit({ units: 1, per: "1 second" }),
          Fx.timeout("1500 millis", { onTimeout: Action.Stalled() })
        )]
      case "Ping":
        return [{ ...s, pings: [...s.pings, a.n] }, Fx.none]
      case "Stalled":
        return [{ ...s, stalled: true }, Fx.none]
    }
  })

  it.scoped("debounce, batch, rate limit and timeout, driven by TestClock.adjust", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState: initial, reducer, receiveTimeout: "200 millis" })
      yield* store.send(Action.Query({ q: "a" }))
      yield* TestClock.adjust("100 millis")
      yield* store.send(Action.Query({ q: "ab" }))
      yield* TestClock.adjust("300 millis")
      yield* store.receive(Action.Results({ q: "ab" }), (s) => ({ ...s, results: ["ab"] }))

      yield* store.send(Action.Import())
      yield* store.receive(Action.Rows({ rows: [1, 2] }), (s) => ({ ...s, rows: 2 }))
      yield* store.receive(Action.Rows({ rows: [3, 4] }), (s) => ({ ...s, rows: 4 }))
      yield* store.receive(Action.Rows({ rows: [5] }), (s) => ({ ...s, rows: 5 }))

      yield* store.send(Action.Poll())
      yield* store.receive(Action.Ping({ n: 1 }), (s) => ({ ...s, pings: [1] }))
      yield* TestClock.adjust("1 second")
      yield* store.receive(Action.Ping({ n: 2 }), (s) => ({ ...s, pings: [1, 2] }))
      yield* TestClock.adjust("500 millis")
      yield* store.receive(Action.Stalled(), (s) => ({ ...s, stalled: true }))
      yield* store.finish()
    }))
})

describe("TestStore and Fx.sequential", () => {
  it.scoped("a step's fed-back action holds the next step until the test receives it, as in a store", () =>
    Effect.gen(function*() {
      const clock = yield* Effect.clock
      const store = yield* TestStore.make({ initialState: [] as ReadonlyArray<string>, reducer: sequenceReducer(clock) })
      yield* store.send(Go(Fx.sequential(Fx.future(Effect.as(Effect.yieldNow(), Log("A"))), Fx.send(Log("B")))))
      yield* store.receive(Log("A"), ["A@0"])
      yield* TestClock.adjust("1 second")
      yield* store.receive(Log("A-done"), ["A@0", "A-done@1000"])
      yield* store.receive(Log("B"), ["A@0", "A-done@1000", "B@1000"])
      yield* store.finish()
    }))
})

describe("TestStore finish", () => {
  it.scoped("effects that need no time (concurrent, buffered stream stages) are let finish before finish looks", () =>
    Effect.gen(function*() {
      const reducer = Reducer.make((n: number, _: "go"): readonly [number, Fx.Fx<"go">] => [
        n,
        Fx.stream(Stream.range(1, 30).pipe(
          Stream.mapEffect((i) => Effect.succeed(i), { concurrency: 2 }),
          Stream.buffer({ capacity: 4 }),
          Stream.filter(() => false),
          Stream.map(() => "go" as const)
        ))
      ])
      const store = yield* TestStore.make({ initialState: 0, reducer })
      yield* store.send("go")
      yield* store.finish()
    }))
})
