import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Context, Effect, Exit, Fiber, Metric, Schema, Stream, TestClock } from "effect"
import { Fx, Reducer, Store, StoreMetrics } from "../../src/index.js"
import { counter, Go, Log, record, sequenceReducer, settle, uniqueLabel } from "./helpers.js"

type Action =
  | { readonly _tag: "Add"; readonly n: number }
  | { readonly _tag: "Chain" }
  | { readonly _tag: "Later"; readonly after: string; readonly then: Action }
  | { readonly _tag: "Forever" }
  | { readonly _tag: "Boom" }
  | { readonly _tag: "Throw" }
  | { readonly _tag: "Note"; readonly text: string }

interface State {
  readonly total: number
  readonly notes: ReadonlyArray<string>
}
const initialState: State = { total: 0, notes: [] }
const note = (text: string): Action => ({ _tag: "Note", text })

const reducer = Reducer.make((state: State, action: Action) => {
  switch (action._tag) {
    case "Add":
      return [{ ...state, total: state.total + action.n }, Fx.none]
    case "Chain":
      // B and C are queued behind Chain; D (from B) is queued behind C: never re-entered.
      return [{ ...state, notes: [...state.notes, "A"] }, Fx.send(note("B"), note("C"))]
    case "Note":
      return [
        { ...state, notes: [...state.notes, action.text] },
        action.text === "B" ? Fx.send(note("D")) : Fx.none
      ]
    case "Later":
      return [state, Fx.delay(action.after as "1 second", action.then)]
    case "Forever":
      return [state, Fx.stream(Stream.never)]
    case "Boom":
      return [state, Fx.future(Effect.die("kaboom"))]
    case "Throw":
      throw new Error("reducer bug")
  }
})

const make = (label = uniqueLabel("store")) => Store.make({ initialState, reducer, label })

describe("Store", () => {
  it.scoped("reduces actions one at a time: Fx.send actions are queued behind the current one, never re-entered", () =>
    Effect.gen(function*() {
      const store = yield* make()
      const recorder = yield* record(store)
      yield* store.send({ _tag: "Chain" })
      expect((yield* store.state).notes).toEqual(["A", "B", "C", "D"])
      const seen = (yield* recorder.seen).map((a) => a._tag === "Note" ? a.text : a._tag)
      expect(seen).toEqual(["Chain", "B", "C", "D"])
    }))

  it.scoped("concurrent senders: every action is reduced exactly once and the state is never torn", () =>
    Effect.gen(function*() {
      const store = yield* make()
      yield* Effect.forEach(Chunk.range(1, 200), (n) => store.send({ _tag: "Add", n }), { concurrency: 8, discard: true })
      expect((yield* store.state).total).toBe((200 * 201) / 2)
    }))

  it.scoped("task.finish waits for the effects of the action and of the actions they fed back", () =>
    Effect.gen(function*() {
      const store = yield* make()
      const chained: Action = { _tag: "Later", after: "1 second", then: { _tag: "Later", after: "2 seconds", then: { _tag: "Add", n: 5 } } }
      const task = yield* store.send(chained)
      const finished = yield* Effect.fork(task.finish)
      yield* settle
      yield* TestClock.adjust("1 second")
      expect(yield* task.isRunning).toBe(true)
      expect(finished.unsafePoll()).toBeNull()
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(finished)
      expect((yield* store.state).total).toBe(5)
    }))

  it.scoped("task.cancel interrupts what the action started", () =>
    Effect.gen(function*() {
      const store = yield* make()
      const task = yield* store.send({ _tag: "Later", after: "1 second", then: { _tag: "Add", n: 1 } })
      yield* task.cancel
      expect(yield* task.isRunning).toBe(false)
      yield* TestClock.adjust("2 seconds")
      expect((yield* store.state).total).toBe(0)
    }))

  it.scoped("state and changes: the current state, then each new state", () =>
    Effect.gen(function*() {
      const store = yield* make()
      yield* store.send({ _tag: "Add", n: 1 })
      const changes = yield* Effect.fork(Stream.runCollect(Stream.take(store.changes, 3)))
      yield* settle
      yield* store.send({ _tag: "Add", n: 2 })
      yield* store.send({ _tag: "Add", n: 3 })
      const totals = Chunk.toReadonlyArray(yield* Fiber.join(changes)).map((s) => s.total)
      expect(totals).toEqual([1, 3, 6])
    }))

  it.scoped("subscribe sees every action reduced after the call, in reduce order", () =>
    Effect.gen(function*() {
      const store = yield* make()
      yield* store.send({ _tag: "Add", n: 1 }) // before: not seen
      const stream = yield* store.subscribe()
      yield* store.send({ _tag: "Add", n: 2 })
      yield* store.send({ _tag: "Add", n: 3 })
      yield* store.shutdown({ timeout: "1 second" })
      const seen = Chunk.toReadonlyArray(yield* Stream.runCollect(stream))
      expect(seen).toEqual([{ _tag: "Add", n: 2 }, { _tag: "Add", n: 3 }])
    }))

  it.scoped("a slow subscriber never stalls the store or other subscribers; its drops are counted", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("slow")
      const store = yield* make(label)
      const slow = yield* store.subscribe({ capacity: 2 }) // never read until the end
      const fast = yield* record(store)
      for (let n = 1; n <= 10; n++) yield* store.send({ _tag: "Add", n })
      expect((yield* store.state).total).toBe(55)
      expect((yield* fast.seen).length).toBe(10)
      expect(yield* counter(StoreMetrics.broadcastDropped, label)).toBe(8)
      yield* store.shutdown({ timeout: "1 second" })
      // Sliding (the default) kept the newest two.
      expect(Chunk.toReadonlyArray(yield* Stream.runCollect(slow))).toEqual([{ _tag: "Add", n: 9 }, { _tag: "Add", n: 10 }])
    }))

  it.scoped("\"dropping\" keeps the oldest actions and counts the newest it drops", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("dropping")
      const store = yield* make(label)
      const dropping = yield* store.subscribe({ capacity: 2, overflow: "dropping" })
      for (let n = 1; n <= 4; n++) yield* store.send({ _tag: "Add", n })
      yield* store.shutdown({ timeout: "1 second" })
      expect(Chunk.toReadonlyArray(yield* Stream.runCollect(dropping))).toEqual([{ _tag: "Add", n: 1 }, { _tag: "Add", n: 2 }])
      expect(yield* counter(StoreMetrics.broadcastDropped, label)).toBe(2)
    }))

  it.scoped("\"backpressure\" makes a stream producer wait for the subscriber instead of dropping", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({
        initialState,
        reducer: Reducer.make((s: State, a: Action) =>
          a._tag === "Chain" ? [s, Fx.stream(Stream.range(1, 5).pipe(Stream.map((n): Action => ({ _tag: "Add", n }))))] : reducer(s, a)
        )
      })
      const strict = yield* store.subscribe({ capacity: 2, overflow: "backpressure" })
      const task = yield* store.send({ _tag: "Chain" })
      yield* settle
      // Chain and item 1 filled the buffer of 2: the stream paused before item 2.
      expect((yield* store.state).total).toBe(1)
      expect(yield* task.isRunning).toBe(true)
      const all = yield* Effect.fork(Stream.runCollect(Stream.take(strict, 6)))
      yield* task.finish
      expect((yield* store.state).total).toBe(15)
      expect(Chunk.toReadonlyArray(yield* Fiber.join(all)).map((a) => a._tag === "Add" ? a.n : a._tag)).toEqual(["Chain", 1, 2, 3, 4, 5])
    }))

  it.scoped("sendAndWaitFor returns the first matching action reduced after the send, or times out", () =>
    Effect.gen(function*() {
      const store = yield* make()
      const waiting = yield* Effect.fork(store.sendAndWaitFor(
        { _tag: "Later", after: "1 second", then: { _tag: "Add", n: 7 } },
        (a): a is Extract<Action, { _tag: "Add" }> => a._tag === "Add",
        { timeout: "5 seconds" }
      ))
      yield* settle
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(waiting)).toEqual({ _tag: "Add", n: 7 })
      const timingOut = yield* Effect.fork(store.sendAndWaitFor({ _tag: "Add", n: 1 }, (a) => a._tag === "Note", { timeout: "2 seconds" }))
      yield* settle
      yield* TestClock.adjust("2 seconds")
      const error = yield* Effect.flip(Fiber.join(timingOut))
      expect(error._tag).toBe("WaitTimeoutError")
    }))

  it.scoped("Fx.sequential waits for the effects of what a step fed back, even when the step ends at once", () =>
    Effect.gen(function*() {
      const clock = yield* Effect.clock
      // Steps that finish synchronously and steps that finish later must behave alike.
      const firstSteps = {
        send: Fx.send(Log("A")),
        future: Fx.future(Effect.succeed(Log("A"))),
        later: Fx.future(Effect.as(Effect.yieldNow(), Log("A")))
      }
      for (const [name, first] of Object.entries(firstSteps)) {
        const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer: sequenceReducer(clock) })
        const task = yield* store.send(Go(Fx.sequential(first, Fx.send(Log("B")))))
        yield* settle
        yield* TestClock.adjust("1 second")
        yield* task.finish
        const base = clock.unsafeCurrentTimeMillis() - 1000
        expect([name, ...(yield* store.state)]).toEqual([name, `A@${base}`, `A-done@${base + 1000}`, `B@${base + 1000}`])
      }
    }))

  it.scoped("a sendAndWaitFor predicate that throws fails that wait only; the store reduces everything queued", () =>
    Effect.gen(function*() {
      const store = yield* make()
      // Later's effect feeds Add back; the predicate throws on it, inside the reduction.
      const waiting = yield* Effect.fork(store.sendAndWaitFor({ _tag: "Later", after: "1 second", then: { _tag: "Add", n: 2 } }, (a) => {
        if (a._tag === "Add") throw new Error("bad predicate")
        return false
      }, { timeout: "1 hour" }))
      yield* settle
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.await(waiting)
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      expect((yield* store.state).total).toBe(2)
      yield* Effect.flatMap(store.send({ _tag: "Add", n: 1 }), (task) => task.finish)
      expect((yield* store.state).total).toBe(3)
    }))

  it.scoped("changes slides (bounded, never making senders wait) even when the default overflow is backpressure", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("changes-slide")
      const store = yield* Store.make({ initialState, reducer, label, subscriberCapacity: 2, subscriberOverflow: "backpressure" })
      // A stalled reader of changes: it takes the first state and then reads nothing.
      const stalled = yield* Effect.fork(Stream.runDrain(Stream.tap(store.changes, () => Effect.never)))
      yield* settle
      for (let i = 0; i < 50; i++) yield* store.send({ _tag: "Add", n: 1 })
      expect((yield* store.state).total).toBe(50)
      // Its buffer holds 2 states; the older ones were dropped (and counted), not kept without bound.
      expect(yield* counter(StoreMetrics.broadcastDropped, label)).toBeGreaterThanOrEqual(45)
      yield* Fiber.interrupt(stalled)
    }))

  it.scoped("sendAndWaitFor stops waiting with StoreShutdownError when the store shuts down", () =>
    Effect.gen(function*() {
      const store = yield* make()
      const waiting = yield* Effect.fork(store.sendAndWaitFor({ _tag: "Add", n: 1 }, (a) => a._tag === "Note", { timeout: "1 hour" }))
      yield* settle
      yield* store.shutdown({ timeout: "1 second" })
      const error = yield* Effect.flip(Fiber.join(waiting))
      expect(error._tag).toBe("StoreShutdownError")
    }))

  it.scoped("shutdown lets in-flight effects finish within the timeout, then refuses sends with a typed error", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("shutdown")
      const store = yield* make(label)
      yield* store.send({ _tag: "Later", after: "1 second", then: { _tag: "Add", n: 3 } })
      const shutdown = yield* Effect.fork(store.shutdown({ timeout: "5 seconds" }))
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(shutdown)
      expect((yield* store.state).total).toBe(3) // the fed-back action was still reduced
      const refused = yield* Effect.flip(store.send({ _tag: "Add", n: 1 }))
      expect(refused._tag).toBe("StoreShutdownError")
      expect(yield* counter(StoreMetrics.shutdown.completed, label)).toBe(1)
      expect(yield* counter(StoreMetrics.shutdown.rejectedActions, label)).toBe(1)
    }))

  it.scoped("shutdown with a timeout interrupts what is left and reports how many", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("shutdown-timeout")
      const store = yield* make(label)
      yield* store.send({ _tag: "Forever" })
      yield* store.send({ _tag: "Forever" })
      const shutdown = yield* Effect.fork(store.shutdown({ timeout: "1 second" }))
      yield* settle
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(shutdown))
      expect(error._tag).toBe("ShutdownTimeoutError")
      expect(error.remaining).toBe(2)
      expect(yield* counter(StoreMetrics.shutdown.timeout, label)).toBe(1)
    }))

  it.scoped("shutdown keeps its timeout when run where interruption is off (a scope finalizer)", () =>
    Effect.gen(function*() {
      const store = yield* make(uniqueLabel("shutdown-uninterruptible"))
      yield* store.send({ _tag: "Forever" })
      // Finalizers run uninterruptibly: the wait must still be cut at the timeout, not last forever.
      const shutdown = yield* Effect.fork(Effect.uninterruptible(store.shutdown({ timeout: "1 second" })))
      yield* settle
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(shutdown))
      expect(error._tag).toBe("ShutdownTimeoutError")
      expect(error.remaining).toBe(1)
    }))

  it.effect("closing the store's scope interrupts its effects", () =>
    Effect.gen(function*() {
      let task: Store.Task | undefined
      yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* make()
        task = yield* store.send({ _tag: "Forever" })
        yield* settle
        expect(yield* task.isRunning).toBe(true)
      }))
      expect(yield* task!.isRunning).toBe(false)
    }))

  it.scoped("a defect in an effect or a throwing reducer is caught, counted, and the store goes on", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("defects")
      const store = yield* make(label)
      const task = yield* store.send({ _tag: "Boom" })
      yield* task.finish
      yield* store.send({ _tag: "Add", n: 1 })
      yield* store.send({ _tag: "Throw" })
      yield* store.send({ _tag: "Add", n: 1 })
      expect((yield* store.state).total).toBe(2)
      expect(yield* counter(StoreMetrics.effectDefects, label)).toBe(1)
      expect(yield* counter(StoreMetrics.reducerDefects, label)).toBe(1)
    }))

  it.scoped("metrics carry the seed's names, tagged per store", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("metrics")
      const store = yield* Store.make({
        initialState: 0,
        label,
        reducer: Reducer.make((n: number, a: "go" | "item") =>
          a === "go" ? [n, Fx.stream(Stream.make("item" as const, "item" as const, "item" as const))] : [n + 1, Fx.none]
        )
      })
      yield* Effect.flatMap(store.send("go"), (task) => task.finish)
      expect(yield* counter(StoreMetrics.effectsExecuted, label, { type: "stream" })).toBe(1)
      expect(yield* counter(StoreMetrics.effectsExecuted, label, { type: "none" })).toBe(3)
      expect(yield* counter(StoreMetrics.streamItemsProcessed, label)).toBe(3)
      expect(yield* counter(StoreMetrics.actionsTotal, label)).toBe(4)
      const perStream = yield* Metric.value(StoreMetrics.forStore(StoreMetrics.streamItemsTotal, label))
      expect([perStream.count, perStream.sum]).toEqual([1, 3])
    }))

  it.effect("Store.layer provides a store behind a service tag for as long as the layer lives", () => {
    class Counter extends Context.Tag("test/Counter")<Counter, Store.Store<State, Action>>() {}
    return Effect.gen(function*() {
      const store = yield* Counter
      yield* store.send({ _tag: "Add", n: 4 })
      expect((yield* store.state).total).toBe(4)
    }).pipe(Effect.provide(Store.layer(Counter, { initialState, reducer })))
  })

  it.live("a 1,000,000-item stream runs with flat memory", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({
        initialState: 0,
        reducer: Reducer.make((sum: number, a: "go" | number) =>
          a === "go" ? [sum, Fx.stream(Stream.range(1, 1_000_000))] : [sum + a, Fx.none]
        )
      })
      const gc = (globalThis as { gc?: () => void }).gc
      gc?.()
      const before = process.memoryUsage().heapUsed
      yield* Effect.flatMap(store.send("go"), (task) => task.finish)
      gc?.()
      const growth = process.memoryUsage().heapUsed - before
      expect(yield* store.state).toBe(500_000_500_000)
      // Holding the items would take tens of MB; a generous bound still catches accumulation.
      expect(growth).toBeLessThan(32 * 1024 * 1024)
    }).pipe(Effect.scoped))

  it.effect.prop("a counter reducer keeps its invariant for any action sequence", [Schema.Array(Schema.Int.pipe(Schema.between(-5, 5)))], ([ns]) =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState, reducer })
      for (const n of ns) yield* store.send({ _tag: "Add", n })
      expect((yield* store.state).total).toBe(ns.reduce((a, b) => a + b, 0))
    }).pipe(Effect.scoped))
})
