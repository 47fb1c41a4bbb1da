import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Equal, Exit, Fiber, Hash, Option, Stream } from "effect"
import { Fx, Reducer, Store, StoreError, StoreMetrics } from "../../src/index.js"
import { SendEffect, type Sender } from "../../src/internal/send.js"
import { counter, settle, uniqueLabel } from "./helpers.js"

// `yield* store.send(action)` sends while the fiber advances its generator, without a trip through the run
// loop; these pin down that it is still an ordinary, lazy, fair, interruptible effect.

type Action =
  | { readonly _tag: "Add"; readonly n: number }
  | { readonly _tag: "AddTwice"; readonly n: number }
  | { readonly _tag: "Job"; readonly body: Effect.Effect<void> }
  | { readonly _tag: "StopJob" }
  | { readonly _tag: "CancelBy"; readonly id: unknown }

const add = (n: number): Action => ({ _tag: "Add", n })

const reducer = Reducer.make((total: number, action: Action) => {
  switch (action._tag) {
    case "Add":
      return [total + action.n, Fx.none]
    case "AddTwice":
      return [total + action.n, Fx.send(add(action.n))]
    case "CancelBy":
      return [total, Fx.cancel(action.id)]
    case "Job":
      return [total, Fx.cancellable(Fx.futureOption(Effect.as(action.body, Option.none())), "job")]
    case "StopJob":
      return [total, Fx.cancel("job")]
  }
})

describe("Store.send", () => {
  it.scoped("is lazy: making the effect sends nothing; each run of it sends once, yielded or not", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: 0, reducer, label: uniqueLabel("send-lazy") })
      const sendOne = store.send(add(1))
      expect(yield* store.state).toBe(0)
      yield* sendOne
      yield* sendOne
      const task = yield* Effect.flatMap(sendOne, (task) => Effect.succeed(task))
      expect(task.action).toEqual(add(1))
      expect(yield* store.state).toBe(3)
    }))

  it.scoped("yielded, a send that is done takes one step: the generator goes on without yielding to Effect", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: 0, reducer, label: uniqueLabel("send-step") })
      // What `yield* store.send(action)` does, by hand, on this fiber: its first step is its last.
      const step = store.send(add(1))[Symbol.iterator]().next(undefined as never)
      expect(step.done).toBe(true)
      expect((step.value as Store.Task).action).toEqual(add(1))
      expect(yield* store.state).toBe(1)
      // A send that cannot be done in place still yields its effect to the fiber (here, the refusal).
      yield* store.shutdown()
      expect(store.send(add(1))[Symbol.iterator]().next(undefined as never).done).toBe(false)
    }))

  it.scoped("a send that cancels a push source is done in place too: only an interruption of the sender needs the run loop", () =>
    Effect.gen(function*() {
      type Push = "Listen" | "Stop"
      let cleanups = 0
      const pushing = Reducer.make((n: number, action: Push): readonly [number, Fx.Fx<Push>] =>
        action === "Listen"
          ? [n + 1, Fx.cancellable(Fx.subscribe<Push>(() => Effect.succeed(() => void cleanups++)), "push")]
          : [n, Fx.cancel("push")]
      )
      const store = yield* Store.make({ initialState: 0, reducer: pushing, label: uniqueLabel("send-push-cancel") })
      yield* store.send("Listen")
      yield* settle // registered
      // The cancel runs the cleanup synchronously, and no fiber is interrupted: nothing for the run loop.
      const step = store.send("Stop")[Symbol.iterator]().next(undefined as never)
      expect(step.done).toBe(true)
      expect(cleanups).toBe(1)
    }))

  for (const [kind, action, reduced] of [["", add(1), 1], [" that each feed an action back", { _tag: "AddTwice", n: 1 } as const, 2]] as const) {
    it.scoped(`a tight loop of sends${kind} yields often enough for a subscriber to see every action`, () =>
      Effect.gen(function*() {
        const label = uniqueLabel("send-fair")
        const store = yield* Store.make({ initialState: 0, reducer, label })
        const actions = yield* store.subscribe({ capacity: 1024, overflow: "sliding" })
        const seen = yield* Effect.forkScoped(Stream.runCount(actions))
        yield* settle // the subscriber is waiting for its first action
        for (let i = 0; i < 20_000; i++) yield* store.send(action)
        yield* store.shutdown()
        expect(yield* store.state).toBe(20_000 * reduced)
        expect(yield* counter(StoreMetrics.broadcastDropped, label)).toBe(0)
        expect(yield* Fiber.join(seen)).toBe(20_000 * reduced)
      }))
  }

  it.scoped("a loop of sends over many stores yields as often as a loop over one", () =>
    Effect.gen(function*() {
      const stores = []
      for (let i = 0; i < 100; i++) stores.push(yield* Store.make({ initialState: 0, reducer, label: uniqueLabel("send-many") }))
      let turns = 0
      // `Effect.forever` yields after each round, so this counts the turns this fiber gets.
      yield* Effect.forkScoped(Effect.forever(Effect.sync(() => turns++)))
      yield* settle
      const before = turns
      for (let i = 0; i < 100_000; i++) yield* stores[i % 100]!.send(add(1))
      // 100,000 actions in turns of at most 512: the other fiber ran at least once per turn.
      expect(turns - before).toBeGreaterThanOrEqual(Math.floor(100_000 / 512))
    }))

  it.scoped("an effect whose send cancels it stops at that send: the code after it never runs", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: 0, reducer, label: uniqueLabel("send-self-cancel") })
      let ranOn = false
      const job = Effect.gen(function*() {
        // An effect's fiber starts inside the reduction that returned it; leave that reduction first, or
        // the send is only queued behind it.
        yield* Effect.yieldNow()
        yield* store.send({ _tag: "StopJob" })
        ranOn = true // plain code, which only the run loop's interruption check can stop
      }).pipe(Effect.orDie)
      const task = yield* store.send({ _tag: "Job", body: job })
      yield* task.finish
      expect(ranOn).toBe(false)
    }))

  it.scoped("an effect that never waits feeds its action back before send returns; one that waits, after", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: 0, reducer, label: uniqueLabel("send-immediate") })
      const addLater = Effect.gen(function*() {
        yield* Effect.yieldNow()
        yield* store.send(add(10))
      }).pipe(Effect.orDie)
      yield* store.send({ _tag: "Job", body: Effect.orDie(store.send(add(1))) })
      expect(yield* store.state).toBe(1)
      const task = yield* store.send({ _tag: "Job", body: addLater })
      expect(yield* store.state).toBe(1)
      yield* task.finish
      expect(yield* store.state).toBe(11)
    }))

  it.scoped("sends that effects make while the store is reducing are reduced in that same drain, every time", () =>
    Effect.gen(function*() {
      // Each Fan starts three effects that `yield*` a send as soon as they start, inside the reduction; the
      // test then sends Mark. Over many rounds the in-place yield budget runs out at every point, including
      // while Fan is being reduced: the log must still show the three Adds before each Mark.
      type Logged = "Fan" | "Add" | "Mark"
      let self: Store.Store<ReadonlyArray<Logged>, Logged> | undefined
      const sendAdd = Effect.gen(function*() {
        yield* self!.send("Add")
      }).pipe(Effect.orDie, Effect.as(Option.none<Logged>()))
      const logging = Reducer.make((log: ReadonlyArray<Logged>, action: Logged): readonly [ReadonlyArray<Logged>, Fx.Fx<Logged>] =>
        [[...log, action], action === "Fan" ? Fx.parallel(Fx.futureOption(sendAdd), Fx.futureOption(sendAdd), Fx.futureOption(sendAdd)) : Fx.none]
      )
      const store = yield* Store.make({ initialState: [] as ReadonlyArray<Logged>, reducer: logging, label: uniqueLabel("send-drain") })
      self = store
      const rounds = 1_100
      for (let round = 0; round < rounds; round++) {
        yield* Effect.asVoid(store.send("Fan")) // through the run loop: it does not reset the budget
        yield* store.send("Mark") // in place: it spends the budget
      }
      const log = yield* store.state
      expect(log.length).toBe(5 * rounds)
      const misplaced = log.findIndex((action, i) => action !== ["Fan", "Add", "Add", "Add", "Mark"][i % 5])
      expect(misplaced).toBe(-1)
    }))

  it.scoped("a reducer that returns something else than [state, fx] is a reducer defect: the store goes on", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("send-malformed")
      const broken = Reducer.make((total: number, action: Action) =>
        action._tag === "StopJob" ? undefined as unknown as readonly [number, Fx.Fx<Action>] : reducer(total, action)
      )
      const store = yield* Store.make({ initialState: 0, reducer: broken, label })
      yield* store.send({ _tag: "StopJob" })
      yield* Effect.asVoid(store.send({ _tag: "StopJob" }))
      yield* store.send(add(1))
      expect(yield* store.state).toBe(1)
      expect(yield* counter(StoreMetrics.reducerDefects, label)).toBe(2)
    }))

  it.scoped("a defect while sending fails the sender as a defect, yielded or not; it is not thrown into its generator", () =>
    Effect.gen(function*() {
      // The store turns every defect of the reducer, and of starting what it returned, into a report; a
      // sender that throws anyway stands for whatever is left (a bug in the store itself).
      const sender: Sender<Action> = {
        sendViaRunLoop: () => Effect.die(new Error("send bug")),
        sendInline: () => {
          throw new Error("send bug")
        }
      }
      let caught = false
      const yielded = yield* Effect.exit(Effect.gen(function*() {
        try {
          yield* new SendEffect(sender, add(1))
        } catch {
          caught = true
        }
      }))
      const run = yield* Effect.exit(Effect.asVoid(new SendEffect(sender, add(1))))
      expect(caught).toBe(false)
      for (const exit of [yielded, run]) expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
    }))

  it.scoped("a cancellation id whose hash throws is a reducer defect, not a defect of the send", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("send-bad-hash")
      const store = yield* Store.make({ initialState: 0, reducer, label })
      // The store's cancel registry hashes the id while reducing.
      const badId = { [Hash.symbol]: () => { throw new Error("bad hash") }, [Equal.symbol]: () => false }
      yield* store.send({ _tag: "CancelBy", id: badId })
      yield* Effect.asVoid(store.send({ _tag: "CancelBy", id: badId }))
      expect(yield* counter(StoreMetrics.reducerDefects, label)).toBe(2)
      yield* store.send(add(1))
      expect(yield* store.state).toBe(1)
    }))

  it.scoped("after shutdown a send fails with StoreShutdownError, yielded in a generator or run as an effect", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: 0, reducer, label: uniqueLabel("send-closed") })
      yield* store.shutdown()
      const yielded = yield* Effect.exit(Effect.gen(function*() {
        yield* store.send(add(1))
      }))
      const run = yield* Effect.exit(Effect.asVoid(store.send(add(1))))
      for (const exit of [yielded, run]) {
        expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error).toBeInstanceOf(
          StoreError.StoreShutdownError
        )
      }
      expect(yield* store.state).toBe(0)
    }))
})
