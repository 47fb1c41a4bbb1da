import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope, Stream } from "effect"
import { EventLog, type LogSubscriber } from "../../src/internal/eventLog.js"
import { SseClient } from "../../src/internal/sseClient.js"
import { StateFeed } from "../../src/internal/stateFeed.js"
import { Reducer, Store } from "../../src/index.js"
import { settle } from "../core/helpers.js"

const counter = Reducer.fromState((n: number, _: "inc") => n + 1)

/** A subscriber that records the ids of every batch it is given, and whether it was ended. */
const recorder = () => {
  const batches: Array<ReadonlyArray<number>> = []
  const subscriber: LogSubscriber<"inc"> & { ended: boolean } = {
    ended: false,
    deliver: (batch) => void batches.push(batch.events.map((event) => event.id)),
    end: () => void (subscriber.ended = true)
  }
  return { batches, ids: () => batches.flat(), subscriber }
}

describe("EventLog", () => {
  it.scoped("events reduced between two flushes reach every subscriber as one shared batch", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: 0, reducer: counter })
      const log = yield* EventLog.make(store, { replay: 4 })
      const a = recorder()
      const b = recorder()
      const shared: Array<unknown> = []
      log.subscribe({ _tag: "Fresh" }, a.subscriber)
      log.subscribe({ _tag: "Fresh" }, { deliver: (batch) => void shared.push(batch), end: () => undefined })
      log.subscribe({ _tag: "Fresh" }, { deliver: (batch) => void shared.push(batch), end: () => undefined })
      log.subscribe({ _tag: "Fresh" }, b.subscriber)
      // Three sends with no yield between: one flush carries them all.
      for (let i = 0; i < 3; i++) yield* store.send("inc")
      yield* settle
      expect(a.batches).toEqual([[1, 2, 3]])
      expect(b.batches).toEqual([[1, 2, 3]])
      // The same object, so a route encodes it once for all its clients.
      expect(shared[0]).toBe(shared[1])
    }))

  it.scoped("a resumed subscriber gets the replay buffer at once, then live events, each id once", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: 0, reducer: counter })
      const log = yield* EventLog.make(store, { replay: 4 })
      for (let i = 0; i < 6; i++) yield* store.send("inc")
      yield* settle
      const resumed = recorder()
      log.subscribe(log.resume(3), resumed.subscriber)
      // Delivered while subscribing: the events after 3 still kept.
      expect(resumed.ids()).toEqual([4, 5, 6])
      // Older than the buffer (it keeps 4): 1 is gone, so the events start at 3.
      const old = recorder()
      log.subscribe(log.resume(1), old.subscriber)
      expect(old.ids()).toEqual([3, 4, 5, 6])
      yield* store.send("inc")
      yield* settle
      expect(resumed.ids()).toEqual([4, 5, 6, 7])
      expect(old.ids()).toEqual([3, 4, 5, 6, 7])
      expect(log.resume(99)).toEqual({ _tag: "Unknown", latest: 7 })
    }))

  it.scoped("a subscriber resuming from an id not yet flushed gets only the events after it", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: 0, reducer: counter })
      const log = yield* EventLog.make(store, { replay: 10 })
      const live = recorder()
      log.subscribe({ _tag: "Fresh" }, live.subscriber)
      // Reduced, numbered 1..3, not flushed yet: a client told id 2 (a POST's answer) resumes after it.
      for (let i = 0; i < 3; i++) yield* store.send("inc")
      const late = recorder()
      log.subscribe(log.resume(2), late.subscriber)
      yield* settle
      expect(live.ids()).toEqual([1, 2, 3])
      expect(late.ids()).toEqual([3])
    }))

  it.scoped("a subscriber that throws is let go; the others go on", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: 0, reducer: counter })
      const log = yield* EventLog.make(store, { replay: 0 })
      let calls = 0
      log.subscribe({ _tag: "Fresh" }, {
        deliver: () => {
          calls++
          throw new Error("boom")
        },
        end: () => undefined
      })
      const ok = recorder()
      log.subscribe({ _tag: "Fresh" }, ok.subscriber)
      yield* store.send("inc")
      yield* settle
      yield* store.send("inc")
      yield* settle
      expect(calls).toBe(1)
      expect(ok.ids()).toEqual([1, 2])
    }))

  it.scoped("on shutdown, what was reduced reaches every subscriber, then each is ended; later ones end at once", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: 0, reducer: counter })
      const log = yield* EventLog.make(store, { replay: 10 })
      const a = recorder()
      log.subscribe({ _tag: "Fresh" }, a.subscriber)
      yield* store.send("inc")
      yield* store.send("inc")
      yield* store.shutdown()
      expect(a.ids()).toEqual([1, 2])
      expect(a.subscriber.ended).toBe(true)
      expect(log.ended).toBe(true)
      const late = recorder()
      log.subscribe(log.resume(0), late.subscriber)
      expect(late.subscriber.ended).toBe(true)
      expect(late.ids()).toEqual([])
    }))

  it.scoped("unsubscribing stops delivery", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: 0, reducer: counter })
      const log = yield* EventLog.make(store, { replay: 0 })
      const a = recorder()
      const unsubscribe = log.subscribe({ _tag: "Fresh" }, a.subscriber)
      yield* store.send("inc")
      yield* settle
      unsubscribe()
      yield* store.send("inc")
      yield* settle
      expect(a.ids()).toEqual([1])
    }))
})

/**
 * A store served from elsewhere (a cluster entity's client, say) whose streams take forever to be
 * interrupted: a client stream to a runner that is gone, whose interruption waits on that runner.
 */
const hangingRemote = {
  state: Effect.succeed(0),
  changes: Stream.concat(Stream.succeed(0), Stream.fromEffect(Effect.never.pipe(Effect.onInterrupt(() => Effect.never)))),
  subscribe: () => Effect.succeed(Stream.fromEffect(Effect.never.pipe(Effect.onInterrupt(() => Effect.never))))
} as unknown as Store.Store<number, "inc">

describe("EventLog and StateFeed of a store served from elsewhere", () => {
  it.live("end their clients when their scope closes, even while the store's streams are still being interrupted", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      let ended = false
      const log = yield* Scope.extend(EventLog.make(hangingRemote, { replay: 4, onEnd: () => (ended = true) }), scope)
      const reader = recorder()
      log.subscribe({ _tag: "Fresh" }, reader.subscriber)
      const feed = yield* Scope.extend(StateFeed.make(hangingRemote, (n) => `data: ${n}\n\n`), scope)
      const client = new SseClient(1, () => feed.caughtUp(client))
      const clientEnded = new Promise<void>((done) => client.once("end", done))
      client.resume()
      feed.add(client, "", "")
      // Closing waits for the streams' interruption, which never ends: it is left running.
      yield* Effect.forkDaemon(Scope.close(scope, Exit.void))
      yield* Effect.promise(() => clientEnded).pipe(Effect.timeout("2 seconds"))
      expect([ended, reader.subscriber.ended]).toEqual([true, true])
    }))
})
