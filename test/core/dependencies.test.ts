/**
 * Dependency overrides on top of Layers (issue 15): `Fx.provideService` / `Fx.provide` for one effect,
 * `Reducer.provideService` / `Reducer.provide` for one child reducer (TCA's `.dependency(...)`), and
 * `TestStore.setService` to change a service mid-test, each run in a real Store or TestStore.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, pipe, Stream, TestClock } from "effect"
import { Fx, Reducer, Store, TestStore } from "../../src/index.js"

class Greeter extends Context.Tag("Greeter")<Greeter, { readonly greet: (name: string) => Effect.Effect<string> }>() {}
class Audit extends Context.Tag("Audit")<Audit, { readonly prefix: string }>() {}

const greeter = (word: string) => ({ greet: (name: string) => Effect.succeed(`${word}:${name}`) })
const Hello = Layer.succeed(Greeter, greeter("hello"))
const greet = (name: string) => Effect.flatMap(Greeter, (g) => g.greet(name))

type Action =
  | { readonly _tag: "Greet"; readonly name: string }
  | { readonly _tag: "GreetStream"; readonly name: string }
  | { readonly _tag: "GreetLater"; readonly name: string }
  | { readonly _tag: "Later"; readonly name: string }
  | { readonly _tag: "Greeted"; readonly text: string }

/** A feature whose effects greet through the `Greeter` service; its state is every greeting received. */
const greetings = Reducer.make<ReadonlyArray<string>, Action>()((log, action) => {
  switch (action._tag) {
    case "Greet":
      return [log, Fx.future(Effect.map(greet(action.name), (text) => ({ _tag: "Greeted", text })))]
    case "GreetStream":
      return [log, Fx.stream(Stream.map(Stream.fromEffect(greet(action.name)), (text) => ({ _tag: "Greeted", text })))]
    case "GreetLater":
      // Started now, asks the service in a second.
      return [log, Fx.future(Effect.map(Effect.zipRight(Effect.sleep("1 second"), greet(action.name)), (text) => ({ _tag: "Greeted", text })))]
    case "Later":
      // Feeds back a `Greet` in a second: reduced, and its effect started, only then.
      return [log, Fx.delay("1 second", { _tag: "Greet", name: action.name })]
    case "Greeted":
      return [[...log, action.text], Fx.none]
  }
})

const greeted = (text: string): Action => ({ _tag: "Greeted", text })

describe("Fx.provideService / Fx.provide", () => {
  it.scoped("every Effect and Stream leaf of the Fx gets the override; the rest of the store keeps the Layer's", () =>
    Effect.gen(function*() {
      const reducer = Reducer.make<ReadonlyArray<string>, Action | { readonly _tag: "Both" }>()((log, action) => {
        if (action._tag !== "Both") return greetings(log, action)
        const local = pipe(
          Fx.parallel(
            Fx.future(Effect.map(greet("future"), greeted)),
            Fx.stream(Stream.map(Stream.fromEffect(greet("stream")), greeted))
          ),
          Fx.provideService(Greeter, greeter("hola"))
        )
        return [log, Fx.sequential(local, Fx.future(Effect.map(greet("layer"), greeted)))]
      })
      const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer })
      yield* (yield* store.send({ _tag: "Both" })).finish
      expect([...(yield* store.state)].sort()).toEqual(["hello:layer", "hola:future", "hola:stream"])
    }).pipe(Effect.provide(Hello)))

  it.scoped("an overridden Fx keeps its combinators: a cancellable under it is still cancelled by its id", () =>
    Effect.gen(function*() {
      type A = Action | { readonly _tag: "Start" } | { readonly _tag: "Stop" }
      const reducer = Reducer.make<ReadonlyArray<string>, A>()((log, action) => {
        if (action._tag === "Start") {
          return [log, pipe(
            Fx.sequential(
              Fx.future(Effect.map(greet("first"), greeted)),
              Fx.cancellable(Fx.future(Effect.map(Effect.zipRight(Effect.sleep("1 second"), greet("slow")), greeted)), "slow")
            ),
            Fx.timeout("10 seconds"),
            Fx.provideService(Greeter, greeter("hola"))
          )]
        }
        if (action._tag === "Stop") return [log, Fx.cancel("slow")]
        return greetings(log, action)
      })
      const store = yield* TestStore.make({ initialState: [] as ReadonlyArray<string>, reducer })
      yield* store.send({ _tag: "Start" })
      yield* store.receive(greeted("hola:first"), ["hola:first"])
      yield* TestClock.adjust("500 millis")
      yield* store.send({ _tag: "Stop" })
      yield* TestClock.adjust("1 second")
      yield* store.finish()
    }).pipe(Effect.provide(Hello)))

  it.scoped("Fx.provide gives a Context to every leaf, and a Layer's own inputs come from the store", () =>
    Effect.gen(function*() {
      type A = Action | { readonly _tag: "ViaContext" } | { readonly _tag: "ViaLayer" }
      // A Greeter built from the Audit service: the Layer needs Audit, which the store's Layers give.
      const Prefixed = Layer.effect(Greeter, Effect.map(Audit, (audit) => greeter(audit.prefix)))
      const reducer = Reducer.make<ReadonlyArray<string>, A>()<Greeter | Audit>((log, action) => {
        if (action._tag === "ViaContext") {
          return [log, Fx.provide(Fx.future(Effect.map(greet("ctx"), greeted)), Context.make(Greeter, greeter("ctx")))]
        }
        if (action._tag === "ViaLayer") {
          return [log, pipe(Fx.stream(Stream.map(Stream.fromEffect(greet("layer")), greeted)), Fx.provide(Prefixed))]
        }
        return greetings(log, action)
      })
      const store = yield* TestStore.make({ initialState: [] as ReadonlyArray<string>, reducer })
      yield* store.send({ _tag: "ViaContext" })
      yield* store.receive(greeted("ctx:ctx"), ["ctx:ctx"])
      yield* store.send({ _tag: "ViaLayer" })
      yield* store.receive(greeted("audited:layer"), (log) => [...log, "audited:layer"])
      yield* store.send({ _tag: "Greet", name: "plain" })
      yield* store.receive(greeted("hello:plain"), (log) => [...log, "hello:plain"])
    }).pipe(Effect.provide(Layer.merge(Hello, Layer.succeed(Audit, { prefix: "audited" })))))

  it("an Fx with no Effect or Stream is returned as it is; a node cast past the types is kept for the store", () => {
    const fx = Fx.sequential(Fx.send("a"), Fx.delay("1 second", "b"), Fx.cancel("x"))
    const provided = Fx.provideService(fx, Greeter, greeter("hola"))
    expect(JSON.stringify(provided)).toEqual(JSON.stringify(fx))
    expect(Fx.provideService(Fx.none, Greeter, greeter("hola"))).toBe(Fx.none)
    const bogus = { not: "an fx" } as unknown as Fx.Fx<string>
    expect(Fx.provideService(bogus, Greeter, greeter("hola"))).toBe(bogus)
  })
})

describe("Reducer.provideService / Reducer.provide", () => {
  interface App {
    readonly left: ReadonlyArray<string>
    readonly right: ReadonlyArray<string>
  }
  type AppAction = { readonly _tag: "Left"; readonly action: Action } | { readonly _tag: "Right"; readonly action: Action }
  const app = Reducer.combine(
    Reducer.scope(pipe(greetings, Reducer.provideService(Greeter, greeter("hola"))), {
      state: Reducer.field<App, "left">("left"),
      action: Reducer.tagged<AppAction, "Left">("Left")
    }),
    Reducer.scope(greetings, { state: Reducer.field<App, "right">("right"), action: Reducer.tagged<AppAction, "Right">("Right") })
  )

  it.scoped("only the overridden child's effects get the service; its sibling keeps the Layer's", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState: { left: [], right: [] } as App, reducer: app })
      yield* store.send({ _tag: "Left", action: { _tag: "Greet", name: "a" } })
      yield* store.receive({ _tag: "Left", action: greeted("hola:a") }, (s) => ({ ...s, left: ["hola:a"] }))
      yield* store.send({ _tag: "Right", action: { _tag: "GreetStream", name: "b" } })
      yield* store.receive({ _tag: "Right", action: greeted("hello:b") }, (s) => ({ ...s, right: ["hello:b"] }))
    }).pipe(Effect.provide(Hello)))

  it.scoped("a child action fed back later goes through the child again, so its effect gets the override too", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState: { left: [], right: [] } as App, reducer: app })
      yield* store.send({ _tag: "Left", action: { _tag: "Later", name: "a" } })
      yield* TestClock.adjust("1 second")
      yield* store.receive({ _tag: "Left", action: { _tag: "Greet", name: "a" } })
      yield* store.receive({ _tag: "Left", action: greeted("hola:a") }, (s) => ({ ...s, left: ["hola:a"] }))
    }).pipe(Effect.provide(Hello)))

  it.scoped("the innermost override wins: an Fx.provideService inside the reducer over the reducer's own", () =>
    Effect.gen(function*() {
      const inner = Reducer.make<ReadonlyArray<string>, Action>()((log, action) =>
        action._tag === "Greet"
          ? [log, Fx.provideService(Fx.future(Effect.map(greet(action.name), greeted)), Greeter, greeter("inner"))]
          : greetings(log, action)
      )
      const reducer = pipe(inner, Reducer.provideService(Greeter, greeter("outer")))
      const store = yield* TestStore.make({ initialState: [] as ReadonlyArray<string>, reducer })
      yield* store.send({ _tag: "Greet", name: "a" })
      yield* store.receive(greeted("inner:a"), ["inner:a"])
      yield* store.send({ _tag: "GreetLater", name: "b" })
      yield* TestClock.adjust("1 second")
      yield* store.receive(greeted("outer:b"), (log) => [...log, "outer:b"])
    }))

  it.scoped("Reducer.provide with a Layer: a store with no Greeter Layer runs the reducer", () =>
    Effect.gen(function*() {
      const reducer = pipe(greetings, Reducer.provide(Layer.succeed(Greeter, greeter("stub"))))
      const store = yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer })
      yield* (yield* store.send({ _tag: "Greet", name: "a" })).finish
      expect(yield* store.state).toEqual(["stub:a"])
    }))

  it("what a reducer cast past its types returns instead of [state, fx] is passed on, for the store to report", () => {
    const broken = (() => undefined) as unknown as Reducer.Reducer<number, "go", Greeter>
    expect(pipe(broken, Reducer.provideService(Greeter, greeter("x")))(0, "go")).toBeUndefined()
  })
})

describe("TestStore.setService", () => {
  const make = TestStore.make({ initialState: [] as ReadonlyArray<string>, reducer: greetings })

  it.scoped("actions sent after it get the new service; those before got the Layer's", () =>
    Effect.gen(function*() {
      const store = yield* make
      yield* store.send({ _tag: "Greet", name: "a" })
      yield* store.receive(greeted("hello:a"), ["hello:a"])
      yield* store.setService(Greeter, greeter("hola"))
      yield* store.send({ _tag: "GreetStream", name: "b" })
      yield* store.receive(greeted("hola:b"), (log) => [...log, "hola:b"])
      yield* store.setService(Greeter, greeter("salut"))
      yield* store.send({ _tag: "Greet", name: "c" })
      yield* store.receive(greeted("salut:c"), (log) => [...log, "salut:c"])
    }).pipe(Effect.provide(Hello)))

  it.scoped("an effect already started keeps its service; an action fed back after the change gets the new one", () =>
    Effect.gen(function*() {
      const store = yield* make
      yield* store.send({ _tag: "Later", name: "fed" }) // its Greet is reduced at 1 s
      yield* TestClock.adjust("500 millis")
      yield* store.send({ _tag: "GreetLater", name: "early" }) // started now, asks at 1.5 s
      yield* store.setService(Greeter, greeter("hola"))
      yield* TestClock.adjust("500 millis")
      yield* store.receive({ _tag: "Greet", name: "fed" })
      yield* store.receive(greeted("hola:fed"), ["hola:fed"])
      yield* TestClock.adjust("500 millis")
      yield* store.receive(greeted("hello:early"), ["hola:fed", "hello:early"])
    }).pipe(Effect.provide(Hello)))
})

// -----------------------------------------------------------------------------
// types: an override removes its service from `R`, and only it
// -----------------------------------------------------------------------------

/** Never called: it compiles only if each override removes its service from `R`, and only it. */
export const typeChecks = (
  both: Fx.Fx<string, Greeter | Audit>,
  needsAudit: Layer.Layer<Greeter, never, Audit>,
  failing: Layer.Layer<Greeter, string>,
  child: Reducer.Reducer<number, "go", Greeter | Audit>
) => {
  const withoutGreeter: Fx.Fx<string, Audit> = Fx.provideService(both, Greeter, greeter("x"))
  const withoutBoth: Fx.Fx<string> = pipe(both, Fx.provideService(Greeter, greeter("x")), Fx.provideService(Audit, { prefix: "" }))
  // @ts-expect-error Audit is still needed
  const stillAudit: Fx.Fx<string> = Fx.provideService(both, Greeter, greeter("x"))
  // @ts-expect-error the service must be the tag's
  const wrongService = Fx.provideService(both, Greeter, { greet: (n: number) => Effect.succeed(n) })
  const fromContext: Fx.Fx<string> = Fx.provide(both, Context.make(Greeter, greeter("x")).pipe(Context.add(Audit, { prefix: "" })))
  // @ts-expect-error a Context with Greeter only leaves Audit
  const contextLeaves: Fx.Fx<string> = pipe(both, Fx.provide(Context.make(Greeter, greeter("x"))))
  // A Layer removes what it builds and adds what it needs.
  const layerInputs: Fx.Fx<string, Audit> = pipe(Fx.future(greet("a")), Fx.provide(needsAudit))
  // @ts-expect-error the Layer's input is needed
  const layerNoInputs: Fx.Fx<string> = pipe(Fx.future(greet("a")), Fx.provide(needsAudit))
  // @ts-expect-error an Fx cannot fail, so neither can a Layer it is given
  const failingLayer = Fx.provide(both, failing)

  const childWithout: Reducer.Reducer<number, "go", Audit> = pipe(child, Reducer.provideService(Greeter, greeter("x")))
  // @ts-expect-error Audit is still needed
  const childStill: Reducer.Reducer<number, "go"> = Reducer.provideService(child, Greeter, greeter("x"))
  const childLayer: Reducer.Reducer<number, "go", Audit> = Reducer.provide(child, needsAudit)
  const childContext: Reducer.Reducer<number, "go", Greeter> = Reducer.provide(child, Context.make(Audit, { prefix: "" }))
  // @ts-expect-error Greeter is still needed
  const childContextStill: Reducer.Reducer<number, "go"> = Reducer.provide(child, Context.make(Audit, { prefix: "" }))
  return [withoutGreeter, withoutBoth, stillAudit, wrongService, fromContext, contextLeaves, layerInputs, layerNoInputs, failingLayer, childWithout, childStill, childLayer, childContext, childContextStill]
}
