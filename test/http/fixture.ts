import { HttpServer } from "@effect/platform"
import { Context, Data, Effect, Layer, Schema, Stream } from "effect"
import { Fx, Reducer, Store } from "../../src/index.js"
import * as StoreHttp from "../../src/StoreHttp.js"

/** A small feature served over HTTP: `Count` streams `n` numbers back as `Tick` actions. */
export const Action = Schema.Union(
  Schema.TaggedStruct("Count", { n: Schema.Int.pipe(Schema.between(0, 1000)) }),
  Schema.TaggedStruct("Tick", { i: Schema.Int }),
  Schema.TaggedStruct("Ping", {}),
  Schema.TaggedStruct("Pong", {})
)
export type Action = typeof Action.Type
export const State = Schema.Struct({ ticks: Schema.Number, pings: Schema.Number })
export type State = typeof State.Type

export const reducer = Reducer.make((state: State, action: Action) => {
  switch (action._tag) {
    case "Count":
      return [state, Fx.stream(Stream.range(1, action.n).pipe(Stream.map((i) => ({ _tag: "Tick", i }) as const)))]
    case "Tick":
      return [{ ...state, ticks: state.ticks + 1 }, Fx.none]
    case "Ping":
      return [{ ...state, pings: state.pings + 1 }, Fx.send({ _tag: "Pong" } as const)]
    case "Pong":
      return [state, Fx.none]
  }
})

export class Feature extends Context.Tag("test/Feature")<Feature, Store.Store<State, Action>>() {}

export class Served extends Data.Class<{ readonly url: string; readonly store: Store.Store<State, Action> }> {}

/** Starts the feature's store and serves it on a free loopback port for the current scope. */
export const serve = (
  options: Partial<StoreHttp.Options<State, Action, typeof Action.Encoded, typeof State.Encoded>> & StoreHttp.ServerOptions = {}
) =>
  Effect.gen(function*() {
    const live = Layer.provideMerge(
      StoreHttp.layer(Feature, { actions: Action, state: State, port: 0, host: "127.0.0.1", ...options }),
      Store.layer(Feature, { initialState: { ticks: 0, pings: 0 }, reducer, label: "http-test" })
    )
    const context = yield* Layer.build(live)
    const server = Context.get(context, HttpServer.HttpServer)
    const address = server.address as HttpServer.TcpAddress
    return new Served({ url: `http://127.0.0.1:${address.port}`, store: Context.get(context, Feature) })
  })
