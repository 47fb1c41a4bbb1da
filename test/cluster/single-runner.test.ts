/**
 * Issue 18 on one machine: the store entity on the cluster's single runner, everything in one SQLite
 * file. The behaviours of the keyed-store host, reached through the entity's client; and what the
 * cluster adds: stores restored when a runner starts again, released when it stops.
 *
 * These run on the real clock: the cluster's runner polls its storage on timers of its own.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Layer, Option, Ref, Scope, Stream } from "effect"
import { Persistence } from "../../src/index.js"
import { StoreEntity } from "../../src/cluster.js"
import { PersistenceSql } from "../../src/sql.js"
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

/** What is stored for `id` in the file, read by a process that is not a runner. */
const stored = (filename: string, id: string) =>
  Effect.flatMap(Persistence.Persistence, (p) => p.load({ host: "Notes", id })).pipe(
    Effect.provide(PersistenceSql.layer().pipe(Layer.provide(SqliteClient.layer({ filename }))))
  )

describe("StoreEntity on a single runner (SQLite)", () => {
  it.live("send is answered once reduced; state reads it; ids are separate stores", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabase
      const [a, b] = yield* onRunner(file, (notes) =>
        Effect.gen(function*() {
          yield* notes("a").send(add("one"))
          yield* notes("a").send(add("two"))
          yield* notes("b").send(add("three"))
          // Refused where called: the cluster's ids are trimmed (one that is not would fail every send), and
          // subscribe options are checked as `Store.subscribe` checks them.
          for (const id of ["", " a", "a\n", "x".repeat(513)]) expect(() => notes(id)).toThrow(RangeError)
          expect(() => notes("a").subscribe({ capacity: 0 })).toThrow(RangeError)
          expect(() => notes("a").subscribe({ overflow: "sometimes" as never })).toThrow(RangeError)
          return [yield* notes("a").state, yield* notes("b").state]
        }))
      expect(sent(a)).toEqual(["one", "two"])
      expect(sent(b)).toEqual(["three"])
    }).pipe(Effect.scoped), 60_000)

  it.live("subscribe listens once it succeeds: every action sent after it, and those its effects feed back, in order", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabase
      const seen = yield* onRunner(file, (notes) =>
        Effect.gen(function*() {
          const store = notes("s")
          const actions = yield* store.subscribe()
          const reading = yield* Effect.fork(Stream.runCollect(Stream.take(actions, 4)))
          yield* store.send(add("x"))
          yield* store.send(add("y"))
          return Chunk.toArray(yield* Fiber.join(reading))
        }))
      expect(seen.filter((a) => a._tag === "Add")).toEqual([add("x"), add("y")])
      expect(seen.filter((a) => a._tag === "Echo")).toEqual([{ _tag: "Echo", note: "echo:x" }, { _tag: "Echo", note: "echo:y" }])
    }).pipe(Effect.scoped), 60_000)

  it.live("changes gives the state now, then each change", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabase
      const states = yield* onRunner(file, (notes) =>
        Effect.gen(function*() {
          const store = notes("c")
          yield* store.send({ _tag: "Ping" })
          const pull = yield* Stream.toPull(store.changes)
          const now = yield* pull
          yield* store.send(add("after"))
          const next = yield* pull
          return [...now, ...next].map(sent)
        }))
      expect(states[0]).toEqual([])
      expect(states.slice(1)).toContainEqual(["after"])
    }).pipe(Effect.scoped), 60_000)

  it.live("sendAndWaitFor answers with the first matching action after its own send, or a WaitTimeoutError", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabase
      const [echo, timedOut] = yield* onRunner(file, (notes) =>
        Effect.gen(function*() {
          const store = notes("w")
          // An equal action reduced just before is not its own: the wait starts after its send.
          yield* store.send(add("same"))
          const echo = yield* store.sendAndWaitFor(add("same"), (a) => a._tag === "Echo", { timeout: "10 seconds" })
          const timedOut = yield* Effect.flip(store.sendAndWaitFor({ _tag: "Ping" }, (a) => a._tag === "Stop", { timeout: "300 millis" }))
          return [echo, timedOut] as const
        }))
      expect(echo).toEqual({ _tag: "Echo", note: "echo:same" })
      expect(timedOut._tag).toBe("WaitTimeoutError")
      expect(timedOut.message).toBe('store "Notes/w": no matching action within 300 millis')
    }).pipe(Effect.scoped), 60_000)

  it.live("a runner stopped and started again on the same file restores every store, and reduces its restored action", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabase
      yield* onRunner(file, (notes) =>
        Effect.forEach(["r1", "r2"], (id) => Effect.zipRight(notes(id).send(add(`${id}-a`)), notes(id).send(add(`${id}-b`)))))
      // Stopping released both stores: their last snapshots are written.
      for (const id of ["r1", "r2"]) {
        const { snapshot } = yield* stored(file, id)
        expect(Option.map(snapshot, (s) => sent(JSON.parse(s.state)))).toEqual(Option.some([`${id}-a`, `${id}-b`]))
      }
      const [r1, r2] = yield* onRunner(file, (notes) => Effect.all([notes("r1").state, notes("r2").state]))
      expect([sent(r1), sent(r2)]).toEqual([["r1-a", "r1-b"], ["r2-a", "r2-b"]])
      expect([r1.restored, r2.restored]).toEqual([1, 1])
    }).pipe(Effect.scoped), 60_000)

  it.live("a store whose stored state does not restore answers EntityStoreError RestoreFailed, naming no data", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabase
      yield* Effect.flatMap(Persistence.Persistence, (p) =>
        p.commit({ journal: [{ host: "Notes", id: "bad", seq: 1, version: 1, action: `{"_tag":"Add","note":42}` }], snapshots: [] })).pipe(
          Effect.provide(PersistenceSql.layer().pipe(Layer.provide(SqliteClient.layer({ filename: file }))))
        )
      const [sendError, stateError, good] = yield* onRunner(file, (notes) =>
        Effect.all([Effect.flip(notes("bad").send(add("x"))), Effect.flip(notes("bad").state), notes("good").state]))
      expect(sendError).toEqual(new StoreEntity.EntityStoreError({ entityType: "Notes", id: "bad", reason: "RestoreFailed" }))
      expect(stateError.message).toBe('store "Notes/bad": its stored state does not restore')
      expect(sent(good)).toEqual([])
    }).pipe(Effect.scoped), 60_000)

  it.live("1,000 sends over 100 ids from 10 fibers all land, each once", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabase
      const ids = Array.from({ length: 100 }, (_, i) => `id-${i}`)
      const states = yield* onRunner(file, (notes) =>
        Effect.gen(function*() {
          yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => i), (round) =>
            Effect.forEach(ids, (id) => notes(id).send(add(String(round))), { concurrency: 10, discard: true }), { discard: true })
          return yield* Effect.forEach(ids, (id) => notes(id).state, { concurrency: 10 })
        }))
      for (const state of states) expect(sent(state)).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"])
    }).pipe(Effect.scoped), 120_000)

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
