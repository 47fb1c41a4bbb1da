import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { Fx, Reducer, Store } from "../../src/index.js"
import { settle } from "./helpers.js"

type Action = { readonly _tag: "Run"; readonly fx: Fx.Fx<Action> } | { readonly _tag: "Log"; readonly v: string }
const Run = (fx: Fx.Fx<Action>): Action => ({ _tag: "Run", fx })
const Log = (v: string): Action => ({ _tag: "Log", v })

/** A store whose state is the log of what it reduced, each entry with the TestClock time it was reduced at. */
const logStore = Effect.gen(function*() {
  const clock = yield* Effect.clock
  const reducer = Reducer.make((log: ReadonlyArray<string>, action: Action): readonly [ReadonlyArray<string>, Fx.Fx<Action>] =>
    action._tag === "Run" ? [log, action.fx] : [[...log, `${action.v}@${clock.unsafeCurrentTimeMillis()}`], Fx.none]
  )
  return yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer })
})

describe("effect bugs found using the store as a TCA user would (issue 15)", () => {
  /** Bug 1: an inner `cancelInFlight` cancelled its own enclosing registration, so nothing was delivered. */
  const nested = (v: string) =>
    Fx.cancellable(Fx.cancellable(Fx.delay("1 second", Log(v)), "id", { cancelInFlight: true }), "id")

  it.scoped("a cancelInFlight inside a cancellable under the same id does not cancel the effect it runs inside", () =>
    Effect.gen(function*() {
      const store = yield* logStore
      const task = yield* store.send(Run(nested("a")))
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* task.finish
      expect(yield* store.state).toEqual(["a@1000"])
    }))

  it.scoped("so nested, it still replaces the effect in flight, also when it starts late in a sequence", () =>
    Effect.gen(function*() {
      const store = yield* logStore
      // The second registers when its fiber reaches it, not while its action is reduced.
      yield* store.send(Run(nested("a")))
      yield* TestClock.adjust("500 millis")
      const task = yield* store.send(Run(Fx.sequential(Fx.send(Log("s")), nested("b"))))
      yield* TestClock.adjust("2 seconds")
      yield* task.finish
      expect(yield* store.state).toEqual(["s@500", "b@1500"])
    }))
})
