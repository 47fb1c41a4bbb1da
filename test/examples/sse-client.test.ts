import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Schedule, Stream } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Action, initialState, reducer, subscribe } from "../../examples/sse-client.js"
import { Store } from "../../src/index.js"

/**
 * A real SSE server on loopback with six events. The first connection is dropped after event 3; a
 * reconnect resumes after its `Last-Event-ID`.
 */
const sseServer = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly lastEventIds: Array<string | undefined>; readonly close: () => void }>((resume) => {
    const lastEventIds: Array<string | undefined> = []
    const sockets = new Set<import("node:net").Socket>()
    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      const last = request.headers["last-event-id"] as string | undefined
      lastEventIds.push(last)
      response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
      const from = last === undefined ? 1 : Number(last) + 1
      response.write(": hello\n\n")
      for (let id = from; id <= 6; id++) {
        response.write(`id: ${id}\nevent: note\ndata: note ${id}\n\n`)
        if (lastEventIds.length === 1 && id === 3) {
          request.socket.end() // the drop: the connection closes mid-stream
          return
        }
      }
    })
    server.on("connection", (socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    })
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`,
        lastEventIds,
        close: () => {
          for (const socket of sockets) socket.destroy()
          server.close()
        }
      })))
  }),
  (server) => Effect.sync(() => server.close())
)

describe("examples/sse-client", () => {
  it.live("reconnects after a drop with Last-Event-ID: every event exactly once, in order", () =>
    Effect.gen(function*() {
      const server = yield* sseServer
      const store = yield* Store.make({ initialState, reducer, label: "sse-example" })
      const actions = yield* store.subscribe({ overflow: "unbounded" })
      yield* store.send(Action.Subscribe({ url: server.url }))
      const seen = yield* Stream.runCollect(
        Stream.takeUntil(actions, (a) => a._tag === "Received" && a.event.id === "6")
      ).pipe(Effect.timeout("10 seconds"))
      const state = yield* store.state
      expect(state.events.map((e) => [e.id, e.event, e.data])).toEqual(
        [1, 2, 3, 4, 5, 6].map((id) => [String(id), "note", `note ${id}`])
      )
      expect(state.connections).toBe(2)
      expect(server.lastEventIds).toEqual([undefined, "3"])
      const story = [...seen].map((a) => a._tag === "Received" ? a.event.id : a._tag)
      expect(story).toEqual(["Subscribe", "Connected", "1", "2", "3", "Dropped", "Connected", "4", "5", "6"])
      yield* store.send(Action.Unsubscribe())
    }).pipe(Effect.scoped))

  it.live("the retry schedule is followed across drops: it gives up when it is done", () =>
    Effect.gen(function*() {
      // Nothing listens on this port: every attempt fails at once.
      const closed = yield* Effect.promise(() =>
        new Promise<number>((resolve) => {
          const server = createServer()
          server.listen(0, "127.0.0.1", () => {
            const port = (server.address() as AddressInfo).port
            server.close(() => resolve(port))
          })
        })
      )
      const actions = yield* Stream.runCollect(subscribe(`http://127.0.0.1:${closed}/events`, Schedule.recurs(2))).pipe(
        Effect.timeout("10 seconds")
      )
      const tags = Chunk.toReadonlyArray(actions).map((a) => (a._tag === "Dropped" && a.reason.startsWith("gave up") ? "GaveUp" : a._tag))
      // The first attempt and two retries, then it stops.
      expect(tags).toEqual(["Dropped", "Dropped", "Dropped", "GaveUp"])
    }))

  it.live("lines may end in CR LF, LF or a lone CR, even split across chunks", () =>
    Effect.gen(function*() {
      // Three events, each with its own line ending; the CR LF of the second is split between two writes.
      const url = yield* Effect.acquireRelease(
        Effect.async<{ readonly url: string; readonly close: () => void }>((resume) => {
          const server = createServer((_request, response) => {
            response.writeHead(200, { "content-type": "text/event-stream" })
            response.write("id: 1\rdata: one\r\r")
            response.write("id: 2\r")
            setImmediate(() => {
              response.write("\ndata: two\r\n\r\nid: 3\ndata: three\n\n")
              response.end()
            })
          })
          server.listen(0, "127.0.0.1", () =>
            resume(Effect.succeed({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() })))
        }),
        (server) => Effect.sync(() => server.close())
      )
      const received = yield* subscribe(url.url, Schedule.stop).pipe(
        Stream.filter((a) => a._tag === "Received"),
        Stream.take(3),
        Stream.runCollect,
        Effect.timeout("10 seconds")
      )
      expect(Chunk.toReadonlyArray(received).map((a) => a._tag === "Received" ? [a.event.id, a.event.data] : [])).toEqual([
        ["1", "one"],
        ["2", "two"],
        ["3", "three"]
      ])
    }).pipe(Effect.scoped))
})
