/**
 * WebSocket message streams: a store consuming a WebSocket feed (each message an action, the close an
 * action too) and serving its own actions out over WebSocket (and SSE) with `composable-effect/http`.
 *
 * The feed is a push leaf (`Fx.subscribe`), not a Stream: a socket pushes its messages through callbacks,
 * and the leaf reduces each one in the socket's own `"message"` callback. An idle feed (a quiet market, a
 * socket still connecting) then costs a listener on the socket, not a fiber parked on a queue and a stream
 * around it. Backpressure goes through the socket's own `pause`/`resume`: while a backpressuring subscriber
 * of the store is full, the leaf pauses the socket, so it stops reading; the kernel's receive buffer fills
 * and TCP flow control holds the server back (its `bufferedAmount` grows, not our memory).
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
const decode = Schema.decodeUnknownOption(Quote)

/** A message as an action: a `Quote`, or `Unreadable` if it does not decode (errors are actions). */
const toAction = (data: WebSocket.RawData): Action => {
  const text = String(data)
  const quote = decode(text)
  return quote._tag === "Some" ? { _tag: "Quote", ...quote.value } : { _tag: "Unreadable", text }
}

/**
 * How many messages the feed holds, while the socket is paused, until the store has room again: more than a
 * paused socket can still hand over, so none is dropped. It still hands over the rest of what it had read
 * (a read of at most 64 KiB, plus, with permessage-deflate, what `ws` had queued to inflate: under 256 KiB
 * in all), and a message takes at least 2 bytes on the wire. The buffer only grows while in use, so the
 * bound costs nothing until then.
 */
export const FEED_BUFFER_SIZE = 131_072

export interface FeedOptions {
  /** Messages held while the socket is paused (default `FEED_BUFFER_SIZE`). */
  readonly bufferSize?: number
  /** Opens the socket (default `new WebSocket(url)`): pass headers or TLS options here. */
  readonly open?: (url: string) => WebSocket
}

/**
 * The feed as a push leaf: the socket is opened when the effect starts; each message becomes a `Quote` (or
 * `Unreadable`), and the close becomes `Closed`, which ends the effect.
 *
 * While a backpressuring subscriber of the store is full, the leaf pauses the socket (`socket.pause()` in
 * `ws`) and resumes it once there is room; what the socket still hands over meanwhile waits in the leaf's
 * buffer (`bufferSize`). Cancelling the effect closes the socket. (`Fx.fromWebSocket` listens to a socket
 * that someone else opens and closes; this feed owns its socket, so it opens it in the registration.)
 */
export const listen = (url: string, options: FeedOptions = {}): Fx.Fx<Action> =>
  Fx.subscribe<Action>((emit) =>
    Effect.sync((): Fx.Registration => {
      const socket = (options.open ?? ((url: string) => new WebSocket(url)))(url)
      const onMessage = (data: WebSocket.RawData) => emit(toAction(data))
      const onClose = (code: number) => {
        emit({ _tag: "Closed", code })
        emit.end()
      }
      // An error is followed by the close (code 1006 if the connection failed), which is the action.
      socket.on("message", onMessage).on("close", onClose).on("error", () => socket.close())
      return {
        cleanup: () => {
          socket.off("message", onMessage).off("close", onClose)
          // Stopped while paused: read (and discard) what is left, up to the server's reply to the close.
          if (socket.isPaused) socket.resume()
          socket.close()
        },
        pause: () => socket.pause(),
        resume: () => socket.resume()
      }
    }), { bufferSize: options.bufferSize ?? FEED_BUFFER_SIZE })

/** The reducer, its feed opened with `options` (the tests pass their own `open` and `bufferSize`). */
export const makeReducer = (options: FeedOptions = {}) =>
  Reducer.make((state: State, action: Action): readonly [State, Fx.Fx<Action>] => {
    switch (action._tag) {
      case "Connect":
        return [{ ...state, status: "open" }, Fx.cancellable(listen(action.url, options), "feed", { cancelInFlight: true })]
      case "Quote":
        return [{ ...state, prices: { ...state.prices, [action.symbol]: action.price }, received: state.received + 1 }, Fx.none]
      case "Unreadable":
        return [{ ...state, received: state.received + 1 }, Fx.none]
      case "Closed":
        return [{ ...state, status: "closed" }, Fx.none]
    }
  })

export const reducer = makeReducer()

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

