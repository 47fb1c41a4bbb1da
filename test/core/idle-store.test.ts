import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, FiberRef, Metric, type MetricPair } from "effect"
import { Fx, Reducer, Store, StoreMetrics } from "../../src/index.js"
import { counter, uniqueLabel } from "./helpers.js"

// A store makes what it runs effects with, its subscriber sets and its metric handles when it first needs
// them (issue 16, cheap idle stores). These pin what that must not change, and the one thing it does.

const where = FiberRef.unsafeMake("nowhere")
class Greeting extends Context.Tag("Greeting")<Greeting, string>() {}

type Action = { readonly _tag: "Look" } | { readonly _tag: "Saw"; readonly what: string } | { readonly _tag: "Inc" }
const reducer = Reducer.make((seen: ReadonlyArray<string>, action: Action) =>
  action._tag === "Look"
    ? [seen, Fx.future(Effect.map(Effect.zip(FiberRef.get(where), Greeting), ([at, hello]) => ({ _tag: "Saw", what: `${hello}@${at}` }) as const))]
    : action._tag === "Saw"
    ? [[...seen, action.what], Fx.none]
    : [seen, Fx.none]
)

const counting = Reducer.fromState((n: number, _: "inc") => n + 1)

const storeTagged = (label: string) => (pair: MetricPair.MetricPair.Untyped) =>
  pair.metricKey.tags.some((tag) => tag.key === "store" && tag.value === label)

describe("idle stores", () => {
  it.scoped("effects run with the services and fiber refs of the fiber that made the store, however late the first one starts", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer, label: uniqueLabel("idle") }).pipe(
        Effect.locally(where, "make"),
        Effect.provideService(Greeting, "hello")
      )
      // Sends before the first effect, then the first effect from a fiber whose refs differ.
      yield* store.send({ _tag: "Inc" })
      const task = yield* store.send({ _tag: "Look" }).pipe(Effect.locally(where, "send"))
      yield* task.finish
      const again = yield* store.send({ _tag: "Look" })
      yield* again.finish
      expect(yield* store.state).toEqual(["hello@make", "hello@make"])
    }))

  it.scoped("stores that share a label count into the same series", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("idle-shared")
      const one = yield* Store.make({ initialState: 0, reducer: counting, label })
      const two = yield* Store.make({ initialState: 0, reducer: counting, label })
      yield* one.send("inc")
      yield* two.send("inc")
      yield* two.send("inc")
      expect(yield* counter(StoreMetrics.actionsTotal, label)).toBe(3)
      expect(yield* counter(StoreMetrics.effectsExecuted, label, { type: "none" })).toBe(3)
    }))

  it.scoped("a store's metric series exist once something is counted in them, not from the moment it is made", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("idle-series")
      const store = yield* Store.make({ initialState: 0, reducer: counting, label })
      // Made and idle: nothing of this label is in the registry yet (an exporter lists no zeros for it).
      expect((yield* Metric.snapshot).filter(storeTagged(label))).toEqual([])
      yield* store.send("inc")
      const names = (yield* Metric.snapshot).filter(storeTagged(label)).map((pair) => pair.metricKey.name).sort()
      expect(names).toEqual(["store.actions.total", "store.effects.executed"])
      // Reading a series that was never counted still answers zero.
      expect(yield* counter(StoreMetrics.shutdown.timeout, label)).toBe(0)
    }))
})
