/**
 * The TestStore on TCA's model (issue 15): effects' actions are reduced as they arrive, as in a store,
 * and recorded with the state they left; `receive` asserts the oldest recorded one.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Logger, PubSub, Stream, TestClock } from "effect"
import { produce } from "immer"
import { Fx, Reducer, Store, TestStore } from "../../src/index.js"
import { settle, uniqueLabel } from "./helpers.js"

type Action =
  | { readonly _tag: "Open" }
  | { readonly _tag: "Load" }
  | { readonly _tag: "Loaded"; readonly text: string }
  | { readonly _tag: "Noop" }
interface State {
  readonly open: boolean
  readonly text: string
}
const initialState: State = { open: false, text: "" }

/** Open -> Fx.send(Load) -> a fetch that takes a second -> Loaded. */
const detail = Reducer.make<State, Action>()((state, action) => {
  switch (action._tag) {
    case "Open":
      return [{ ...state, open: true }, Fx.send({ _tag: "Load" })]
    case "Load":
      return [state, Fx.future(Effect.as(Effect.sleep("1 second"), { _tag: "Loaded", text: "hello" }))]
    case "Loaded":
      return [{ ...state, text: action.text }, Fx.none]
    case "Noop":
      return [state, Fx.none]
  }
})

const failure = <A>(effect: Effect.Effect<A, TestStore.TestStoreError>) => Effect.flip(effect)

describe("TestStore on TCA's model", () => {
  it.scoped("awaiting a send's task, then receiving what it fed back, works (the task no longer waits on the test)", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState, reducer: detail })
      const task = yield* store.send({ _tag: "Open" }, { ...initialState, open: true })
      yield* Effect.fork(TestClock.adjust("1 second"))
      yield* task.finish
      yield* store.receive("Load")
      yield* store.receive({ _tag: "Loaded", text: "hello" }, { open: true, text: "hello" })
      yield* store.finish()
    }))

  it.scoped("non-exhaustive: a send's expectation function gets the actual next state, so it sets only what it checks", () =>
    Effect.gen(function*() {
      const both = Reducer.make<State, Action>()((state, action) =>
        action._tag === "Open" ? [{ open: true, text: "changed too" }, Fx.none] : [state, Fx.none]
      )
      const store = yield* TestStore.make({ initialState, reducer: both, exhaustivity: "non-exhaustive" })
      yield* store.send({ _tag: "Open" }, (s) => ({ ...s, open: true }))
    }))

  it.scoped("non-exhaustive: a chain of effects runs during TestClock.adjust without asserting each step", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState, reducer: detail, exhaustivity: "non-exhaustive" })
      yield* store.send({ _tag: "Open" })
      yield* TestClock.adjust("1 second")
      // Load was never asserted, and its effect ran all the same.
      yield* store.receive("Loaded", (s) => ({ ...s, text: "hello" }))
      expect(yield* store.state).toEqual({ open: true, text: "hello" })
    }))

  it.scoped("a TestStore reduces merged streams in the order a store does", () =>
    Effect.gen(function*() {
      type Step = { readonly _tag: "Go" } | { readonly _tag: "Item"; readonly v: string }
      const streams = Reducer.make<ReadonlyArray<string>, Step>()((log, action) =>
        action._tag === "Go"
          ? [log, Fx.merge([
            Fx.stream(Stream.make("a1", "a2", "a3").pipe(Stream.map((v) => ({ _tag: "Item", v }) as const))),
            Fx.stream(Stream.make("b1", "b2").pipe(Stream.map((v) => ({ _tag: "Item", v }) as const)))
          ])]
          : [[...log, action.v], Fx.none]
      )
      const live = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer: streams, label: uniqueLabel("order") })
      yield* Effect.flatMap(live.send({ _tag: "Go" }), (task) => task.finish)
      const test = yield* TestStore.make({ initialState: [] as ReadonlyArray<string>, reducer: streams })
      yield* test.send({ _tag: "Go" })
      yield* settle
      expect((yield* test.received).map((a) => a._tag === "Item" ? a.v : "")).toEqual(yield* live.state)
      yield* test.skipReceivedActions()
    }))

  it.scoped("send returns once the effects it started have started: a stream over a PubSub is subscribed", () =>
    Effect.gen(function*() {
      const messages = yield* PubSub.unbounded<string>()
      type Feed = "Listen" | { readonly _tag: "Message"; readonly text: string }
      const feed = Reducer.make<ReadonlyArray<string>, Feed>()((log, action) =>
        action === "Listen"
          ? [log, Fx.stream(Stream.fromPubSub(messages).pipe(Stream.map((text) => ({ _tag: "Message", text }) as const)))]
          : [[...log, action.text], Fx.none]
      )
      const store = yield* TestStore.make({ initialState: [] as ReadonlyArray<string>, reducer: feed })
      yield* store.send("Listen")
      // Offered on the very next line: lost if the stream had not subscribed yet.
      yield* PubSub.publish(messages, "hi")
      yield* store.receive({ _tag: "Message", text: "hi" }, ["hi"])
      yield* store.skipInFlightEffects({ interrupt: true })
    }))

  it.scoped("inside an expectation function the store's state is the state before the step", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState, reducer: detail })
      const seen: Array<State> = []
      yield* store.send({ _tag: "Open" }, (before) => {
        seen.push(Effect.runSync(store.state))
        return { ...before, open: true }
      })
      expect(seen).toEqual([initialState])
      yield* store.skipReceivedActions()
      yield* store.skipInFlightEffects({ interrupt: true })
    }))
})

describe("TestStore strictness and failures, as TCA", () => {
  it.scoped("a failure's stack starts at the test's own line", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState, reducer: detail })
      const error = yield* failure(store.send({ _tag: "Noop" }, { ...initialState, open: true }))
      const frames = (error.stack ?? "").split("\n").filter((line) => line.trimStart().startsWith("at "))
      expect(frames[0]).toContain("test-store-model.test.ts")
    }))

  it.scoped("an expectation when nothing changed fails, also when it is a function returning its argument", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState, reducer: detail })
      const unchanged = yield* failure(store.send({ _tag: "Noop" }, (s) => s))
      expect(unchanged.reason).toBe("ExpectedStateChange")
      expect(unchanged.message).toContain("Expected state to change after sending")
      expect((yield* failure(store.send({ _tag: "Noop" }, initialState))).reason).toBe("ExpectedStateChange")
    }))

  it.scoped("skipReceivedActions and skipInFlightEffects are strict by default: nothing to skip fails", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState, reducer: detail })
      expect((yield* failure(store.skipReceivedActions())).reason).toBe("NothingToSkip")
      expect((yield* failure(store.skipInFlightEffects())).reason).toBe("NothingToSkip")
      yield* store.skipReceivedActions({ strict: false })
      yield* store.skipInFlightEffects({ strict: false })
      yield* store.finish()
    }))

  it.scoped("skipInFlightEffects stops tracking effects and leaves them running; interrupt: true stops them", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState, reducer: detail })
      yield* store.send({ _tag: "Open" }, { ...initialState, open: true })
      yield* store.receive("Load")
      yield* store.skipInFlightEffects()
      // Still running: the fetch delivers when the clock says so.
      yield* TestClock.adjust("1 second")
      yield* store.receive("Loaded", { open: true, text: "hello" })
      yield* store.send({ _tag: "Load" })
      yield* store.skipInFlightEffects({ interrupt: true })
      yield* TestClock.adjust("1 second")
      expect(yield* store.received).toEqual([])
      yield* store.finish()
    }))

  it.scoped("an effect that dies fails the next step, with its cause and the action that started it", () =>
    Effect.gen(function*() {
      const crashing = Reducer.make<number, "Go" | "Next">()((n, action) =>
        action === "Go" ? [n, Fx.future(Effect.zipRight(Effect.sleep("1 second"), Effect.die(new Error("the fetch exploded"))))] : [n + 1, Fx.none]
      )
      const store = yield* TestStore.make({ initialState: 0, reducer: crashing })
      yield* store.send("Go")
      yield* TestClock.adjust("1 second")
      const error = yield* failure(store.send("Next", 1))
      expect(error.reason).toBe("EffectDefect")
      expect(error.message).toContain(`started by "Go"`)
      expect(error.message).toContain("the fetch exploded")
    }))

  it.scoped("non-exhaustive with showSkippedAssertions logs what a step skipped", () =>
    Effect.gen(function*() {
      const logged: Array<string> = []
      const store = yield* TestStore.make({
        initialState,
        reducer: detail,
        exhaustivity: "non-exhaustive",
        showSkippedAssertions: true
      })
      yield* store.send({ _tag: "Open" })
      yield* TestClock.adjust("1 second")
      yield* store.receive("Loaded").pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => void logged.push(String(message)))))
      )
      expect(logged.join("\n")).toContain(`skipped 1 received action(s) before receiving {"_tag":"Loaded","text":"hello"}: {"_tag":"Load"}`)
    }))
})

describe("TestStore: nested expectations and matchers", () => {
  interface Todo {
    readonly id: string
    readonly ticks: number
  }
  interface Todos {
    readonly todos: ReadonlyArray<Todo>
  }
  type TodoAction = { readonly _tag: "Tick"; readonly at: number } | { readonly _tag: "Start" }
  type TodosAction = { readonly _tag: "Todo"; readonly id: string; readonly action: TodoAction }
  const todo = Reducer.make<Todo, TodoAction>()((t, action) =>
    action._tag === "Start" ? [t, Fx.send({ _tag: "Tick", at: 1 })] : [{ ...t, ticks: t.ticks + 1 }, Fx.none]
  )
  const todos = Reducer.forEach(Reducer.fromState((s: Todos, _: TodosAction) => s), todo, {
    state: Reducer.field<Todos, "todos">("todos"),
    action: Reducer.taggedElement<TodosAction, "Todo">("Todo")
  })
  const start: Todos = { todos: [{ id: "a", ticks: 0 }, { id: "b", ticks: 0 }] }

  it.scoped("an immer draft edits the previous state, and TestStore.like matches a child action by its tags", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState: start, reducer: todos })
      yield* store.send({ _tag: "Todo", id: "b", action: { _tag: "Start" } })
      yield* store.receive(
        TestStore.like<TodosAction>({ _tag: "Todo", id: "b", action: { _tag: "Tick" } }),
        produce((draft) => {
          draft.todos[1]!.ticks = 1
        })
      )
      // A pattern naming a field the action does not match fails the receive.
      yield* store.send({ _tag: "Todo", id: "a", action: { _tag: "Start" } })
      const error = yield* failure(store.receive(TestStore.like<TodosAction>({ id: "b" }), undefined, { timeout: "50 millis" }))
      expect(error.reason).toBe("UnexpectedReceivedAction")
      yield* store.skipReceivedActions()
    }))
})

describe("TestStore: found by a review as a TCA user would", () => {
  it.scoped("a send never takes an effect's action for its own, even when the sending fiber yields first", () =>
    Effect.gen(function*() {
      const messages = yield* PubSub.unbounded<string>()
      type Feed = "listen" | "inc" | { readonly _tag: "Msg"; readonly text: string }
      const feed = Reducer.make<{ readonly n: number; readonly msgs: number }, Feed>()((s, action) =>
        action === "listen"
          ? [s, Fx.stream(Stream.fromPubSub(messages).pipe(Stream.map((text) => ({ _tag: "Msg", text }) as const)))]
          : action === "inc"
          ? [{ ...s, n: s.n + 1 }, Fx.none]
          : [{ ...s, msgs: s.msgs + 1 }, Fx.none]
      )
      const store = yield* TestStore.make({ initialState: { n: 0, msgs: 0 }, reducer: feed, exhaustivity: "non-exhaustive" })
      yield* store.send("listen")
      for (let i = 0; i < 300; i++) {
        yield* PubSub.publish(messages, `m${i}`)
        yield* store.send("inc", (s) => ({ ...s, n: i + 1 }))
      }
      // Only messages were received: every "inc" was its own send's.
      expect((yield* store.received).filter((a) => a === "inc")).toEqual([])
      yield* store.skipInFlightEffects({ interrupt: true })
    }))

  it.scoped("a state type with undefined: a send to undefined is the send's state", () =>
    Effect.gen(function*() {
      const clear = Reducer.make<string | undefined, "clear" | "after">()((s, a) => a === "clear" ? [undefined, Fx.send("after")] : [s, Fx.none])
      const store = yield* TestStore.make({ initialState: "x" as string | undefined, reducer: clear })
      yield* store.send("clear", () => undefined)
      yield* store.receive("after")
      yield* store.finish()
    }))

  it.scoped("non-exhaustive finish keeps what was received, and effects run on", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState, reducer: detail, exhaustivity: "non-exhaustive" })
      yield* store.send({ _tag: "Open" })
      yield* store.finish()
      yield* TestClock.adjust("1 second")
      yield* store.receive("Loaded", (s) => ({ ...s, text: "hello" }))
    }))

  it.scoped("finish waits in real time for an effect that ends in real time", () =>
    Effect.gen(function*() {
      const real = Reducer.make<number, "go" | "done">()((n, a) =>
        a === "go" ? [n, Fx.future(Effect.as(Effect.promise(() => new Promise((r) => setTimeout(r, 30))), "done"))] : [n + 1, Fx.none]
      )
      const store = yield* TestStore.make({ initialState: 0, reducer: real })
      yield* store.send("go")
      const error = yield* failure(store.finish())
      // It ended in time; what it sent is what is left to assert.
      expect(error.reason).toBe("UnassertedReceivedActions")
      yield* store.receive("done", 1)
      yield* store.finish()
    }))

  it.scoped("an effect whose stream dies at once fails the send that started it", () =>
    Effect.gen(function*() {
      const dying = Reducer.make<number, "go">()((n) => [n, Fx.stream(Stream.die(new Error("no stream")))])
      const store = yield* TestStore.make({ initialState: 0, reducer: dying })
      const error = yield* failure(store.send("go"))
      expect([error.reason, error.message.includes("no stream")]).toEqual(["EffectDefect", true])
    }))

  it("after a passing finish, later steps are checked again when the scope closes", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
        const store = yield* TestStore.make({ initialState, reducer: detail })
        yield* store.finish()
        yield* store.send({ _tag: "Open" }, { ...initialState, open: true })
      })))
      expect(Exit.isFailure(exit)).toBe(true)
    }).pipe(Effect.runPromise))

  it.scoped("a send's task.finish gives up after the receive timeout of real time instead of hanging", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState, reducer: detail, receiveTimeout: "50 millis" })
      const task = yield* store.send({ _tag: "Open" }, { ...initialState, open: true })
      // The fetch waits on the TestClock, which nothing advances.
      const error = yield* failure(task.finish)
      expect(error.reason).toBe("TaskTimeout")
      expect(error.message).toContain(`Expected the effects of {"_tag":"Open"} to finish`)
      yield* Effect.fork(TestClock.adjust("1 second"))
      yield* task.finishWithin("5 seconds")
      yield* store.receive("Load")
      yield* store.receive("Loaded", { open: true, text: "hello" })
    }))

  it.scoped("a receive timeout with no effect in flight says nothing can send it, not to advance the clock", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState, reducer: detail, receiveTimeout: "20 millis" })
      const error = yield* failure(store.receive("Loaded"))
      expect(error.reason).toBe("ReceiveTimeout")
      expect(error.message).toContain("No effect is in flight")
      expect(error.message).not.toContain("TestClock.adjust")
    }))
})
