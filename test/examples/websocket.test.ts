import { HttpServer } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Effect, Layer, Schedule, Stream } from "effect"
import WebSocket, { WebSocketServer } from "ws"
import { FEED_BUFFER_SIZE, feed, Quotes, QuotesLive } from "../../examples/websocket.js"

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

  it.live("holds at most FEED_BUFFER_SIZE messages for a consumer that holds off, then delivers every one in order", () =>
    Effect.gen(function*() {
      // Quotes of about 16 KiB (padding the decoder ignores), far more than loopback's socket buffers hold,
      // sent as fast as the server can: without backpressure the client would read them all at once.
      const count = 2_000
      const size = 16 * 1024
      const pad = "x".repeat(size)
      const server = yield* feedServer(Array.from({ length: count }, (_, i) => JSON.stringify({ symbol: "ACME", price: i, pad })))
      let client: WebSocket | undefined
      let received = 0
      const open = (url: string) => {
        client = new WebSocket(url)
        client.on("message", () => received++)
        return client
      }
      // The consumer takes an action, then holds off until it is given a permit for it.
      const permits = yield* Effect.makeSemaphore(0)
      let taken = 0
      const run = yield* Effect.forkScoped(
        feed(`ws://127.0.0.1:${(server.address() as { port: number }).port}`, { open }).pipe(
          Stream.tap(() => Effect.zipRight(Effect.sync(() => taken++), permits.take(1))),
          Stream.runCollect
        )
      )
      /** Waits until the client has read more than `after` messages and stopped reading; checks what it holds. */
      const heldBack = (after: number) =>
        Effect.gen(function*() {
          yield* Effect.sync(() => received > after && client?.isPaused === true).pipe(
            Effect.repeat({ until: (paused) => paused, schedule: Schedule.spaced("5 millis") }),
            Effect.timeout("10 seconds")
          )
          // A paused socket still delivers the rest of the read it was in (at most 64 KiB: a few messages here).
          expect(received - taken).toBeLessThanOrEqual(FEED_BUFFER_SIZE + Math.ceil(64 * 1024 / size) + 1)
          expect(received).toBeLessThan(count)
          // The rest waits on the server: TCP flow control holds its sends back.
          expect([...server.clients][0]!.bufferedAmount).toBeGreaterThan(0)
        })

      yield* heldBack(0)
      // Taking just enough to get below the bound makes room: the client reads again, and stops again.
      const before = received
      yield* permits.release(received - taken - FEED_BUFFER_SIZE + 1)
      yield* heldBack(before)

      yield* permits.release(count)
      const actions = Chunk.toReadonlyArray(yield* run.await.pipe(Effect.flatten, Effect.timeout("10 seconds")))
      expect(actions.slice(0, -1)).toEqual(Array.from({ length: count }, (_, i) => ({ _tag: "Quote", symbol: "ACME", price: i })))
      expect(actions.at(-1)).toEqual({ _tag: "Closed", code: 4000 })
    }).pipe(Effect.scoped))
})
