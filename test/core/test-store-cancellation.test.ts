import { describe, expect, it } from "@effect/vitest"
import { type Duration, Effect, pipe, Stream, TestClock } from "effect"
import { Fx, Reducer, Store, TestStore } from "../../src/index.js"
import { settle, uniqueLabel } from "./helpers.js"

describe("TestStore and cancellation", () => {
  type Action = { readonly _tag: "Start" } | { readonly _tag: "Item"; readonly n: number }
  /** Item 1 cancels the stream that produced it; `running`: the stream then waits forever, else it ends. */
  const selfCancelling = (running: boolean) =>
    Reducer.make((items: ReadonlyArray<number>, action: Action): readonly [ReadonlyArray<number>, Fx.Fx<Action>] => {
      const source = running ? Stream.concat(Stream.make(1, 2, 3), Stream.never) : Stream.make(1, 2, 3)
      return action._tag === "Start"
        ? [items, Fx.cancellable(Fx.stream(source.pipe(Stream.map((n): Action => ({ _tag: "Item", n })))), "s")]
        : [[...items, action.n], action.n === 1 ? Fx.cancel("s") : Fx.none]
    })

  for (const running of [true, false]) {
    const stream = running ? "still running" : "already ended"
    it.scoped(`an item whose reduction cancels its own (${stream}) stream: no later item is received, as in a store`, () =>
      Effect.gen(function*() {
        const reducer = selfCancelling(running)
        const store = yield* Store.make({ initialState: [] as ReadonlyArray<number>, reducer })
        yield* Effect.flatMap(store.send({ _tag: "Start" }), (task) => task.finish)
        expect(yield* store.state).toEqual([1])

        const test = yield* TestStore.make({ initialState: [] as ReadonlyArray<number>, reducer })
        yield* test.send({ _tag: "Start" })
        yield* test.receive({ _tag: "Item", n: 1 }, [1])
        // A store pulls item 2 only after item 1 is reduced, and item 1 cancelled the stream.
        expect(yield* test.received).toEqual([])
        yield* test.finish()
      }))
  }
})

/**
 * A cancellable effect regrouped by `Fx.rateLimit`, `Fx.batch` or `Fx.idleTimeout`, whose first item (or
 * group) cancels it. Each scenario runs on a store and on a TestStore, which runs the store unchanged and
 * so must reduce, and record, the same actions.
 */
describe("TestStore and a cancellable inside a rate limit, a batch or an idle timeout", () => {
  type Action =
    | { readonly _tag: "Go"; readonly fx: Fx.Fx<Action> }
    | { readonly _tag: "Item"; readonly v: string }
    | { readonly _tag: "Rows"; readonly items: ReadonlyArray<string> }
  const Go = (fx: Fx.Fx<Action>): Action => ({ _tag: "Go", fx })
  const Item = (v: string): Action => ({ _tag: "Item", v })
  const Rows = (items: ReadonlyArray<string>): Action => ({ _tag: "Rows", items })

  /** The log entry of a reduced action; a group's items are sorted, since merged branches race. */
  const entry = (action: Action): string =>
    action._tag === "Item" ? action.v : action._tag === "Rows" ? `[${[...action.items].sort().join(",")}]` : "go"

  /** Logs items and groups; reducing item "x1" (alone or in a group) cancels the effect under "x". */
  const reducer = Reducer.make((log: ReadonlyArray<string>, action: Action): readonly [ReadonlyArray<string>, Fx.Fx<Action>] => {
    if (action._tag === "Go") return [log, action.fx]
    const cancels = action._tag === "Item" ? action.v === "x1" : action.items.includes("x1")
    return [[...log, entry(action)], cancels ? Fx.cancel("x") : Fx.none]
  })

  /** `prefix`1, 2, 3... `every` apart (the first at once); `forever`: then nothing, without ending (still running). */
  const items = (prefix: string, every?: Duration.DurationInput, { count = 6, forever = true } = {}) => {
    const finite = Stream.range(1, count).pipe(
      Stream.tap((n) => every === undefined || n === 1 ? Effect.void : Effect.sleep(every)),
      Stream.map((n) => Item(`${prefix}${n}`))
    )
    return Fx.stream(forever ? Stream.concat(finite, Stream.never) : finite)
  }

  interface Scenario {
    readonly name: string
    readonly fx: Fx.Fx<Action>
    /** How long to advance the TestClock. */
    readonly advance: Duration.DurationInput
    /** What both reduce. */
    readonly log: ReadonlyArray<string>
  }

  const rows = { size: 2, within: "10 seconds" as const, toAction: (items: ReadonlyArray<Action>) => Rows(items.map(entry)) }
  const scenarios: ReadonlyArray<Scenario> = [
    {
      name: "Fx.rateLimit",
      fx: pipe(items("x"), Fx.cancellable("x"), Fx.rateLimit({ units: 1, per: "1 second" })),
      advance: "2 seconds",
      log: ["x1"]
    },
    {
      name: "Fx.batch",
      fx: pipe(items("x"), Fx.cancellable("x"), Fx.batch(rows)),
      advance: "0 millis",
      log: ["[x1,x2]"]
    },
    {
      // A group mixing items of a cancelled effect and of one still running keeps only the latter: a store
      // groups the next items after reducing the first group, when "x" is already cancelled.
      name: "Fx.batch of a cancelled and a running effect",
      fx: pipe(
        Fx.parallel(pipe(items("x", "1 second"), Fx.cancellable("x")), items("y", "1 second", { count: 2, forever: false })),
        Fx.batch(rows)
      ),
      advance: "1 second",
      log: ["[x1,y1]", "[y2]"]
    },
    {
      name: "Fx.batch behind a rate limit",
      fx: pipe(items("x"), Fx.cancellable("x"), Fx.batch(rows), Fx.rateLimit({ units: 1, per: "1 second" })),
      advance: "2 seconds",
      log: ["[x1,x2]"]
    },
    {
      name: "Fx.idleTimeout",
      fx: pipe(items("x"), Fx.cancellable("x"), Fx.idleTimeout("1 minute", { onTimeout: Item("timeout") })),
      advance: "0 millis",
      log: ["x1"]
    }
  ]

  for (const scenario of scenarios) {
    it.scoped(`${scenario.name}: a store reduces ${scenario.log.join(" ")}`, () =>
      Effect.gen(function*() {
        const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer, label: uniqueLabel("ts-cancel") })
        yield* store.send(Go(scenario.fx))
        yield* settle
        yield* TestClock.adjust(scenario.advance)
        yield* TestClock.adjust("1 minute")
        expect(yield* store.state).toEqual(scenario.log)
      }))

    it.scoped(`${scenario.name}: a TestStore records ${scenario.log.join(" ")}, as the store reduces`, () =>
      Effect.gen(function*() {
        const store = yield* TestStore.make({ initialState: [] as ReadonlyArray<string>, reducer, receiveTimeout: "200 millis" })
        yield* store.send(Go(scenario.fx))
        yield* settle
        yield* TestClock.adjust(scenario.advance)
        yield* TestClock.adjust("1 minute")
        yield* settle
        // Nothing of the cancelled effect after its first item: it was reduced as it arrived, so the cancel
        // stopped the rest as in a store.
        expect((yield* store.received).map(entry)).toEqual(scenario.log)
        const log: Array<string> = []
        for (const expected of scenario.log) {
          log.push(expected)
          yield* store.receive((action) => entry(action) === expected, [...log])
        }
        yield* store.finish()
      }))
  }
})

/**
 * A cancel stops effects in flight. An effect that has already ended is not in flight: the items it
 * produced that still wait in a batch window are delivered (as TCA delivers what an effect sent before it
 * was cancelled), in a store and in a TestStore alike. Items of an effect cancelled while still running are
 * dropped (above).
 */
describe("a cancel does not reach an effect that has ended, nor its items waiting in a batch", () => {
  type Action =
    | { readonly _tag: "Go"; readonly fx: Fx.Fx<Action> }
    | { readonly _tag: "Stop"; readonly id: string }
    | { readonly _tag: "Item"; readonly v: string }
    | { readonly _tag: "Rows"; readonly items: ReadonlyArray<string> }
  const Stop = (id: string): Action => ({ _tag: "Stop", id })
  const Item = (v: string): Action => ({ _tag: "Item", v })
  const reducer = Reducer.make((log: ReadonlyArray<string>, action: Action): readonly [ReadonlyArray<string>, Fx.Fx<Action>] => {
    switch (action._tag) {
      case "Go":
        return [log, action.fx]
      case "Stop":
        return [log, Fx.cancel(action.id)]
      case "Item":
        return [[...log, action.v], Fx.none]
      case "Rows":
        return [[...log, action.items.join(",")], Fx.none]
    }
  })
  const rows = {
    size: 10,
    within: "10 seconds" as const,
    toAction: (items: ReadonlyArray<Action>): Action => ({ _tag: "Rows", items: items.map((item) => item._tag === "Item" ? item.v : "?") })
  }
  // "x" ends at once after three items; the other branch never ends, so the window stays open.
  const endedInWindow = pipe(
    Fx.parallel(pipe(Fx.stream(Stream.make(Item("x1"), Item("x2"), Item("x3"))), Fx.cancellable("x")), Fx.stream(Stream.never)),
    Fx.batch(rows),
    Fx.cancellable("all")
  )

  it.scoped("Fx.cancel after the effect ended: its items in the batch window are delivered, in a store", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer, label: uniqueLabel("ended-batch") })
      yield* store.send({ _tag: "Go", fx: endedInWindow })
      yield* settle
      yield* store.send(Stop("x"))
      yield* TestClock.adjust("10 seconds")
      yield* settle
      expect(yield* store.state).toEqual(["x1,x2,x3"])
      yield* store.send(Stop("all"))
    }))

  it.scoped("Fx.cancel after the effect ended: its items in the batch window are delivered, in a TestStore", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState: [] as ReadonlyArray<string>, reducer, receiveTimeout: "200 millis" })
      yield* store.send({ _tag: "Go", fx: endedInWindow })
      yield* settle
      yield* store.send(Stop("x"))
      yield* TestClock.adjust("10 seconds")
      yield* store.receive((action) => action._tag === "Rows", ["x1,x2,x3"])
      yield* store.send(Stop("all"))
      yield* store.finish()
    }))

  it.scoped("cancelInFlight does not drop the items of the step before it, which has ended, from a batch", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer, label: uniqueLabel("cif-batch") })
      const steps = Fx.sequential(
        Fx.cancellable(Fx.send(Item("a1")), "x", { cancelInFlight: true }),
        Fx.cancellable(Fx.send(Item("a2")), "x", { cancelInFlight: true })
      )
      const task = yield* store.send({ _tag: "Go", fx: Fx.batch(steps, { ...rows, within: "1 second" }) })
      yield* TestClock.adjust("1 second")
      yield* task.finish
      expect(yield* store.state).toEqual(["a1,a2"])
    }))
})
