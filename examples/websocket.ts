/**
 * WebSocket message streams: a store consuming a WebSocket feed (each message an action, the close an
 * action too) and serving its own actions out over WebSocket (and SSE) with `composable-effect/http`.
 *
 * Run it against any feed that sends JSON quotes: `tsx examples/websocket.ts ws://localhost:9000`; the
 * store is then served on http://localhost:3001 (`/ws`, `/events`, `/actions`).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Context, Effect, Layer, Option, Queue, Schema, Stream } from "effect"
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

/** How many messages the feed holds for a consumer that has fallen behind before it stops reading. */
export const FEED_BUFFER_SIZE = 256

export interface FeedOptions {
  /** Messages held before the socket stops reading (default `FEED_BUFFER_SIZE`). */
  readonly bufferSize?: number
  /** Opens the socket (default `new WebSocket(url)`): pass headers or TLS options here. */
  readonly open?: (url: string) => WebSocket
}

/**
 * The feed as a Stream of actions: each message decodes to a `Quote` (or `Unreadable`: errors are actions),
 * and the close becomes `Closed`, which ends the stream.
 *
 * With backpressure, end to end: the socket's callbacks cannot wait, so each message goes into a Queue, and
 * once `bufferSize` are waiting the socket stops reading (`socket.pause()`). The kernel's receive buffer then
 * fills and TCP flow control holds the server back (its `bufferedAmount` grows, not our memory). Taking a
 * message makes room, and reading resumes. The Queue itself is unbounded because a paused socket still hands
 * over what it had already read (the rest of one read, at most 64 KiB): a bounded Queue would have to drop
 * those messages. (`Stream.async` cannot do this: its `emit` cannot pause the socket, and an `emit` whose
 * promise nobody awaits just piles up without bound.)
 */
export const feed = (url: string, options: FeedOptions = {}): Stream.Stream<Action> => {
  const bufferSize = options.bufferSize ?? FEED_BUFFER_SIZE
  const open = options.open ?? ((url: string) => new WebSocket(url))
  return Stream.unwrapScoped(Effect.gen(function*() {
    const queue = yield* Effect.acquireRelease(Queue.unbounded<Action>(), Queue.shutdown)
    const waiting = () => Option.getOrElse(queue.unsafeSize(), () => 0)
    const onMessage = function(this: WebSocket, data: WebSocket.RawData) {
      const text = String(data)
      const quote = Schema.decodeUnknownOption(Quote)(text)
      queue.unsafeOffer(quote._tag === "Some" ? { _tag: "Quote", ...quote.value } : { _tag: "Unreadable", text })
      if (waiting() >= bufferSize) this.pause()
    }
    const socket = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const socket = open(url)
        socket.on("message", onMessage)
        socket.on("close", (code) => queue.unsafeOffer({ _tag: "Closed", code }))
        socket.on("error", () => socket.close())
        return socket
      }),
      (socket) =>
        Effect.sync(() => {
          // Interrupted while paused: read (and discard) what is left, up to the server's reply to the close.
          if (socket.isPaused) socket.off("message", onMessage).resume()
          socket.close()
        })
    )
    // One message per pull, so that room is made when the consumer takes a message, not a whole batch.
    return Stream.fromQueue(queue, { maxChunkSize: 1 }).pipe(
      Stream.tap(() =>
        Effect.sync(() => {
          if (socket.isPaused && waiting() < bufferSize) socket.resume()
        })
      ),
      Stream.takeUntil((action) => action._tag === "Closed")
    )
  }))
}

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

