import { HttpServer } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Schedule, Stream } from "effect"
import WebSocket, { WebSocketServer } from "ws"
import { type Action, initialState, makeReducer, Quotes, QuotesLive } from "../../examples/websocket.js"
import { Store } from "../../src/index.js"

/** A real WebSocket feed on loopback: sends its messages to each client, then closes with 4000. */
const feedServer = (messages: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.async<WebSocketServer>((resume) => {
      const server: WebSocketServer = new WebSocketServer({ port: 0, host: "127.0.0.1" }, (): void => resume(Effect.succeed(server)))
      server.on("connection", (socket: WebSocket) => {
        for (const message of messages) socket.send(message)
        socket.close(4000, "done")
      })
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  )

/** Connects to the store's own `/ws` and collects `count` frames. */
const watch = (url: string, count: number) =>
  Effect.async<{ readonly frames: Array<Record<string, any>>; readonly ready: Promise<void> }>((resume) => {
    const frames: Array<Record<string, any>> = []
    const socket = new WebSocket(url)
    let done: () => void
    const finished = new Promise<void>((r) => done = r)
    socket.on("message", (data) => {
      frames.push(JSON.parse(String(data)))
      if (frames.length === count) {
        socket.close()
        done()
      }
    })
    socket.on("open", () => resume(Effect.succeed({ frames, ready: finished })))
  })

/** Polls `condition` over the real sockets (every 5 ms) until it holds; fails after 10 seconds. */
const until = (condition: () => boolean) =>
  Effect.sync(condition).pipe(
    Effect.repeat({ until: (holds) => holds, schedule: Schedule.spaced("5 millis") }),
    Effect.timeout("10 seconds")
  )

/**
 * A flood: `count` quotes of about 16 KiB (padding the decoder ignores), far more than loopback's socket
 * buffers hold, sent as fast as the server can; the client's socket counts what it hands over.
 */
const flood = (count: number) =>
  Effect.gen(function*() {
    const pad = "x".repeat(16 * 1024)
    const server = yield* feedServer(Array.from({ length: count }, (_, i) => JSON.stringify({ symbol: "ACME", price: i, pad })))
    const client: { socket: WebSocket | undefined; received: number } = { socket: undefined, received: 0 }
    const open = (url: string) => {
      const socket = new WebSocket(url)
      socket.on("message", () => client.received++)
      return client.socket = socket
    }
    return { url: `ws://127.0.0.1:${(server.address() as { port: number }).port}`, server, client, open }
  })

describe("examples/websocket", () => {
  it.live("consumes a WebSocket feed as actions, the close included, and serves its own actions out", () =>
    Effect.gen(function*() {
      const feed = yield* feedServer([
        JSON.stringify({ symbol: "ACME", price: 10 }),
        "not json",
        JSON.stringify({ symbol: "ACME", price: 11.5 }),
        JSON.stringify({ symbol: "INIT", price: 3 })
      ])
      const context = yield* Layer.build(QuotesLive(0))
      const store = Context.get(context, Quotes)
      const port = (Context.get(context, HttpServer.HttpServer).address as HttpServer.TcpAddress).port
      const watcher = yield* watch(`ws://127.0.0.1:${port}/ws`, 6)
      const states = yield* Effect.fork(Stream.runCollect(Stream.takeUntil(store.changes, (s) => s.status === "closed")))
      yield* store.send({ _tag: "Connect", url: `ws://127.0.0.1:${(feed.address() as { port: number }).port}` })
      yield* states.await.pipe(Effect.timeout("5 seconds"))
      expect(yield* store.state).toEqual({ status: "closed", prices: { ACME: 11.5, INIT: 3 }, received: 4 })
      yield* Effect.promise(() => watcher.ready).pipe(Effect.timeout("5 seconds"))
      expect(watcher.frames.map((f) => f.action._tag)).toEqual(["Connect", "Quote", "Unreadable", "Quote", "Quote", "Closed"])
      expect(watcher.frames.at(-1)!.action).toEqual({ _tag: "Closed", code: 4000 })
    }).pipe(Effect.scoped))

  it.live("a full backpressuring subscriber pauses the socket, so the rest waits on the server; reading resumes and every message arrives in order", () =>
    Effect.gen(function*() {
      const count = 2_000
      // A paused socket still hands over the rest of its read (at most 64 KiB: a few of these messages).
      const bufferSize = 8
      const capacity = 16
      const { client, open, server, url } = yield* flood(count)
      const store = yield* Store.make({ initialState, reducer: makeReducer({ open, bufferSize }) })
      // A subscriber that must see every action, and stops reading.
      const pull = yield* Stream.toPull(yield* store.subscribe({ capacity, overflow: "backpressure" }))
      const taken: Array<Action> = []
      const take = Effect.map(pull, (chunk) => taken.push(...chunk))
      yield* store.send({ _tag: "Connect", url })

      /** Waits until the client has read more than `after` messages and is paused; checks where the rest is. */
      const heldBack = (after: number) =>
        Effect.gen(function*() {
          yield* until(() => client.received > after && client.socket?.isPaused === true)
          const reduced = (yield* store.state).received
          // Reduced: what the subscriber took, and what it holds (at most `capacity`, the Connect included).
          expect(1 + reduced).toBeLessThanOrEqual(taken.length + capacity)
          // Handed over by the socket but not reduced yet: held in the feed's buffer, nothing dropped.
          expect(client.received - reduced).toBeLessThanOrEqual(bufferSize)
          expect(client.received).toBeLessThan(count)
          // The rest waits on the server: TCP flow control holds its sends back.
          expect([...server.clients][0]!.bufferedAmount).toBeGreaterThan(0)
        })

      yield* heldBack(0)
      // Taking what the subscriber holds makes room: the socket reads again, and is paused again.
      const before = client.received
      yield* take
      yield* heldBack(before)

      // Reading from here on: everything arrives, in order, then the close.
      yield* Effect.repeat(take, { until: () => taken.at(-1)?._tag === "Closed" }).pipe(Effect.timeout("10 seconds"))
      expect(taken[0]).toEqual({ _tag: "Connect", url })
      expect(taken.slice(1, -1)).toEqual(Array.from({ length: count }, (_, i) => ({ _tag: "Quote", symbol: "ACME", price: i })))
      expect(taken.at(-1)).toEqual({ _tag: "Closed", code: 4000 })
      expect(yield* store.state).toEqual({ status: "closed", prices: { ACME: count - 1 }, received: count })
    }).pipe(Effect.scoped))

  it.live("a feed cancelled while paused closes its socket at once and reduces nothing more", () =>
    Effect.gen(function*() {
      const { client, open, url } = yield* flood(2_000)
      const store = yield* Store.make({ initialState, reducer: makeReducer({ open, bufferSize: 8 }) })
      const pull = yield* Stream.toPull(yield* store.subscribe({ capacity: 16, overflow: "backpressure" }))
      const task = yield* store.send({ _tag: "Connect", url })
      yield* until(() => client.socket?.isPaused === true)
      const reduced = (yield* store.state).received
      yield* task.cancel
      // The cleanup ran within the cancel: the socket is closing.
      expect(client.socket!.readyState).not.toBe(WebSocket.OPEN)
      // The subscriber makes room: a feed still running would now be resumed, and reduce again.
      yield* pull
      // Closed at once, not after ws's 30-second close timeout: a paused socket would not read the server's
      // reply to the close, so the cleanup resumes it to read (and discard) what is left.
      yield* until(() => client.socket!.readyState === WebSocket.CLOSED)
      expect(yield* store.state).toMatchObject({ status: "open", received: reduced })
      expect(yield* task.isRunning).toBe(false)
    }).pipe(Effect.scoped))
})
