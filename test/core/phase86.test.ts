import { describe, expect, it } from "@effect/vitest"
import { Effect, pipe, Schedule, Stream, TestClock } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Fx, Reducer, Store, StoreMetrics } from "../../src/index.js"
import { ThrottleWindows } from "../../src/internal/throttle.js"
import { counter, settle, uniqueLabel } from "./helpers.js"

type Action =
  | { readonly _tag: "Run"; readonly fx: Fx.Fx<Action> }
  | { readonly _tag: "Item"; readonly v: string | number }
  | { readonly _tag: "Batch"; readonly items: ReadonlyArray<number> }
  | { readonly _tag: "TimedOut" }

const Run = (fx: Fx.Fx<Action>): Action => ({ _tag: "Run", fx })
const Item = (v: string | number): Action => ({ _tag: "Item", v })
const TimedOut: Action = { _tag: "TimedOut" }

/** The state is the log of what was reduced, with the TestClock time of each entry. */
type State = ReadonlyArray<string>

const makeStore = (label = uniqueLabel("p86")) =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const reducer = Reducer.make((log: State, action: Action) => {
      const at = `@${clock.unsafeCurrentTimeMillis()}`
      switch (action._tag) {
        case "Run":
          return [log, action.fx]
        case "Item":
          return [[...log, `${action.v}${at}`], Fx.none]
        case "Batch":
          return [[...log, `[${action.items.join(",")}]${at}`], Fx.none]
        case "TimedOut":
          return [[...log, `timeout${at}`], Fx.none]
      }
    })
    return yield* Store.make({ initialState: [] as State, reducer, label })
  })

/** Items every `every`, forever, starting after the first interval. */
const ticking = (prefix: string, every: Duration) =>
  Stream.iterate(1, (n) => n + 1).pipe(Stream.schedule(Schedule.spaced(every)), Stream.map((n) => Item(`${prefix}${n}`)))
type Duration = "10 millis" | "20 millis"

describe("cancellation", () => {
  it.scoped("a cancel in the very next action wins even before the effect's fiber started", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("cancel-before-start")
      const store = yield* makeStore(label)
      const task = yield* store.send(Run(Fx.cancellable(Fx.stream(Stream.make(Item(1), Item(2))), "x")))
      yield* store.send(Run(Fx.cancel("x")))
      yield* task.finish
      yield* settle
      expect(yield* store.state).toEqual([])
      expect(yield* counter(StoreMetrics.effectsCancelled, label)).toBe(1)
    }))

  it.scoped("cancelling a running stream: no item is reduced after the cancel", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      const task = yield* store.send(Run(Fx.cancellable(Fx.stream(ticking("t", "10 millis")), "stream")))
      yield* settle
      yield* TestClock.adjust("25 millis")
      yield* store.send(Run(Fx.cancel("stream")))
      yield* TestClock.adjust("100 millis")
      expect(yield* store.state).toEqual(["t1@10", "t2@20"])
      expect(yield* task.isRunning).toBe(false)
    }))

  it.scoped("cancelInFlight under rapid re-sends: only the last effect's actions arrive", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      const reply = (name: string) =>
        Fx.cancellable(Fx.stream(Stream.make(Item(`${name}1`), Item(`${name}2`)).pipe(Stream.schedule(Schedule.spaced("10 millis")))), "reply", {
          cancelInFlight: true
        })
      for (const name of ["a", "b", "c"]) yield* store.send(Run(reply(name)))
      yield* settle
      yield* TestClock.adjust("50 millis")
      expect(yield* store.state).toEqual(["c1@10", "c2@20"])
    }))

  it.scoped("a cancellable nested in a timeout and a parallel is cancelled by the next action; its sibling goes on", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      yield* store.send(Run(Fx.parallel(
        Fx.timeout(Fx.cancellable(Fx.stream(ticking("a", "10 millis")), "a"), "1 second"),
        Fx.stream(ticking("b", "20 millis").pipe(Stream.take(2)))
      )))
      yield* store.send(Run(Fx.cancel("a")))
      yield* settle
      yield* TestClock.adjust("100 millis")
      expect(yield* store.state).toEqual(["b1@20", "b2@40"])
    }))

  it.scoped("a cancellable inside a rate limit, a batch or an idle timeout: nothing it produced is reduced after the cancel", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      const numbers = (id: string) => Fx.stream(Stream.make(1, 2, 3, 4, 5).pipe(Stream.map((n) => Item(`${id}${n}`))))
      // Items wait in the rate limit's and the batch's buffers; cancelling must reach them there too.
      yield* store.send(Run(pipe(numbers("r"), Fx.cancellable("r"), Fx.rateLimit({ units: 1, per: "1 second" }))))
      yield* store.send(Run(pipe(numbers("b"), Fx.cancellable("b"), Fx.rateLimit({ units: 1, per: "1 second" }), Fx.batch({ size: 10, within: "10 seconds", toAction: (items) => Item(`batch of ${items.length}`) }))))
      yield* store.send(Run(pipe(numbers("i"), Fx.cancellable("i"), Fx.rateLimit({ units: 1, per: "1 second" }), Fx.idleTimeout("1 minute"))))
      yield* settle
      yield* TestClock.adjust("1500 millis")
      yield* store.send(Run(Fx.parallel(Fx.cancel("r"), Fx.cancel("b"), Fx.cancel("i"))))
      yield* TestClock.adjust("1 minute")
      // Two items each passed the limit before the cancel (the batch holds its own until its window ends).
      expect([...(yield* store.state)].sort()).toEqual(["i1@0", "i2@1000", "r1@0", "r2@1000"])
    }))

  it.scoped("one cancellable value used twice leaves nothing registered once both uses end", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("dup-node")
      const store = yield* makeStore(label)
      const node = Fx.cancellable(Fx.send(Item("x")), "dup")
      yield* Effect.flatMap(store.send(Run(Fx.timeout(Fx.parallel(node, node), "1 second"))), (task) => task.finish)
      expect(yield* store.state).toEqual(["x@0", "x@0"])
      // Nothing runs under "dup" any more, so cancelling it cancels nothing (a leaked handle would count).
      yield* Effect.flatMap(store.send(Run(Fx.cancel("dup"))), (task) => task.finish)
      expect(yield* counter(StoreMetrics.effectsCancelled, label)).toBe(0)
    }))

  it.scoped("two stores using the same id never cancel each other", () =>
    Effect.gen(function*() {
      const one = yield* makeStore()
      const two = yield* makeStore()
      yield* one.send(Run(Fx.cancellable(Fx.stream(ticking("one", "10 millis").pipe(Stream.take(2))), "shared")))
      yield* two.send(Run(Fx.cancel("shared")))
      yield* settle
      yield* TestClock.adjust("20 millis")
      expect(yield* one.state).toEqual(["one1@10", "one2@20"])
    }))

  it.effect("shutdown and scope close cancel every cancellable effect", () =>
    Effect.gen(function*() {
      let task: Store.Task | undefined
      yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* makeStore()
        task = yield* store.send(Run(Fx.cancellable(Fx.stream(ticking("x", "10 millis")), "forever")))
        yield* settle
      }))
      expect(yield* task!.isRunning).toBe(false)
      yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* makeStore()
        const running = yield* store.send(Run(Fx.cancellable(Fx.stream(ticking("y", "10 millis")), "forever")))
        const shutdown = yield* Effect.fork(store.shutdown({ timeout: "50 millis" }))
        yield* settle
        yield* TestClock.adjust("50 millis")
        const error = yield* Effect.flip(shutdown.await.pipe(Effect.flatten))
        expect(error.remaining).toBe(1)
        expect(yield* running.isRunning).toBe(false)
      }))
    }))
})

describe("timeouts", () => {
  it.scoped("Fx.timeout ends an infinite stream at the deadline and reduces onTimeout then", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("timeout")
      const store = yield* makeStore(label)
      const task = yield* store.send(Run(Fx.timeout(Fx.stream(ticking("t", "10 millis")), "35 millis", { onTimeout: TimedOut })))
      yield* settle
      yield* TestClock.adjust("35 millis")
      yield* task.finish
      expect(yield* store.state).toEqual(["t1@10", "t2@20", "t3@30", "timeout@35"])
      expect(yield* counter(StoreMetrics.effectsTimedOut, label)).toBe(1)
    }))

  it.scoped("Fx.idleTimeout ends a stalled stream, but not an active one", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      const stalls = Stream.concat(ticking("s", "10 millis").pipe(Stream.take(2)), Stream.never)
      const stalled = yield* store.send(Run(Fx.idleTimeout(Fx.stream(stalls), "15 millis", { onTimeout: TimedOut })))
      const active = yield* store.send(Run(Fx.idleTimeout(Fx.stream(ticking("a", "10 millis").pipe(Stream.take(4))), "15 millis", { onTimeout: TimedOut })))
      yield* settle
      yield* TestClock.adjust("100 millis")
      yield* stalled.finish
      yield* active.finish
      const log = yield* store.state
      // Items of the two streams at the same instant may interleave either way; each stream's own log is exact.
      expect(log.filter((e) => !e.startsWith("a"))).toEqual(["s1@10", "s2@20", "timeout@35"])
      expect(log.filter((e) => e.startsWith("a"))).toEqual(["a1@10", "a2@20", "a3@30", "a4@40"])
    }))
})

describe("batching and rate limiting", () => {
  const batchOf = (items: ReadonlyArray<number>) => ({ _tag: "Batch", items }) as const

  it.scoped("Fx.batch groups by size and delivers the final partial group", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      const task = yield* store.send(Run(Fx.batch(Fx.stream(Stream.range(1, 7)), { size: 3, within: "1 second", toAction: batchOf })))
      yield* task.finish
      expect(yield* store.state).toEqual(["[1,2,3]@0", "[4,5,6]@0", "[7]@0"])
    }))

  it.scoped("Fx.batch flushes what arrived within the window while the stream pauses", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      const paused = Stream.concat(Stream.make(1, 2), Stream.fromEffect(Effect.as(Effect.sleep("100 millis"), 3)))
      const task = yield* store.send(Run(Fx.batch(Fx.stream(paused), { size: 10, within: "25 millis", toAction: batchOf })))
      yield* settle
      yield* TestClock.adjust("30 millis")
      expect(yield* store.state).toEqual(["[1,2]@25"])
      yield* TestClock.adjust("70 millis")
      yield* task.finish
      expect(yield* store.state).toEqual(["[1,2]@25", "[3]@100"])
    }))

  it.scoped("Fx.rateLimit \"shape\" spaces the items of a single multi-item chunk, per item", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      const oneChunk = Stream.make(1, 2, 3, 4).pipe(Stream.map(Item))
      const task = yield* store.send(Run(Fx.rateLimit(Fx.stream(oneChunk), { units: 1, per: "10 millis" })))
      yield* settle
      yield* TestClock.adjust("30 millis")
      yield* task.finish
      expect(yield* store.state).toEqual(["1@0", "2@10", "3@20", "4@30"])
    }))

  it.scoped("Fx.rateLimit \"enforce\" drops the excess and counts it", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("enforce")
      const store = yield* makeStore(label)
      const task = yield* store.send(Run(Fx.rateLimit(Fx.stream(Stream.make(1, 2, 3, 4, 5).pipe(Stream.map(Item))), {
        units: 2,
        per: "1 second",
        strategy: "enforce"
      })))
      yield* task.finish
      expect(yield* store.state).toEqual(["1@0", "2@0"])
      expect(yield* counter(StoreMetrics.streamItemsDropped, label)).toBe(3)
    }))
})

describe("debounce and throttle", () => {
  /** An autosave of `n`, throttled under "save" to once a second (with `latest`, the last of a window runs at its end). */
  const save = (n: number, options?: { readonly latest: boolean }) =>
    Run(pipe(Fx.send(Item(n)), Fx.throttle("save", "1 second", options)))

  it.scoped("Fx.debounce: only the last effect of a burst runs, `duration` after it", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      const search = (q: string) => Run(pipe(Fx.send(Item(q)), Fx.debounce("search", "300 millis")))
      yield* store.send(search("a"))
      yield* TestClock.adjust("100 millis")
      yield* store.send(search("ab"))
      yield* TestClock.adjust("100 millis")
      yield* store.send(search("abc"))
      yield* TestClock.adjust("299 millis")
      expect(yield* store.state).toEqual([])
      yield* TestClock.adjust("1 millis")
      expect(yield* store.state).toEqual(["abc@500"])
    }))

  it.scoped("Fx.debounce: a new debounce cancels the effect a previous one already started", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      // A search that streams a result every 100 ms once it starts.
      const search = (q: string) =>
        Run(pipe(
          Fx.stream(Stream.range(1, 50).pipe(Stream.tap(() => Effect.sleep("100 millis")), Stream.map((n) => Item(`${q}${n}`)))),
          Fx.debounce("search", "300 millis")
        ))
      yield* store.send(search("a")) // starts at 300: a1 at 400, a2 at 500
      yield* settle
      yield* TestClock.adjust("550 millis")
      yield* store.send(search("ab")) // at 550: "a" stops now; "ab" starts at 850
      yield* settle
      yield* TestClock.adjust("500 millis")
      expect(yield* store.state).toEqual(["a1@400", "a2@500", "ab1@950", "ab2@1050"])
    }))

  it.scoped("Fx.debounce around a cancelInFlight search: a running search goes on until the debounced one starts", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      // A search streams a result every 100 ms; a new search under the same id replaces the running one.
      const results = (q: string) => Fx.stream(Stream.range(1, 50).pipe(Stream.tap(() => Effect.sleep("100 millis")), Stream.map((n) => Item(`${q}${n}`))))
      const search = (q: string) => pipe(results(q), Fx.cancellable("search", { cancelInFlight: true }))
      yield* store.send(Run(search("a"))) // submitted at once: a1 at 100, a2 at 200
      yield* settle
      yield* TestClock.adjust("200 millis")
      yield* store.send(Run(pipe(search("ab"), Fx.debounce("typing", "250 millis")))) // typed: starts at 450
      yield* settle
      yield* TestClock.adjust("250 millis") // "a" goes on until "ab" replaces it: a3, a4
      yield* TestClock.adjust("200 millis") // then only "ab": ab1 at 550, ab2 at 650
      expect(yield* store.state).toEqual(["a1@100", "a2@200", "a3@300", "a4@400", "ab1@550", "ab2@650"])
    }))

  it.scoped("Fx.throttle: the first effect of a window runs at once, the others are dropped", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      yield* store.send(save(1))
      yield* TestClock.adjust("100 millis")
      yield* store.send(save(2))
      yield* TestClock.adjust("900 millis")
      yield* store.send(save(3))
      expect(yield* store.state).toEqual(["1@0", "3@1000"])
    }))

  it.scoped("Fx.throttle with latest: the last effect of the window runs when it ends", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      yield* store.send(save(1, { latest: true }))
      yield* TestClock.adjust("100 millis")
      yield* store.send(save(2, { latest: true }))
      yield* TestClock.adjust("100 millis")
      yield* store.send(save(3, { latest: true }))
      yield* TestClock.adjust("800 millis")
      expect(yield* store.state).toEqual(["1@0", "3@1000"])
    }))

  it.scoped("Fx.cancel(id) also cancels the effect a latest throttle holds for the end of its window", () =>
    Effect.gen(function*() {
      const store = yield* makeStore()
      yield* store.send(save(1, { latest: true }))
      yield* TestClock.adjust("100 millis")
      yield* store.send(save(2, { latest: true }))
      yield* store.send(Run(Fx.cancel("save")))
      yield* TestClock.adjust("2 seconds")
      expect(yield* store.state).toEqual(["1@0"])
    }))
})

describe("throttle windows", () => {
  it("ended windows are forgotten, so per-item throttle ids do not accumulate", () => {
    const windows = new ThrottleWindows()
    // 100 rounds of 1,000 new ids, each round after the previous round's windows ended.
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 1000; i++) windows.decide(`doc:${round}:${i}`, "1 second", false, round * 2000)
    }
    expect(windows.size).toBeLessThan(5000)
    // A window that has not ended is kept: the same id is still throttled.
    expect(windows.decide("doc:99:0", "1 second", false, 99 * 2000 + 500)._tag).toBe("Drop")
  })
})

describe("no hand-written timers", () => {
  it("src/ uses neither setTimeout nor setInterval", () => {
    const offenders: Array<string> = []
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name)
        if (entry.isDirectory()) walk(file)
        else if (/setTimeout|setInterval/.test(fs.readFileSync(file, "utf8"))) offenders.push(file)
      }
    }
    walk(path.resolve(__dirname, "../../src"))
    expect(offenders).toEqual([])
  })
})

