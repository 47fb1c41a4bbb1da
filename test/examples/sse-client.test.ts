import { describe, expect, it } from "@effect/vitest"
import { Chunk, Clock, Effect, Queue, Schedule, Stream, TestClock } from "effect"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Action, initialState, reducer, Refused, subscribe } from "../../examples/sse-client.js"
import { Fx, Reducer, Store } from "../../src/index.js"

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

interface Request {
  readonly path: string | undefined
  readonly lastEventId: string | undefined
}

/** A script for `scriptedServer`: the first connection gets `body` and is dropped, every later one a 204. */
const dropThenNoContent = (body: string) => (n: number, _request: IncomingMessage, response: ServerResponse) => {
  if (n > 0) return void response.writeHead(204).end()
  response.writeHead(200, { "content-type": "text/event-stream" })
  response.end(body)
}

/**
 * A loopback server whose `respond` answers the n-th request (from 0). It records each request's path and
 * `Last-Event-ID`, so a test can tell how many connections reached it and what each one resumed from.
 */
const scriptedServer = (respond: (n: number, request: IncomingMessage, response: ServerResponse) => void) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Server; readonly url: string; readonly requests: ReadonlyArray<Request> }>((resume) => {
      const requests: Array<Request> = []
      const server = createServer((request, response) => {
        requests.push({ path: request.url, lastEventId: request.headers["last-event-id"] as string | undefined })
        respond(requests.length - 1, request, response)
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests })))
    }),
    ({ server }) =>
      Effect.sync(() => {
        server.closeAllConnections()
        server.close()
      })
  )

/** A store that runs `fx` when sent `Run` and records every action it feeds back. */
const recorder = (fx: Fx.Fx<Action>) =>
  Store.make({
    initialState: [] as ReadonlyArray<Action>,
    reducer: Reducer.make((seen: ReadonlyArray<Action>, action: Action | "Run") =>
      action === "Run" ? [seen, fx] as const : [[...seen, action], Fx.none] as const
    ),
    label: "sse-recorder"
  })

/** Runs `fx` until it ends (its last action was reduced): every action it fed back, in order. */
const collect = (fx: Fx.Fx<Action>): Effect.Effect<ReadonlyArray<Action>> =>
  Effect.gen(function*() {
    const store = yield* recorder(fx)
    const task = yield* store.send("Run")
    yield* task.finish
    return yield* store.state
  }).pipe(Effect.orDie, Effect.scoped)

/** Runs `fx` in the background: each action it feeds back is offered to the queue it returns. */
const running = (fx: Fx.Fx<Action>) =>
  Effect.gen(function*() {
    const store = yield* recorder(fx)
    const actions = yield* Queue.unbounded<Action>()
    const fed = yield* store.subscribe({ overflow: "unbounded" })
    yield* Effect.forkScoped(Stream.runForEach(fed, (action) => action === "Run" ? Effect.void : Queue.offer(actions, action)))
    yield* store.send("Run")
    return actions
  })

const tag = (action: Action) =>
  action._tag === "Received"
    ? `Received ${action.event.id}`
    : action._tag === "Dropped" && action.reason.startsWith("gave up")
    ? "GaveUp"
    : action._tag

/**
 * The TestClock's pending wake-up times once there is one: the reconnect's sleep starts just after `Dropped`.
 * Empty if `reconnected` comes true first (the reconnect did not sleep), so a broken delay fails, not hangs.
 */
const pendingSleeps = (reconnected: () => boolean): Effect.Effect<ReadonlyArray<number>> =>
  Effect.flatMap(TestClock.sleeps(), (sleeps) =>
    Chunk.isNonEmpty(sleeps) || reconnected()
      ? Effect.succeed(Chunk.toReadonlyArray(sleeps))
      : Effect.zipRight(Effect.yieldNow(), pendingSleeps(reconnected)))

describe("examples/sse-client", () => {
  it("the subscription is a push leaf under its cancellation id: no fiber waits between events", () => {
    const [, fx] = reducer(initialState, Action.Subscribe({ url: "http://127.0.0.1:1/events" }))
    expect(fx._tag === "Cancellable" && [fx.id, fx.cancelInFlight, fx.fx._tag]).toEqual(["sse", true, "Subscribe"])
  })

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

  it.live("while a backpressuring subscriber is full the body is not read; reading resumes when it has room", () =>
    Effect.gen(function*() {
      // A body that makes one event each time it is read, 2,000 in all: how often it was read is how far the
      // client went (a client that ignored the pause would read them all at once).
      let reads = 0
      const body = new ReadableStream<Uint8Array>({
        pull: (controller) => {
          if (++reads > 2_000) return controller.close()
          controller.enqueue(new TextEncoder().encode(`id: ${reads}\ndata: ${reads}\n\n`))
        }
      }, { highWaterMark: 0 })
      const respond = () => Promise.resolve(new Response(body, { headers: { "content-type": "text/event-stream" } }))
      const store = yield* recorder(subscribe("http://sse.test/events", Schedule.stop, { fetch: respond }))
      yield* store.send("Run")
      // Subscribed before the source starts (it starts after the reduction): full with `Connected`, and never
      // drained until below, so the store must wait for it.
      const full = yield* store.subscribe({ capacity: 1, overflow: "backpressure" })
      const turns = Effect.repeatN(Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve))), 20)
      yield* turns
      const paused = reads
      yield* turns
      expect(reads).toBe(paused)
      expect(paused).toBeLessThan(3)
      // Room again: the subscriber takes `Connected` and nine events, which the client reads for it.
      yield* Stream.runDrain(Stream.take(full, 10)).pipe(Effect.timeout("5 seconds"))
      expect(reads).toBeGreaterThanOrEqual(8)
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
      const actions = yield* collect(subscribe(`http://127.0.0.1:${closed}/events`, Schedule.recurs(2))).pipe(
        Effect.timeout("10 seconds")
      )
      const tags = actions.map((a) => (a._tag === "Dropped" && a.reason.startsWith("gave up") ? "GaveUp" : a._tag))
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
      const received = (yield* collect(subscribe(url.url, Schedule.stop)).pipe(Effect.timeout("10 seconds")))
        .filter((a) => a._tag === "Received")
      expect(received.map((a) => a._tag === "Received" ? [a.event.id, a.event.data] : [])).toEqual([
        ["1", "one"],
        ["2", "two"],
        ["3", "three"]
      ])
    }).pipe(Effect.scoped))

  it.effect("retry: the server's delay replaces the schedule's (non-digit values ignored); the schedule still gives up", () =>
    Effect.gen(function*() {
      const server = yield* scriptedServer((n, _request, response) => {
        response.writeHead(200, { "content-type": "text/event-stream" })
        // 5000 is the server's delay; the four lines after it are not all digits and change nothing. Then the
        // drop. The reconnect drops too, at once.
        response.end(n === 0 ? "retry: 5000\nretry: 1e3\nretry: -1\nretry: 300 ms\nretry:\nid: 1\ndata: one\n\n" : "")
      })
      const oneMinuteOnce = Schedule.intersect(Schedule.spaced("1 minute"), Schedule.recurs(1))
      const actions = yield* running(subscribe(server.url, oneMinuteOnce))
      expect(Chunk.toReadonlyArray(yield* Queue.takeN(actions, 3)).map(tag)).toEqual(["Connected", "Received 1", "Dropped"])
      // The reconnect sleeps on the TestClock until 5 s from now: the server's delay, not the schedule's minute.
      const now = yield* Clock.currentTimeMillis
      expect(yield* pendingSleeps(() => server.requests.length > 1)).toEqual([now + 5000])
      yield* TestClock.adjust("4999 millis")
      expect(Chunk.toReadonlyArray(yield* TestClock.sleeps())).toEqual([now + 5000])
      expect(server.requests.length).toBe(1)
      yield* TestClock.adjust("1 millis")
      // The schedule allows one reconnect: the second drop gives up, with no third request.
      expect(Chunk.toReadonlyArray(yield* Queue.takeN(actions, 3)).map(tag)).toEqual(["Connected", "Dropped", "GaveUp"])
      expect(server.requests.map((r) => r.lastEventId)).toEqual([undefined, "1"])
    }).pipe(Effect.scoped))

  it.live("an id-only block moves Last-Event-ID for the reconnect; an id with NULL and an unfinished block do not", () =>
    Effect.gen(function*() {
      // Event 1, then a block with only an id (no event, but the last event ID is 7), then an id holding
      // U+0000 (ignored), then `id: 9` whose block never ends before the drop (never dispatched).
      const server = yield* scriptedServer(dropThenNoContent("id: 1\ndata: one\n\nid: 7\n\nid: 8\u00009\n\nid: 9\n"))
      const actions = yield* collect(subscribe(server.url, Schedule.recurs(1))).pipe(Effect.timeout("10 seconds"))
      expect(actions.map(tag)).toEqual(["Connected", "Received 1", "Dropped", "Ended"])
      expect(server.requests.map((r) => r.lastEventId)).toEqual([undefined, "7"])
    }).pipe(Effect.scoped))

  it.live("HTTP 204 No Content ends the stream with Ended: no further request reaches the server", () =>
    Effect.gen(function*() {
      const server = yield* scriptedServer(dropThenNoContent("id: 1\ndata: one\n\n")) // the reconnect gets the 204
      // A schedule that would reconnect forever: only the 204 can end the stream.
      const actions = yield* collect(subscribe(server.url, Schedule.spaced("10 millis"))).pipe(Effect.timeout("10 seconds"))
      expect(actions.map(tag)).toEqual(["Connected", "Received 1", "Dropped", "Ended"])
      expect(server.requests.length).toBe(2)
      const [state] = reducer(initialState, Action.Ended())
      expect(state.status).toBe("ended")
    }).pipe(Effect.scoped))

  it.live("a status other than 200, or a Content-Type other than text/event-stream, fails without reconnecting", () =>
    Effect.gen(function*() {
      const server = yield* scriptedServer((_n, request, response) => {
        if (request.url === "/unavailable") return void response.writeHead(503, { "content-type": "text/event-stream" }).end()
        if (request.url === "/plain") return void response.writeHead(200, { "content-type": "text/plain" }).end("hello")
        // MIME parameters do not matter: this one is an event stream. Its reconnect gets a 204, which ends it.
        if (request.url === "/charset" && request.headers["last-event-id"] === undefined) {
          return void response.writeHead(200, { "content-type": "Text/Event-Stream; charset=utf-8" }).end("id: 1\ndata: one\n\n")
        }
        response.writeHead(204).end()
      })
      // A schedule that would reconnect three times, so a refusal that is retried fails the test at once.
      const run = (path: string) =>
        collect(subscribe(server.url + path, Schedule.recurs(3))).pipe(Effect.timeout("10 seconds"))
      const unavailable = yield* run("/unavailable")
      expect(unavailable).toEqual([Action.Failed({ error: new Refused({ status: 503, contentType: "text/event-stream" }) })])
      const plain = yield* run("/plain")
      expect(plain).toEqual([Action.Failed({ error: new Refused({ status: 200, contentType: "text/plain" }) })])
      expect((yield* run("/charset")).map(tag)).toEqual(["Connected", "Received 1", "Dropped", "Ended"])
      // One request for each refusal: neither was retried.
      expect(server.requests.map((r) => r.path)).toEqual(["/unavailable", "/plain", "/charset", "/charset"])
      const [state] = reducer(initialState, unavailable[0]!)
      expect(state.status).toBe("failed")
    }).pipe(Effect.scoped))
})
