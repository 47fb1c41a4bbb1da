/**
 * Issue 18 on one machine: the store entity on the cluster's single runner, everything in one SQLite
 * file. The keyed-store host's tests (test/host/contract.ts), reached through the entity's client; and
 * what the cluster adds: passivation by the cluster, defects as typed answers, streams ended when the
 * runner stops.
 *
 * These run on the real clock: the cluster's runner polls its storage on timers of its own.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Ref, Scope, Stream } from "effect"
import { StoreEntity } from "../../src/cluster.js"
import * as Contract from "../host/contract.js"
import * as Sqlite from "../host/sqlite.js"
import { type Action, initialState, makeReducer } from "../host/fixture.js"
import { Notes, runner, sent, tempDatabase } from "./fixture.js"

const add = (note: string): Action => ({ _tag: "Add", note })

/** Runs `body` with a client of `Notes` on a runner of the file, the runner stopped afterwards. */
const onRunner = <A, E>(
  filename: string,
  body: (notes: (id: string) => StoreEntity.Client<typeof Notes.state.Type, Action>) => Effect.Effect<A, E, any>,
  options?: Parameters<typeof runner>[1]
) =>
  Effect.scoped(Effect.flatMap(StoreEntity.client(Notes, { timeout: "20 seconds" }), body)).pipe(
    Effect.provide(runner(filename, options))
  ) as Effect.Effect<A, E>

const stored = (filename: string, id: string) => Sqlite.stored(filename, "Notes", id)

// The keyed-store host's tests, through the entity's client.
Contract.keyedStoreContract({
  name: "StoreEntity on a single runner (SQLite)",
  hostName: "Notes",
  run: (file, body) => onRunner(file, body),
  isRestoreFailure: (error) => error instanceof StoreEntity.EntityStoreError && error.reason === "RestoreFailed"
})

describe("StoreEntity on a single runner (SQLite)", () => {
  it.live("ids and subscribe options are refused where given, as a RangeError", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabase
      yield* onRunner(file, (notes) =>
        Effect.sync(() => {
          // The cluster's ids are trimmed (one that is not would fail every send), and subscribe options
          // are checked as `Store.subscribe` checks them.
          for (const id of ["", " a", "a\n", "x".repeat(513)]) expect(() => notes(id)).toThrow(RangeError)
          expect(() => notes("a").subscribe({ capacity: 0 })).toThrow(RangeError)
          expect(() => notes("a").subscribe({ overflow: "sometimes" as never })).toThrow(RangeError)
        }))
    }).pipe(Effect.scoped), 60_000)

  it.live("a store running an effect is not passivated while idle; one that runs none is, with its snapshot written", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabase
      const [busy, idle] = yield* onRunner(file, (notes) =>
        Effect.gen(function*() {
          yield* notes("busy").send({ _tag: "Slow" })
          yield* notes("idle").send(add("kept"))
          // Past the reaper's period (5 s at least) and twice the idle time.
          yield* Effect.sleep("6500 millis")
          return yield* Effect.all([stored(file, "busy"), stored(file, "idle")])
        }), { maxIdleTime: "1 second", shutdownTimeout: "100 millis" })
      // The busy store is still resident (no snapshot yet); the idle one was passivated and snapshotted.
      expect(Option.isNone(busy.snapshot)).toBe(true)
      expect(Option.map(idle.snapshot, (s) => sent(JSON.parse(s.state)))).toEqual(Option.some(["kept"]))
    }).pipe(Effect.scoped), 60_000)

  it.live("a store whose activation throws answers EntityStoreError Defect, and its runner still stops at once", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabase
      const [error, good] = yield* onRunner(file, (notes) => Effect.all([Effect.flip(notes("bad").state), notes("good").state]), {
        initialState: (id) => {
          if (id === "bad") throw new Error("initialState threw")
          return initialState()
        }
      }).pipe(Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error("the runner did not stop") }))
      expect(error).toEqual(new StoreEntity.EntityStoreError({ entityType: "Notes", id: "bad", reason: "Defect" }))
      expect(sent(good)).toEqual([])
    }).pipe(Effect.scoped), 60_000)

  it.live("an action the reducer throws on is answered EntityStoreError ReducerDefect, not acknowledged", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabase
      const reducer = makeReducer(Effect.runSync(Ref.make(0)))
      const [error, after] = yield* onRunner(file, (notes) =>
        Effect.all([Effect.flip(notes("r").send(add("boom"))), Effect.zipRight(notes("r").send(add("fine")), notes("r").state)]), {
        reducer: (state, action) => {
          if (action._tag === "Add" && action.note === "boom") throw new Error("the reducer threw")
          return reducer(state, action)
        }
      })
      expect(error).toEqual(new StoreEntity.EntityStoreError({ entityType: "Notes", id: "r", reason: "ReducerDefect" }))
      expect(sent(after)).toEqual(["fine"])
    }).pipe(Effect.scoped), 60_000)

  it.live("a runner stops without waiting for the streams its stores serve: open changes and subscriptions end", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabase
      const ended = yield* onRunner(file, (notes) =>
        Effect.gen(function*() {
          const changes = yield* Effect.forkDaemon(Stream.runDrain(notes("s").changes))
          const subscription = yield* notes("s").subscribe()
          const subscribed = yield* Effect.forkDaemon(Stream.runDrain(subscription))
          yield* notes("s").send(add("x"))
          return [changes, subscribed] as const
        })).pipe(
          // The cluster would wait its entityTerminationTimeout (15 s) for requests still running.
          Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("the runner waited for its streams") })
        )
      yield* Effect.forEach(ended, (fiber) => Fiber.await(fiber).pipe(Effect.timeout("10 seconds")), { discard: true })
    }).pipe(Effect.scoped), 60_000)

  it.live("a subscription's stream ends when the scope it was opened in closes, as a local store's does", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabase
      const exit = yield* onRunner(file, (notes) =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          const actions = yield* Scope.extend(notes("s").subscribe(), scope)
          const reading = yield* Effect.forkDaemon(Stream.runDrain(actions))
          yield* notes("s").send(add("x"))
          yield* Scope.close(scope, Exit.void)
          return yield* Fiber.await(reading).pipe(Effect.timeout("5 seconds"))
        }))
      expect(Exit.isExit(exit)).toBe(true)
    }).pipe(Effect.scoped), 60_000)

  it("bad arguments are refused where given: an empty type or id, or a bad option, is a RangeError", () => {
    expect(() => StoreEntity.make("", { state: Notes.state, actions: Notes.actions })).toThrow(RangeError)
    expect(() => StoreEntity.layer(Notes, { initialState: () => ({ notes: [], restored: 0 }), reducer: null as never, maxIdleTime: "soon" as never }))
      .toThrow(RangeError)
    const options = { initialState, reducer: makeReducer(Effect.runSync(Ref.make(0))) }
    expect(() => StoreEntity.layer(Notes, { ...options, persistence: { version: 0 } })).toThrow(RangeError)
    expect(() => StoreEntity.layer(Notes, { ...options, subscriberCapacity: -1 })).toThrow(RangeError)
    expect(() => StoreEntity.layer(Notes, { ...options, mailboxCapacity: 0 })).toThrow(RangeError)
    expect(Exit.isFailure(Effect.runSyncExit(Effect.suspend(() => StoreEntity.client(Notes, { timeout: -1 as never }) as never)))).toBe(true)
  })
})
