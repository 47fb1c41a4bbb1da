/**
 * What a cluster entity needs of a host (`StoreEntity`): keyed sends reduced once however often their
 * request is delivered, acknowledged only once committed, and a release that passivates a store in use.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Option, Ref, Scope, TestClock } from "effect"
import { Persistence, StoreHost } from "../../src/index.js"
import type { HostImpl } from "../../src/internal/host.js"
import { Action, Gate, initialState, makeReducer, memoryBackend, State } from "./fixture.js"

const notes = (
  backend: Persistence.Persistence["Type"],
  journal?: "all"
) =>
  Effect.gen(function*() {
    const effectsRun = yield* Ref.make(0)
    const host = yield* StoreHost.make({
      name: "notes",
      // As StoreEntity runs its host: the cluster decides when a store is passivated.
      idleTimeout: Duration.infinity,
      initialState,
      reducer: makeReducer(effectsRun),
      persistence: { state: State, actions: Action, restored: { _tag: "Restored" }, journal }
    }).pipe(Effect.provideService(Persistence.Persistence, backend))
    return host as HostImpl<State, Action, never>
  })

const add = (note: string): Action => ({ _tag: "Add", note })

/** Moves the TestClock on a second at a time until `fiber` ends (at most a simulated hour), then joins it. */
const untilDone = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 3600 && Option.isNone(yield* Fiber.poll(fiber)); i++) yield* TestClock.adjust(Duration.seconds(1))
    return yield* Fiber.join(fiber)
  })

/** A host's life in a scope of its own: closing it is the process stopping (its last snapshots written). */
const life = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => Effect.scoped(effect)

describe("StoreHost.sendOnce (for StoreEntity)", () => {
  it.scoped("a request delivered twice is reduced once; both deliveries succeed", () =>
    Effect.gen(function*() {
      const host = yield* notes(yield* memoryBackend)
      yield* host.sendOnce("s", add("a"), "k1")
      yield* host.sendOnce("s", add("a"), "k1")
      yield* host.sendOnce("s", add("b"), "k2")
      const state = yield* host.state("s")
      expect(state.notes.filter((n) => !n.startsWith("echo:"))).toEqual(["a", "b"])
    }))

  it.scoped("it succeeds only once its journal entry is committed, whatever the durability, and so does a repeat", () =>
    Effect.gen(function*() {
      const gate = yield* Gate.make
      const host = yield* notes(gate.backend(yield* memoryBackend))
      yield* gate.close
      const first = yield* Effect.fork(host.sendOnce("s", add("a"), "k1"))
      const again = yield* Effect.fork(host.sendOnce("s", add("a"), "k1"))
      yield* TestClock.adjust(Duration.seconds(1))
      expect(Option.isNone(yield* Fiber.poll(first))).toBe(true)
      expect(Option.isNone(yield* Fiber.poll(again))).toBe(true)
      yield* gate.open
      yield* Fiber.join(first)
      yield* Fiber.join(again)
      expect((yield* host.state("s")).notes.filter((n) => n === "a")).toEqual(["a"])
    }))

  it.effect("the key is journaled with the action it carried (not with what its effects fed back), and restored", () =>
    Effect.gen(function*() {
      const backend = yield* memoryBackend
      yield* life(Effect.gen(function*() {
        const host = yield* notes(backend)
        yield* host.sendOnce("s", add("a"), "k1")
        yield* host.sendOnce("s", { _tag: "Ping" }, "k2")
        yield* host.send("s", add("plain"))
      }).pipe(Effect.zipLeft(Effect.void)))
      const stored = yield* backend.load({ host: "notes", id: "s" })
      // The last snapshot (written when the host stopped) carries the keys; the journal it covered is gone.
      expect(Option.map(stored.snapshot, (s) => s.keys)).toEqual(Option.some(["k1", "k2"]))
      // A new process: both requests delivered again are recognised; a new one is reduced.
      yield* life(Effect.gen(function*() {
        const host = yield* notes(backend)
        yield* host.sendOnce("s", add("a"), "k1")
        yield* host.sendOnce("s", { _tag: "Ping" }, "k2")
        yield* host.sendOnce("s", add("c"), "k3")
        expect((yield* host.state("s")).notes.filter((n) => !n.startsWith("echo:"))).toEqual(["a", "plain", "c"])
      }))
    }))

  it.effect("keys in the journal after the snapshot are restored too; only the keyed entry carries its key", () =>
    Effect.gen(function*() {
      const backend = yield* memoryBackend
      // A process that dies: its scope never closes, so it writes no last snapshot.
      const dead = yield* Scope.make()
      yield* Effect.gen(function*() {
        const host = yield* notes(backend)
        yield* host.sendOnce("s", add("a"), "k1")
        yield* host.send("s", add("b"))
        yield* host.sendOnce("s", { _tag: "Ping" }, "k2")
      }).pipe(Scope.extend(dead))
      const stored = yield* backend.load({ host: "notes", id: "s" })
      expect(Option.isNone(stored.snapshot)).toBe(true)
      expect(stored.journal.map((e) => [JSON.parse(e.action)._tag, e.key])).toEqual([
        ["Add", "k1"],
        ["Add", undefined],
        ["Ping", "k2"]
      ])
      yield* life(Effect.gen(function*() {
        const host = yield* notes(backend)
        yield* host.sendOnce("s", add("a"), "k1")
        yield* host.sendOnce("s", { _tag: "Ping" }, "k2")
        expect((yield* host.state("s")).notes.filter((n) => !n.startsWith("echo:"))).toEqual(["a", "b"])
      }))
    }))

  it.effect("with every action journaled, what the keyed action's effects feed back is journaled without its key", () =>
    Effect.gen(function*() {
      const backend = yield* memoryBackend
      const dead = yield* Scope.make()
      yield* Effect.gen(function*() {
        const host = yield* notes(backend, "all")
        yield* host.sendOnce("s", add("a"), "k1")
        // The effect's Echo arrives after the send is answered, and is committed with the next send.
        for (let i = 0; i < 100 && !(yield* host.state("s")).notes.includes("echo:a"); i++) yield* Effect.yieldNow()
        yield* host.sendOnce("s", { _tag: "Ping" }, "k2")
      }).pipe(Scope.extend(dead))
      const stored = yield* backend.load({ host: "notes", id: "s" })
      const rows = stored.journal.map((e) => [JSON.parse(e.action)._tag, e.key])
      expect(rows).toContainEqual(["Add", "k1"])
      expect(rows).toContainEqual(["Echo", undefined])
      expect(rows.filter(([, key]) => key === "k1")).toHaveLength(1)
    }))

  it.effect("a snapshot carries the keys of the last five minutes, not older ones", () =>
    Effect.gen(function*() {
      const backend = yield* memoryBackend
      yield* life(Effect.gen(function*() {
        const host = yield* notes(backend)
        yield* host.sendOnce("s", add("old"), "k-old")
        yield* TestClock.adjust(Duration.minutes(6))
        yield* host.sendOnce("s", add("new"), "k-new")
      }))
      const stored = yield* backend.load({ host: "notes", id: "s" })
      expect(Option.map(stored.snapshot, (s) => s.keys)).toEqual(Option.some(["k-new"]))
    }))
})

describe("StoreHost.release (for StoreEntity)", () => {
  it.scoped("passivates a store in use: leased, with an effect running, which gets the timeout then is interrupted", () =>
    Effect.gen(function*() {
      const backend = yield* memoryBackend
      const host = yield* notes(backend)
      const scope = yield* Scope.make()
      const store = yield* Scope.extend(host.lease("s"), scope)
      yield* store.send({ _tag: "Slow" })
      yield* host.send("s", add("kept"))
      expect(store.runningEffectCount).toBeGreaterThan(0)
      // Idle passivation refuses it: leased and busy.
      expect(yield* host.passivate("s")).toBe(false)
      const released = yield* Effect.fork(host.release("s", "2 seconds"))
      yield* TestClock.adjust(Duration.seconds(2))
      yield* Fiber.join(released)
      expect(yield* host.residentIds).toEqual([])
      expect(store.runningEffectCount).toBe(0)
      const stored = yield* backend.load({ host: "notes", id: "s" })
      expect(Option.map(stored.snapshot, (s) => (JSON.parse(s.state) as State).notes)).toEqual(Option.some(["kept", "echo:kept"]))
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("closes the store even when its last snapshot cannot be written; what sendOnce acknowledged is restored", () =>
    Effect.gen(function*() {
      const gate = yield* Gate.make
      const backend = yield* memoryBackend
      const released = yield* Effect.fork(life(Effect.gen(function*() {
        const host = yield* notes(gate.backend(backend))
        yield* host.sendOnce("s", add("acknowledged"), "k1")
        yield* host.send("s", add("not snapshotted"))
        yield* Ref.set(gate.failing, true)
        yield* host.release("s", "1 second")
        const resident = yield* host.residentIds
        // The database is back before the process stops: its committer writes what it kept.
        yield* Ref.set(gate.failing, false)
        return resident
      })))
      expect(yield* untilDone(released)).toEqual([])
      const state = yield* life(Effect.flatMap(notes(backend), (host) => host.state("s")))
      expect(state.notes).toContain("acknowledged")
    }))

  it.scoped("an id not resident is released at once", () =>
    Effect.gen(function*() {
      const host = yield* notes(yield* memoryBackend)
      yield* host.release("nobody", "1 second")
      expect(yield* host.residentIds).toEqual([])
    }))
})
