import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Data, Duration, Effect, Equal, Exit, Fiber, Hash, Logger, Stream, TestClock } from "effect"
import { Fx, Reducer, Store, StoreError, StoreMetrics } from "../../src/index.js"
import { TestStore } from "../../src/testing.js"
import { counter, record, settle, uniqueLabel } from "./helpers.js"

// Crashes and lost work: whatever a reducer returns, a bug in it is reported and the store goes on.

/** A cancellation id whose `Hash` throws: the store's cancel registry hashes it while reducing. */
const badId = { [Hash.symbol]: () => { throw new Error("bad hash") }, [Equal.symbol]: () => false }

type Action =
  | { readonly _tag: "Go"; readonly fx: Fx.Fx<Action> }
  | { readonly _tag: "Log"; readonly v: string }
const Go = (fx: Fx.Fx<Action>): Action => ({ _tag: "Go", fx })
const Log = (v: string): Action => ({ _tag: "Log", v })

/** `Go` records `go` and runs the effect it carries; `Log` records its value. */
const reducer = Reducer.make((log: ReadonlyArray<string>, action: Action): readonly [ReadonlyArray<string>, Fx.Fx<Action>] =>
  action._tag === "Go" ? [[...log, "go"], action.fx] : [[...log, action.v], Fx.none]
)

/** Runs `body` with every log line the program (and the stores it makes) writes collected in `logs`. */
const withLogs = <X, E, R>(body: (logs: ReadonlyArray<string>) => Effect.Effect<X, E, R>) => {
  const logs: Array<string> = []
  const logger = Logger.make(({ cause, message }) => {
    logs.push(`${Array.isArray(message) ? message.join(" ") : String(message)} ${Cause.isEmpty(cause) ? "" : Cause.pretty(cause)}`)
  })
  return Effect.provide(body(logs), Logger.replace(Logger.defaultLogger, logger))
}

describe("starting a returned effect", () => {
  it.scoped("a throw while starting it is a reducer defect: state kept, reported, and the queue goes on", () =>
    withLogs((logs) =>
      Effect.gen(function*() {
        const label = uniqueLabel("start-throws")
        const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer, label })
        const recorder = yield* record(store)
        // `bad` is queued between `a` and `c` in one drain: only its own reduction is undone.
        const bad = Go(Fx.cancellable(Fx.delay("1 second", Log("late")), badId))
        const sent = yield* Effect.exit(store.send(Go(Fx.send(Log("a"), bad, Log("c")))))
        expect(Exit.isSuccess(sent)).toBe(true)
        expect(yield* store.state).toEqual(["go", "a", "c"])
        // Not broadcast either, as a reducer that threw.
        expect((yield* recorder.seen).map((a) => a._tag === "Log" ? a.v : a._tag)).toEqual(["Go", "a", "c"])
        expect(yield* counter(StoreMetrics.reducerDefects, label)).toBe(1)
        yield* settle
        expect(logs.some((line) => line.includes(`store "${label}"`) && line.includes("bad hash"))).toBe(true)
        expect(yield* counter(StoreMetrics.effectDefects, label)).toBe(0)
      })
    ))

  it.scoped("what the failing effect had started before the throw is undone: its actions, fibers and ids", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("start-undo")
      const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer, label })
      const task = yield* store.send(Go(Fx.parallel(
        Fx.send(Log("sent")),
        Fx.future(Effect.succeed(Log("now"))),
        Fx.delay("1 second", Log("later")),
        Fx.cancellable(Fx.stream(Stream.never), "job"),
        // "outer" is registered, then the id inside it throws before any fiber runs it.
        Fx.cancellable(Fx.cancellable(Fx.send(Log("under bad id")), badId), "outer"),
        Fx.send(Log("never"))
      )))
      expect(yield* store.state).toEqual([])
      yield* settle
      expect(yield* task.isRunning).toBe(false)
      yield* TestClock.adjust("1 second")
      expect(yield* store.state).toEqual([])
      // Both ids were released: a cancel under them finds nothing.
      yield* store.send(Go(Fx.parallel(Fx.cancel("job"), Fx.cancel("outer"))))
      expect(yield* counter(StoreMetrics.effectsCancelled, label)).toBe(0)
      // The store goes on as usual.
      yield* store.send(Go(Fx.cancellable(Fx.delay("1 second", Log("job")), "job")))
      yield* TestClock.adjust("1 second")
      expect(yield* store.state).toEqual(["go", "go", "job"])
    }))

  it.scoped("a Data id nested too deep to hash is one too", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("start-deep-id")
      let deep: unknown = Data.struct({ leaf: 1 })
      for (let i = 0; i < 20_000; i++) deep = Data.struct({ next: deep })
      const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer, label })
      yield* store.send(Go(Fx.parallel(Fx.send(Log("a")), Fx.cancel(deep))))
      yield* store.send(Log("b"))
      expect(yield* store.state).toEqual(["b"])
      expect(yield* counter(StoreMetrics.reducerDefects, label)).toBe(1)
    }))

  it.scoped("a throw while a fiber starts a later step is a defect of that effect: reported, the next steps run", () =>
    withLogs((logs) =>
      Effect.gen(function*() {
        const label = uniqueLabel("step-throws")
        const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer, label })
        // A cancel and a throttle hash their id when their step starts (a cancellable, even in a later step,
        // is registered while the action is reduced: a bad id there is a reducer defect, tested below).
        const task = yield* store.send(Go(Fx.sequential(
          Fx.send(Log("a")),
          Fx.cancel(badId),
          Fx.throttle(Fx.send(Log("b")), badId, "1 second"),
          Fx.delay("1 second", Log("c"))
        )))
        yield* settle
        yield* TestClock.adjust("1 second")
        yield* task.finish
        expect(yield* store.state).toEqual(["go", "a", "c"])
        expect(yield* counter(StoreMetrics.effectDefects, label)).toBe(2)
        expect(logs.filter((line) => line.includes(`store "${label}"`) && line.includes("bad hash")).length).toBe(2)
      })
    ))

  it.scoped("a cancellable in a later step registers while its action is reduced: a bad id there is a reducer defect", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("later-step-bad-id")
      const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer, label })
      yield* store.send(Go(Fx.sequential(Fx.send(Log("a")), Fx.cancellable(Fx.send(Log("b")), badId))))
      yield* settle
      expect(yield* store.state).toEqual([])
      expect(yield* counter(StoreMetrics.reducerDefects, label)).toBe(1)
    }))

  it.scoped("the TestStore fails the step as for a reducer that threw", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState: [] as ReadonlyArray<string>, reducer })
      const sent = yield* Effect.either(store.send(Go(Fx.parallel(Fx.send(Log("a")), Fx.cancel(badId)))))
      expect(sent._tag === "Left" && sent.left.reason).toBe("ReducerDefect")
      expect(yield* store.received).toEqual([])
      expect(yield* store.state).toEqual([])
    }))
})

describe("a malformed node inside an Fx", () => {
  // What a cast past the types can put in an `Fx`: not an `Fx` at all.
  const malformed = [{}, null, undefined, "x", 42] as unknown as ReadonlyArray<Fx.Fx<Action>>

  it.scoped("is reported as a reducer defect, and the valid nodes around it run", () =>
    withLogs((logs) =>
      Effect.gen(function*() {
        const label = uniqueLabel("malformed")
        const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer, label })
        for (const node of malformed) {
          const task = yield* store.send(Go(Fx.sequential(Fx.send(Log("x")), node, Fx.send(Log("y")))))
          yield* task.finish
        }
        expect(yield* store.state).toEqual(malformed.flatMap(() => ["go", "x", "y"]))
        expect(yield* counter(StoreMetrics.reducerDefects, label)).toBe(malformed.length)
        yield* settle
        expect(logs.filter((line) => line.includes(`store "${label}"`) && line.includes("not an Fx")).length).toBe(
          malformed.length
        )
      })
    ))

  it.scoped("wherever it is: started with the action, in a fiber, under a combinator, mapped by a parent", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("malformed-anywhere")
      const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer, label })
      const bad = {} as Fx.Fx<Action>
      const fxs: ReadonlyArray<Fx.Fx<Action>> = [
        Fx.parallel(Fx.send(Log("a")), bad, Fx.send(Log("b"))),
        Fx.cancellable(Fx.parallel(bad, Fx.send(Log("c"))), "id"),
        Fx.sequential(Fx.delay("1 second", Log("d")), bad, Fx.send(Log("e"))),
        Fx.batch(Fx.parallel(Fx.send(Log("f")), bad), { size: 10, within: "1 second", toAction: (items) => Log(items.map((a) => a._tag === "Log" ? a.v : "").join("+")) }),
        Fx.timeout(Fx.parallel(bad, Fx.delay("1 second", Log("g"))), "1 minute"),
        Fx.map(Fx.parallel(Fx.send("h"), bad as unknown as Fx.Fx<string>), Log)
      ]
      for (const fx of fxs) {
        const task = yield* store.send(Go(fx))
        yield* settle
        yield* TestClock.adjust("1 second")
        yield* task.finish
      }
      const logged = (yield* store.state).filter((v) => v !== "go")
      expect(logged).toEqual(["a", "b", "c", "d", "e", "f", "g", "h"])
      expect(yield* counter(StoreMetrics.reducerDefects, label)).toBe(fxs.length)
      expect(yield* counter(StoreMetrics.effectDefects, label)).toBe(0)
    }))

  it.scoped("the TestStore fails the step, naming the defect", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState: [] as ReadonlyArray<string>, reducer })
      const sent = yield* Effect.either(store.send(Go(Fx.parallel(Fx.send(Log("a")), {} as Fx.Fx<Action>))))
      expect(sent._tag === "Left" && sent.left.reason).toBe("ReducerDefect")
      expect(sent._tag === "Left" && sent.left.message).toContain("not an Fx")
      yield* store.skipReceivedActions()
    }))
})

describe("shutdown", () => {
  it.scoped("ends every sendAndWaitFor at once, while in-flight effects still drain", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer, label: uniqueLabel("wait-shutdown") })
      // A long effect keeps the drain going; the answer the wait expects would only come at its end.
      const wait = yield* Effect.fork(store.sendAndWaitFor(
        Go(Fx.delay("1 hour", Log("answer"))),
        (a) => a._tag === "Log" && a.v === "answer",
        { timeout: "2 hours" }
      ))
      yield* settle
      expect(wait.unsafePoll()).toBeNull()
      const shutdown = yield* Effect.fork(store.shutdown({ timeout: "3 hours" }))
      yield* settle
      // No clock adjustment: the wait ended when shutdown began, not when the drain will end.
      const ended = wait.unsafePoll()
      expect(ended !== null && Exit.isFailure(ended) && Cause.squash(ended.cause)).toBeInstanceOf(StoreError.StoreShutdownError)
      expect(shutdown.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 hour")
      expect(Exit.isSuccess(yield* Fiber.await(shutdown))).toBe(true)
      expect(yield* store.state).toEqual(["go", "answer"])
    }))

  it.scoped("a wait that starts after shutdown began fails at once, before sending", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer, label: uniqueLabel("wait-after") })
      yield* store.send(Go(Fx.delay("1 hour", Log("late"))))
      yield* Effect.fork(store.shutdown({ timeout: "3 hours" }))
      yield* settle
      const waited = yield* Effect.exit(store.sendAndWaitFor(Log("x"), () => true, { timeout: "2 hours" }))
      expect(Exit.isFailure(waited) && Cause.squash(waited.cause)).toBeInstanceOf(StoreError.StoreShutdownError)
      expect(yield* store.state).toEqual(["go"])
    }))
})

describe("numbers and durations are checked where they are given", () => {
  const source = Fx.send(Log("x"))
  // Effect reads NaN as zero, and throws on "soon" only where the duration is used.
  const notDurations = [Number.NaN, [Number.NaN, 0], "soon", {}] as unknown as ReadonlyArray<Duration.DurationInput>

  it("every Fx duration: a RangeError where the Fx is built", () => {
    const builders: ReadonlyArray<readonly [string, (d: Duration.DurationInput) => unknown]> = [
      ["Fx.delay: duration", (d) => Fx.delay(d, Log("x"))],
      ["Fx.timeout: duration", (d) => Fx.timeout(source, d)],
      ["Fx.idleTimeout: duration", (d) => Fx.idleTimeout(source, d)],
      ["Fx.debounce: duration", (d) => Fx.debounce(source, "id", d)],
      ["Fx.throttle: duration", (d) => Fx.throttle(source, "id", d)],
      ["Fx.batch: within", (d) => Fx.batch(source, { size: 2, within: d, toAction: (xs) => xs })],
      ["Fx.rateLimit: per", (d) => Fx.rateLimit(source, { units: 1, per: d })]
    ]
    for (const [what, build] of builders) {
      for (const d of notDurations) expect(() => build(d), `${what} ${String(d)}`).toThrow(RangeError)
      expect(() => build(Number.NaN)).toThrow(new RangeError(`${what} must be a ${what === "Fx.rateLimit: per" ? "positive, finite " : ""}Duration, got NaN`))
      expect(() => build("1 second")).not.toThrow()
      expect(() => build(Duration.millis(5))).not.toThrow()
    }
    // Zero, negative (read as zero) and infinite durations are durations...
    for (const d of [0, -1, Infinity, "0 millis"] as const) expect(() => Fx.timeout(source, d)).not.toThrow()
    // ...but not a rate's period: 0 would drop almost every item under "enforce", Infinity never refill.
    for (const d of [0, -1, Infinity, "0 millis"] as const) {
      expect(() => Fx.rateLimit(source, { units: 1, per: d, strategy: "enforce" })).toThrow(RangeError)
    }
  })

  it.scoped("a throttle duration cast past its type is a reducer defect: the previous state is kept", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("throttle-cast")
      const throttled = Reducer.make((n: number, action: string): readonly [number, Fx.Fx<string>] =>
        action === "save" ? [n + 1, Fx.throttle(Fx.send("saved"), "autosave", "soon" as Duration.DurationInput)] : [n + 10, Fx.none]
      )
      const store = yield* Store.make({ initialState: 0, reducer: throttled, label })
      yield* store.send("save")
      yield* store.send("other")
      expect(yield* store.state).toBe(10)
      expect(yield* counter(StoreMetrics.reducerDefects, label)).toBe(1)
    }))

  it.scoped("a subscriber capacity that is not a positive integer: a RangeError where it is given", () =>
    Effect.gen(function*() {
      for (const capacity of [Number.NaN, 0, -1, 1.5, Infinity]) {
        expect(() => Store.make({ initialState: [] as ReadonlyArray<string>, reducer, subscriberCapacity: capacity })).toThrow(RangeError)
      }
      expect(() => Store.make({ initialState: [] as ReadonlyArray<string>, reducer, subscriberCapacity: Number.NaN })).toThrow(
        new RangeError("Store.make: subscriberCapacity must be a positive integer, got NaN")
      )
      expect(() => Store.make({ initialState: [] as ReadonlyArray<string>, reducer, subscriberOverflow: "bogus" as Store.Overflow })).toThrow(RangeError)
      const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer })
      expect(() => store.subscribe({ capacity: Number.NaN })).toThrow(
        new RangeError("store.subscribe: capacity must be a positive integer, got NaN")
      )
      expect(() => store.subscribe({ overflow: "bogus" as Store.Overflow })).toThrow(RangeError)
      // A capacity of 1 is a buffer of 1: with "dropping", the second of two unread actions is dropped.
      const one = yield* store.subscribe({ capacity: 1, overflow: "dropping" })
      yield* store.send(Log("a"))
      yield* store.send(Log("b"))
      yield* store.shutdown()
      expect(Chunk.toReadonlyArray(yield* Stream.runCollect(one))).toEqual([Log("a")])
    }))

  it.scoped("wait and shutdown timeouts: a RangeError before anything is sent or stopped", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer })
      expect(() => store.sendAndWaitFor(Log("x"), () => true, { timeout: Number.NaN })).toThrow(
        new RangeError("store.sendAndWaitFor: timeout must be a Duration, got NaN")
      )
      expect(() => store.shutdown({ timeout: "soon" as Duration.DurationInput })).toThrow(RangeError)
      // Nothing was sent, and the store still takes sends.
      yield* store.send(Log("y"))
      expect(yield* store.state).toEqual(["y"])
      expect(() => TestStore.make({ initialState: [] as ReadonlyArray<string>, reducer, receiveTimeout: Number.NaN })).toThrow(RangeError)
    }))

  it.scoped("sendAndWaitFor knows its own send's reduction, even for an action equal to nothing (NaN)", () =>
    Effect.gen(function*() {
      const pinged = Reducer.make((log: ReadonlyArray<string>, action: number | string): readonly [ReadonlyArray<string>, Fx.Fx<number | string>] =>
        typeof action === "number" ? [[...log, String(action)], Fx.send("pong")] : [[...log, action], Fx.none]
      )
      const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer: pinged })
      const wait = yield* Effect.fork(store.sendAndWaitFor(Number.NaN, (a) => a === "pong", { timeout: "1 second" }))
      yield* settle
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(wait)).toBe("pong")
      expect(yield* store.state).toEqual(["NaN", "pong"])
    }))
})
