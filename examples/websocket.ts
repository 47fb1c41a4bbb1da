/**
 * WebSocket message streams: a store consuming a WebSocket feed (each message an action, the close an
 * action too) and serving its own actions out over WebSocket (and SSE) with `composable-effect/http`.
 *
 * Run it against any feed that sends JSON quotes: `tsx examples/websocket.ts ws://localhost:9000`; the
 * store is then served on http://localhost:3001 (`/ws`, `/events`, `/actions`).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Context, Effect, Layer, Schema, Stream } from "effect"
import { pathToFileURL } from "node:url"
import WebSocket from "ws"
import { Fx, Reducer, Store } from "../src/index.js"
import * as StoreHttp from "../src/StoreHttp.js"

/** What the feed sends, and what the store publishes: the wire format is the Schema's. */
export const Action = Schema.Union(
  Schema.TaggedStruct("Connect", { url: Schema.String }),
  Schema.TaggedStruct("Quote", { symbol: Schema.String, price: Schema.Number }),
  Schema.TaggedStruct("Unreadable", { text: Schema.String }),
  Schema.TaggedStruct("Closed", { code: Schema.Number })
)
export type Action = typeof Action.Type

export interface State {
  readonly status: "idle" | "open" | "closed"
  readonly prices: Readonly<Record<string, number>>
  readonly received: number
}
export const initialState: State = { status: "idle", prices: {}, received: 0 }

const Quote = Schema.parseJson(Schema.Struct({ symbol: Schema.String, price: Schema.Number }))

/**
 * The feed as a Stream of actions (`Stream.async` over the socket's callbacks): each message decodes to a
 * `Quote` (or `Unreadable`: errors are actions), and the close becomes `Closed`, which ends the stream.
 */
export const feed = (url: string): Stream.Stream<Action> =>
  Stream.async<Action>((emit) => {
    const socket = new WebSocket(url)
    socket.on("message", (data) => {
      const text = String(data)
      const quote = Schema.decodeUnknownOption(Quote)(text)
      void emit.single(quote._tag === "Some" ? { _tag: "Quote", ...quote.value } : { _tag: "Unreadable", text })
    })
    socket.on("close", (code) => {
      void emit.single({ _tag: "Closed", code })
      void emit.end()
    })
    socket.on("error", () => socket.close())
    return Effect.sync(() => socket.close())
  })

export const reducer = Reducer.make((state: State, action: Action): readonly [State, Fx.Fx<Action>] => {
  switch (action._tag) {
    case "Connect":
      return [{ ...state, status: "open" }, Fx.cancellable(Fx.stream(feed(action.url)), "feed", { cancelInFlight: true })]
    case "Quote":
      return [{ ...state, prices: { ...state.prices, [action.symbol]: action.price }, received: state.received + 1 }, Fx.none]
    case "Unreadable":
      return [{ ...state, received: state.received + 1 }, Fx.none]
    case "Closed":
      return [{ ...state, status: "closed" }, Fx.none]
  }
})

export class Quotes extends Context.Tag("examples/Quotes")<Quotes, Store.Store<State, Action>>() {}

/** The store, served on `port`: other clients watch it on `/ws` or `/events`. */
export const QuotesLive = (port: number) =>
  Layer.provideMerge(
    StoreHttp.layer(Quotes, { actions: Action, port }),
    Store.layer(Quotes, { initialState, reducer, label: "websocket-example" })
  )

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const url = process.argv[2]
  if (url === undefined) {
    console.error("usage: tsx examples/websocket.ts <ws-url>")
    process.exit(2)
  }
  Effect.gen(function*() {
    const store = yield* Quotes
    yield* store.send({ _tag: "Connect", url })
    console.log("serving the store on http://localhost:3001 (/ws, /events); Ctrl-C to stop")
    yield* Stream.runForEach(store.changes, (state) => Effect.log(JSON.stringify(state.prices)))
  }).pipe(Effect.provide(QuotesLive(3001)), NodeRuntime.runMain)
}

