import { describe, expect, it } from "@effect/vitest"
import { type Duration, Effect, TestClock } from "effect"
import { Fx } from "../../src/index.js"
import { Go, Log, logStore, type SeqAction, settle } from "./helpers.js"

describe("effect bugs found using the store as a TCA user would (issue 15)", () => {
  /** Bug 1: an inner `cancelInFlight` cancelled its own enclosing registration, so nothing was delivered. */
  const nested = (v: string) =>
    Fx.cancellable(Fx.cancellable(Fx.delay("1 second", Log(v)), "id", { cancelInFlight: true }), "id")

  it.scoped("a cancelInFlight inside a cancellable under the same id does not cancel the effect it runs inside", () =>
    Effect.gen(function*() {
      const store = yield* logStore
      const task = yield* store.send(Go(nested("a")))
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* task.finish
      expect(yield* store.state).toEqual(["a@1000"])
    }))

  it.scoped("so nested, it still replaces the effect in flight, also when it starts late in a sequence", () =>
    Effect.gen(function*() {
      const store = yield* logStore
      // The second registers when its fiber reaches it, not while its action is reduced.
      yield* store.send(Go(nested("a")))
      yield* TestClock.adjust("500 millis")
      const task = yield* store.send(Go(Fx.sequential(Fx.send(Log("s")), nested("b"))))
      yield* TestClock.adjust("2 seconds")
      yield* task.finish
      expect(yield* store.state).toEqual(["s@500", "b@1500"])
    }))

  /** Bug 2: a cancellable in a later step registered only when its step started, so a cancel before then missed it. */
  describe("a cancel reaches a cancellable waiting for its turn later in a sequence", () => {
    /** Sends `fx`, then at 0.5 s an action that cancels "b", and runs the clock to 3 s. */
    const cancelledAtHalfSecond = (fx: Fx.Fx<SeqAction>) =>
      Effect.gen(function*() {
        const store = yield* logStore
        const task = yield* store.send(Go(fx))
        yield* TestClock.adjust("500 millis")
        yield* store.send(Go(Fx.cancel("b")))
        yield* TestClock.adjust("2500 millis")
        yield* task.finish
        return yield* store.state
      })

    it.scoped("the waiting step is skipped and the sequence goes on", () =>
      Effect.gen(function*() {
        const log = yield* cancelledAtHalfSecond(Fx.sequential(
          Fx.delay("1 second", Log("a")),
          Fx.cancellable(Fx.delay("1 second", Log("b")), "b"),
          Fx.delay("1 second", Log("c"))
        ))
        expect(log).toEqual(["a@1000", "c@2000"])
      }))

    it.scoped("every use of one cancellable value, the running one and the one waiting", () =>
      Effect.gen(function*() {
        const b = Fx.cancellable(Fx.delay("1 second", Log("b")), "b")
        expect(yield* cancelledAtHalfSecond(Fx.sequential(b, b))).toEqual([])
      }))

    it.scoped("one waiting behind the wait of a debounce", () =>
      Effect.gen(function*() {
        const log = yield* cancelledAtHalfSecond(Fx.debounce(Fx.cancellable(Fx.send(Log("x")), "b"), "d", "1 second"))
        expect(log).toEqual([])
      }))

    it.scoped("a debounce in a later step", () =>
      Effect.gen(function*() {
        const log = yield* cancelledAtHalfSecond(Fx.sequential(
          Fx.delay("1 second", Log("a")),
          Fx.debounce(Fx.send(Log("x")), "b", "1 second")
        ))
        expect(log).toEqual(["a@1000"])
      }))

    it.scoped("a waiting effect is not in flight: a cancelInFlight meanwhile spares it, and it replaces that one when it starts", () =>
      Effect.gen(function*() {
        const store = yield* logStore
        const latest = (v: string, after: Duration.DurationInput) =>
          Fx.cancellable(Fx.delay(after, Log(v)), "b", { cancelInFlight: true })
        const first = yield* store.send(Go(Fx.sequential(Fx.delay("1 second", Log("a")), latest("b1", "1 second"))))
        yield* TestClock.adjust("500 millis")
        const second = yield* store.send(Go(latest("b2", "2 seconds")))
        yield* TestClock.adjust("3 seconds")
        yield* first.finish
        yield* second.finish
        expect(yield* store.state).toEqual(["a@1000", "b1@2000"])
      }))

    it.scoped("a cancel from an earlier step of the same effect does not reach the steps after it (TCA's .concatenate)", () =>
      Effect.gen(function*() {
        const store = yield* logStore
        const restart = (v: string, cancel: Fx.Fx<SeqAction>) =>
          Fx.sequential(cancel, Fx.cancellable(Fx.delay("1 second", Log(v)), "b"))
        yield* store.send(Go(restart("old", Fx.none)))
        yield* TestClock.adjust("500 millis")
        // The cancel as a step, then as an action a step sends: the old effect is cancelled, the new one runs.
        yield* store.send(Go(restart("new1", Fx.cancel("b"))))
        yield* TestClock.adjust("500 millis")
        const task = yield* store.send(Go(restart("new2", Fx.send(Go(Fx.cancel("b"))))))
        yield* TestClock.adjust("2 seconds")
        yield* task.finish
        expect(yield* store.state).toEqual(["new2@2000"])
      }))
  })

  /** Bug 3: the next step of a sequence resumed on a later turn, so actions queued meanwhile came first. */
  describe("steps of a sequence that need no time run back to back", () => {
    const reduced = (fx: Fx.Fx<SeqAction>) =>
      Effect.gen(function*() {
        const store = yield* logStore
        const task = yield* store.send(Go(fx))
        yield* TestClock.adjust("1 second")
        yield* task.finish
        return yield* store.state
      })

    it.scoped("before a sibling's action, as TCA's .concatenate inside .merge", () =>
      Effect.gen(function*() {
        const log = yield* reduced(Fx.merge([Fx.sequential(Fx.send(Log("x1")), Fx.send(Log("x2"))), Fx.send(Log("y"))]))
        expect(log).toEqual(["x1@0", "x2@0", "y@0"])
      }))

    it.scoped("through nested sequences, and one sequence after the other", () =>
      Effect.gen(function*() {
        const x = Fx.sequential(Fx.send(Log("x1")), Fx.sequential(Fx.send(Log("x2")), Fx.send(Log("x3"))))
        const y = Fx.sequential(Fx.send(Log("y1")), Fx.send(Log("y2")))
        expect(yield* reduced(Fx.merge([x, y]))).toEqual(["x1@0", "x2@0", "x3@0", "y1@0", "y2@0"])
      }))

    it.scoped("a step that takes time lets the rest go first; the steps after it follow it at once", () =>
      Effect.gen(function*() {
        const log = yield* reduced(Fx.merge([
          Fx.sequential(Fx.send(Log("x1")), Fx.delay("1 second", Log("x2")), Fx.send(Log("x3"))),
          Fx.send(Log("y"))
        ]))
        expect(log).toEqual(["x1@0", "y@0", "x2@1000", "x3@1000"])
      }))

    it.scoped("what a step's action sends back is queued as usual, and the next step follows the last of it", () =>
      Effect.gen(function*() {
        // `Go` sends `z` back: behind `y`, already queued, as any `Fx.send` of a reduced action.
        const log = yield* reduced(Fx.merge([
          Fx.sequential(Fx.send(Go(Fx.send(Log("z")))), Fx.send(Log("x2"))),
          Fx.send(Log("y"))
        ]))
        expect(log).toEqual(["y@0", "z@0", "x2@0"])
      }))
  })
})
