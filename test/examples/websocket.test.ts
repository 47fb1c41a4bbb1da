import { HttpServer } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Stream } from "effect"
import WebSocket, { WebSocketServer } from "ws"
import { Quotes, QuotesLive } from "../../examples/websocket.js"

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
})
