import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, PubSub, Queue, Stream, TestClock } from "effect"
import { EventEmitter } from "node:events"
import { Fx, Reducer, Store, StoreMetrics, TestStore } from "../../src/index.js"
import { counter, settle, uniqueLabel } from "../core/helpers.js"

/** A callback source the test drives by hand, counting what the store did to it. */
class Manual {
  listener: ((n: number) => void) | undefined
  end: (() => void) | undefined
  registrations = 0
  cleanups = 0
  pauses = 0
  resumes = 0
  fx(options?: { readonly pausable?: boolean; readonly bufferSize?: number; readonly overflow?: Fx.Overflow }): Fx.Fx<Action> {
    return Fx.subscribe<Action>((emit) =>
      Effect.sync((): Fx.Registration => {
        this.registrations++
        this.listener = (n) => emit({ _tag: "Item", n })
        this.end = emit.end
        return {
          cleanup: () => {
            this.cleanups++
            this.listener = undefined
          },
          ...(options?.pausable ? { pause: () => void this.pauses++, resume: () => void this.resumes++ } : {})
        }
      }), options)
  }
  emit(n: number) {
    this.listener?.(n)
  }
}

type Action =
  | { readonly _tag: "Listen"; readonly fx: Fx.Fx<Action> }
  | { readonly _tag: "Item"; readonly n: number }
  | { readonly _tag: "Stop" }
  | { readonly _tag: "Done" }

interface State {
  readonly items: ReadonlyArray<number>
  readonly done: boolean
}

const reducer = Reducer.make<State, Action>()((state, action) => {
  switch (action._tag) {
    case "Listen":
      return [state, action.fx]
    case "Item":
      return [{ ...state, items: [...state.items, action.n] }, Fx.none]
    case "Stop":
      return [state, Fx.cancel("source")]
    case "Done":
      return [{ ...state, done: true }, Fx.none]
  }
})

const makeStore = Store.make({ initialState: { items: [], done: false } as State, reducer })

/** The state right now, read without yielding: what `emit` reduced is there as soon as it returns. */
const now = <S>(store: Store.Store<S, any>): S => Effect.runSync(store.state)

describe("Fx.subscribe: a push source", () => {
  it.scoped("each emitted action is reduced at once, in the source's callback", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      const source = new Manual()
      const task = yield* store.send({ _tag: "Listen", fx: source.fx() })
      yield* settle
      expect(source.registrations).toBe(1)
      source.emit(1)
      // No yield in between: the reduction happened inside `emit`.
      expect(now(store).items).toEqual([1])
      source.emit(2)
      expect(now(store).items).toEqual([1, 2])
      expect(yield* task.isRunning).toBe(true)
    }))

  it.scoped("a cancel runs the cleanup synchronously; later emits are ignored", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      const source = new Manual()
      const task = yield* store.send({ _tag: "Listen", fx: Fx.cancellable(source.fx(), "source") })
      yield* settle
      source.emit(1)
      yield* store.send({ _tag: "Stop" })
      // Within the cancel's reduction: nothing to wait for.
      expect(source.cleanups).toBe(1)
      expect(yield* task.isRunning).toBe(false)
      const held = source
      held.emit(2)
      expect(now(store).items).toEqual([1])
    }))

  it.scoped("a cancel reduced before the registration ran means it never listens", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      const source = new Manual()
      const task = yield* store.send({ _tag: "Listen", fx: Fx.cancellable(source.fx(), "source") })
      yield* store.send({ _tag: "Stop" })
      yield* settle
      // Registered and cleaned up at once, or never registered: either way, not listening.
      expect(source.registrations).toBe(source.cleanups)
      expect(yield* task.isRunning).toBe(false)
    }))

  it.scoped("emit.end ends the effect: its task finishes and the next step of a sequence runs", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      const source = new Manual()
      const task = yield* store.send({ _tag: "Listen", fx: Fx.sequential(source.fx(), Fx.send({ _tag: "Done" })) })
      yield* settle
      source.emit(7)
      expect(yield* task.isRunning).toBe(true)
      source.end!()
      yield* task.finish
      expect(now(store)).toEqual({ items: [7], done: true })
      expect(source.cleanups).toBe(1)
    }))

  it.scoped("task.cancel and the store's shutdown run the cleanup", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      const a = new Manual()
      const b = new Manual()
      const task = yield* store.send({ _tag: "Listen", fx: a.fx() })
      yield* store.send({ _tag: "Listen", fx: b.fx() })
      yield* settle
      yield* task.cancel
      expect(a.cleanups).toBe(1)
      expect(b.cleanups).toBe(0)
      // Still listening when the time to drain is up: stopped.
      yield* Effect.exit(store.shutdown({ timeout: 0 }))
      expect(b.cleanups).toBe(1)
    }))

  it.scoped("a full backpressuring subscriber pauses a source that can pause, and resumes it with what it emitted meanwhile", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      const slow = yield* store.subscribe({ capacity: 2, overflow: "backpressure" })
      const pull = yield* Stream.toPull(slow)
      const source = new Manual()
      yield* store.send({ _tag: "Listen", fx: source.fx({ pausable: true }) })
      yield* pull // the Listen action
      yield* settle
      source.emit(1)
      source.emit(2) // the subscriber now holds 2: full
      expect(source.pauses).toBe(1)
      source.emit(3) // emitted anyway (a source may lag its pause): kept
      expect(now(store).items).toEqual([1, 2])
      yield* pull
      yield* settle
      expect(now(store).items).toEqual([1, 2, 3])
      expect(source.resumes).toBe(1)
    }))

  it.scoped("a source that cannot pause fills a bounded buffer that drops by its overflow policy", () =>
    Effect.gen(function*() {
      for (const [overflow, expected] of [["dropping", [1, 2, 3, 4]], ["sliding", [1, 2, 5, 6]]] as const) {
        const store = yield* makeStore
        const slow = yield* store.subscribe({ capacity: 2, overflow: "backpressure" })
        const pull = yield* Stream.toPull(slow)
        const source = new Manual()
        yield* store.send({ _tag: "Listen", fx: source.fx({ bufferSize: 2, overflow }) })
        yield* pull
        yield* settle
        for (let n = 1; n <= 6; n++) source.emit(n)
        expect(now(store).items).toEqual([1, 2])
        // Read everything from here on; the buffer drains as room comes.
        yield* Effect.forkScoped(Stream.runDrain(Stream.repeatEffectChunkOption(pull)))
        yield* settle
        expect(now(store).items).toEqual(expected)
      }
    }))

  it.scoped("every item a full buffer drops is counted in store.stream_items.dropped", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("subscribe-dropped")
      const store = yield* Store.make({ initialState: { items: [], done: false } as State, reducer, label })
      const slow = yield* store.subscribe({ capacity: 2, overflow: "backpressure" })
      const pull = yield* Stream.toPull(slow)
      const source = new Manual()
      yield* store.send({ _tag: "Listen", fx: source.fx({ bufferSize: 2 }) })
      yield* pull
      yield* settle
      // 1 and 2 fill the subscriber; 3 and 4 wait; 5 and 6 find the buffer full.
      for (let n = 1; n <= 6; n++) source.emit(n)
      expect(yield* counter(StoreMetrics.streamItemsDropped, label)).toBe(2)
    }))

  it.scoped("the registration is an Effect with its services, provided like any leaf", () =>
    Effect.gen(function*() {
      class Feed extends Context.Tag("test/Feed")<Feed, EventEmitter>() {}
      const emitter = new EventEmitter()
      const fromFeed = Fx.subscribe<Action, Feed>((emit) =>
        Effect.map(Feed, (feed) => {
          const on = (n: number) => emit({ _tag: "Item", n })
          feed.on("n", on)
          return () => feed.off("n", on)
        })
      )
      const store = yield* makeStore
      yield* store.send({ _tag: "Listen", fx: Fx.provideService(fromFeed, Feed, emitter) })
      yield* settle
      emitter.emit("n", 5)
      expect(now(store).items).toEqual([5])
      expect(emitter.listenerCount("n")).toBe(1)
      yield* Effect.exit(store.shutdown({ timeout: 0 }))
      expect(emitter.listenerCount("n")).toBe(0)
    }))

  it.scoped("a cleanup that throws is reported as the effect's defect; the store goes on", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("subscribe-defect")
      const store = yield* Store.make({ initialState: { items: [], done: false } as State, reducer, label })
      const fx = Fx.subscribe<Action>(() => Effect.succeed(() => {
        throw new Error("cleanup failed")
      }))
      yield* store.send({ _tag: "Listen", fx: Fx.cancellable(fx, "source") })
      yield* settle
      yield* store.send({ _tag: "Stop" })
      yield* settle
      expect(yield* counter(StoreMetrics.effectDefects, label)).toBe(1)
      yield* store.send({ _tag: "Item", n: 1 })
      expect(now(store).items).toEqual([1])
    }))

  it.scoped("inside a timeout, the source is stopped when the time is up", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      const source = new Manual()
      yield* store.send({ _tag: "Listen", fx: Fx.timeout(source.fx(), "1 second", { onTimeout: { _tag: "Done" } }) })
      yield* settle
      source.emit(1)
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(source.cleanups).toBe(1)
      source.emit(2)
      expect(now(store)).toEqual({ items: [1], done: true })
    }))

  it.scoped("inside an item combinator (Fx.batch) it feeds the combinator's stream", () =>
    Effect.gen(function*() {
      type BatchAction = { readonly _tag: "Start" } | { readonly _tag: "Got"; readonly ns: ReadonlyArray<number> }
      const emitter = new EventEmitter()
      const store = yield* Store.make({
        initialState: [] as ReadonlyArray<ReadonlyArray<number>>,
        reducer: Reducer.make<ReadonlyArray<ReadonlyArray<number>>, BatchAction>()((groups, action) =>
          action._tag === "Start"
            ? [groups, Fx.batch(Fx.fromEventEmitter(emitter, "n", (n: number) => n), { size: 2, within: "1 second", toAction: (ns) => ({ _tag: "Got", ns }) })]
            : [[...groups, action.ns], Fx.none])
      })
      yield* store.send({ _tag: "Start" })
      yield* settle
      for (const n of [1, 2, 3]) emitter.emit("n", n)
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(now(store)).toEqual([[1, 2], [3]])
    }))

  it.scoped("Fx.map and Fx.cancelNow-scoping keep the source a source", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      const emitter = new EventEmitter()
      const fx = Fx.map(Fx.fromEventEmitter(emitter, "n", (n: number) => n), (n): Action => ({ _tag: "Item", n: n * 10 }))
      expect(fx._tag).toBe("Subscribe")
      yield* store.send({ _tag: "Listen", fx })
      yield* settle
      emitter.emit("n", 4)
      expect(now(store).items).toEqual([40])
    }))
})

describe("Fx.subscribe helpers", () => {
  it.scoped("fromEventEmitter listens until its end event, then removes its listeners", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      const emitter = new EventEmitter()
      const task = yield* store.send({
        _tag: "Listen",
        fx: Fx.fromEventEmitter(emitter, "data", (n: number): Action => ({ _tag: "Item", n }), { end: "end" })
      })
      yield* settle
      emitter.emit("data", 1)
      emitter.emit("data", 2)
      emitter.emit("end")
      yield* task.finish
      expect(now(store).items).toEqual([1, 2])
      expect(emitter.listenerCount("data") + emitter.listenerCount("end")).toBe(0)
    }))

  it.scoped("fromEventTarget maps each event; a cancel removes the listener", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      const target = new EventTarget()
      yield* store.send({
        _tag: "Listen",
        fx: Fx.cancellable(Fx.fromEventTarget(target, "n", (event: CustomEvent<number>): Action => ({ _tag: "Item", n: event.detail })), "source")
      })
      yield* settle
      target.dispatchEvent(new CustomEvent("n", { detail: 3 }))
      yield* store.send({ _tag: "Stop" })
      target.dispatchEvent(new CustomEvent("n", { detail: 4 }))
      expect(now(store).items).toEqual([3])
    }))

  it.scoped("fromWebSocket maps messages and ends with the close", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      // The WHATWG event surface every WebSocket has.
      const socket = new EventTarget()
      const task = yield* store.send({
        _tag: "Listen",
        fx: Fx.fromWebSocket(socket, {
          onMessage: (data): Action => ({ _tag: "Item", n: Number(data) }),
          onClose: (): Action => ({ _tag: "Done" })
        })
      })
      yield* settle
      socket.dispatchEvent(new MessageEvent("message", { data: "8" }))
      socket.dispatchEvent(Object.assign(new Event("close"), { code: 1000, reason: "" }))
      yield* task.finish
      expect(now(store)).toEqual({ items: [8], done: true })
    }))

  it.scoped("fromQueue reduces what is offered until the queue shuts down", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      const queue = yield* Queue.unbounded<number>()
      const task = yield* store.send({ _tag: "Listen", fx: Fx.fromQueue(queue, (n): Action => ({ _tag: "Item", n })) })
      yield* Queue.offerAll(queue, [1, 2, 3])
      yield* settle
      expect(now(store).items).toEqual([1, 2, 3])
      yield* Queue.shutdown(queue)
      yield* task.finish
    }))

  it.scoped("fromPubSub gets what is published after it starts; a cancel unsubscribes", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      const pubsub = yield* PubSub.unbounded<number>()
      const task = yield* store.send({ _tag: "Listen", fx: Fx.cancellable(Fx.fromPubSub(pubsub, (n): Action => ({ _tag: "Item", n })), "source") })
      yield* settle
      yield* PubSub.publish(pubsub, 1)
      yield* settle
      expect(now(store).items).toEqual([1])
      yield* store.send({ _tag: "Stop" })
      yield* settle
      expect(yield* PubSub.size(pubsub)).toBe(0)
      yield* PubSub.publish(pubsub, 2)
      yield* settle
      expect(now(store).items).toEqual([1])
      expect(yield* task.isRunning).toBe(false)
    }))

  it("a bufferSize that is not a positive integer, or an unknown overflow, is a RangeError where the Fx is built", () => {
    expect(() => Fx.subscribe(() => Effect.void, { bufferSize: 0 })).toThrow(RangeError)
    expect(() => Fx.subscribe(() => Effect.void, { overflow: "backpressure" as never })).toThrow(RangeError)
  })
})

describe("Fx.subscribe under the TestStore", () => {
  it.scoped("emitted actions are received as they arrive; a source still listening at finish is reported and stopped; skipping it with interrupt stops it", () =>
    Effect.gen(function*() {
      const source = new Manual()
      const store = yield* TestStore.make({ initialState: { items: [], done: false } as State, reducer })
      yield* store.send({ _tag: "Listen", fx: source.fx() })
      source.emit(1)
      yield* store.receive({ _tag: "Item", n: 1 }, { items: [1], done: false })
      // Still listening: finish fails, and (as for any effect) interrupts it, which runs its cleanup.
      const error = yield* Effect.flip(store.finish({ timeout: "10 millis" }))
      expect(error.reason).toBe("EffectsStillRunning")
      expect(source.cleanups).toBe(1)
      const again = new Manual()
      yield* store.send({ _tag: "Listen", fx: again.fx() })
      yield* store.skipInFlightEffects({ interrupt: true })
      expect(again.cleanups).toBe(1)
    }))
})
