/**
 * What every keyed-store host must do, whichever runs the stores: a `StoreHost` in this process
 * (test/host/store-host.test.ts) or `StoreEntity` on a cluster's runner (test/cluster/single-runner.test.ts).
 * Each gives a harness that runs a body with one store per id of the notes feature (test/host/fixture.ts)
 * on a SQLite file, and stops them (their last snapshots written) when the body ends; the same tests then
 * run on both.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, type Duration, Effect, Fiber, Option, type Predicate, type Scope, Stream } from "effect"
import { Persistence } from "../../src/index.js"
import type { Action, State } from "./fixture.js"
import { sent, sqlitePersistence, stored, tempDatabase } from "./sqlite.js"

/** One store of the notes feature, as a host's or an entity's client reaches it. */
export interface KeyedStore {
  send(action: Action): Effect.Effect<unknown, unknown>
  readonly state: Effect.Effect<State, unknown>
  subscribe(): Effect.Effect<Stream.Stream<Action, unknown>, unknown, Scope.Scope>
  readonly changes: Stream.Stream<State, unknown>
  sendAndWaitFor(action: Action, predicate: Predicate.Predicate<Action>, options: { readonly timeout: Duration.DurationInput }): Effect.Effect<Action, unknown>
}

export interface Harness {
  /** What runs the stores, for the tests' names. */
  readonly name: string
  /** The name the stores are kept under in `Persistence` (and their labels start with). */
  readonly hostName: string
  /** Runs `body` with the stores on the SQLite file `filename`; they are stopped when it ends. */
  readonly run: <A, E>(filename: string, body: (stores: (id: string) => KeyedStore) => Effect.Effect<A, E, Scope.Scope>) => Effect.Effect<A, E>
  /** Whether `error` is this host's way of saying a store's stored rows do not restore. */
  readonly isRestoreFailure: (error: unknown) => boolean
}

const add = (note: string): Action => ({ _tag: "Add", note })

/** The keyed-store tests, on `harness`. They run on the real clock: a cluster's runner has timers of its own. */
export const keyedStoreContract = (harness: Harness): void => {
  const { hostName, run } = harness

  describe(`${harness.name}: keyed stores`, () => {
    it.live("send is answered once reduced; state reads it; ids are separate stores", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabase
        const [a, b] = yield* run(file, (stores) =>
          Effect.gen(function*() {
            yield* stores("a").send(add("one"))
            yield* stores("a").send(add("two"))
            yield* stores("b").send(add("three"))
            return [yield* stores("a").state, yield* stores("b").state]
          }))
        expect(sent(a)).toEqual(["one", "two"])
        expect(sent(b)).toEqual(["three"])
      }).pipe(Effect.scoped), 60_000)

    it.live("subscribe listens once it succeeds: every action sent after it, and those its effects feed back, in order", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabase
        const seen = yield* run(file, (stores) =>
          Effect.gen(function*() {
            const store = stores("s")
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
        const states = yield* run(file, (stores) =>
          Effect.gen(function*() {
            const store = stores("c")
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
        const [echo, timedOut] = yield* run(file, (stores) =>
          Effect.gen(function*() {
            const store = stores("w")
            // An equal action reduced just before is not its own: the wait starts after its send.
            yield* store.send(add("same"))
            const echo = yield* store.sendAndWaitFor(add("same"), (a) => a._tag === "Echo", { timeout: "10 seconds" })
            const timedOut = yield* Effect.flip(store.sendAndWaitFor({ _tag: "Ping" }, (a) => a._tag === "Stop", { timeout: "300 millis" }))
            return [echo, timedOut as { readonly _tag: string; readonly message: string }] as const
          }))
        expect(echo).toEqual({ _tag: "Echo", note: "echo:same" })
        expect(timedOut._tag).toBe("WaitTimeoutError")
        expect(timedOut.message).toBe(`store "${hostName}/w": no matching action within 300 millis`)
      }).pipe(Effect.scoped), 60_000)

    it.live("stopped and started again on the same file, every store is restored, and its restored action reduced", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabase
        yield* run(file, (stores) =>
          Effect.forEach(["r1", "r2"], (id) => Effect.zipRight(stores(id).send(add(`${id}-a`)), stores(id).send(add(`${id}-b`)))))
        // Stopping wrote both stores' last snapshots.
        for (const id of ["r1", "r2"]) {
          const { snapshot } = yield* stored(file, hostName, id)
          expect(Option.map(snapshot, (s) => sent(JSON.parse(s.state)))).toEqual(Option.some([`${id}-a`, `${id}-b`]))
        }
        const [r1, r2] = yield* run(file, (stores) => Effect.all([stores("r1").state, stores("r2").state]))
        expect([sent(r1), sent(r2)]).toEqual([["r1-a", "r1-b"], ["r2-a", "r2-b"]])
        expect([r1.restored, r2.restored]).toEqual([1, 1])
      }).pipe(Effect.scoped), 60_000)

    it.live("a store whose stored rows do not decode fails to restore, naming none of the data; the others go on", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabase
        yield* Effect.flatMap(Persistence.Persistence, (p) =>
          p.commit({ journal: [{ host: hostName, id: "bad", seq: 1, version: 1, action: `{"_tag":"Add","note":4242}` }], snapshots: [] })).pipe(
            Effect.provide(sqlitePersistence(file))
          )
        const [sendError, stateError, good] = yield* run(file, (stores) =>
          Effect.all([Effect.flip(stores("bad").send(add("x"))), Effect.flip(stores("bad").state), stores("good").state]))
        for (const error of [sendError, stateError]) {
          expect(harness.isRestoreFailure(error)).toBe(true)
          expect((error as Error).message).not.toContain("4242")
        }
        expect(sent(good)).toEqual([])
      }).pipe(Effect.scoped), 60_000)

    it.live("1,000 sends over 100 ids from 10 fibers all land, each once", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabase
        const ids = Array.from({ length: 100 }, (_, i) => `id-${i}`)
        const states = yield* run(file, (stores) =>
          Effect.gen(function*() {
            yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => i), (round) =>
              Effect.forEach(ids, (id) => stores(id).send(add(String(round))), { concurrency: 10, discard: true }), { discard: true })
            return yield* Effect.forEach(ids, (id) => stores(id).state, { concurrency: 10 })
          }))
        for (const state of states) expect(sent(state)).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"])
      }).pipe(Effect.scoped), 120_000)
  })
}
