import { describe, expect, it } from "@effect/vitest"
import { HttpServer } from "@effect/platform"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Schema, Scope } from "effect"
import * as http from "node:http"
import WebSocket from "ws"
import { Reducer, Store } from "../../src/index.js"
import { EventLog } from "../../src/internal/eventLog.js"
import * as StoreHttp from "../../src/StoreHttp.js"
import { Action, post, readSse, serve, type SseEvent, type State } from "./fixture.js"

// Type-level, checked by `npm run typecheck`: `accepts` names the action type's tags, so a typo fails to compile.
export const acceptsTags: StoreHttp.Options<State, Action, typeof Action.Encoded, never> = {
  actions: Action,
  accepts: ["Ping", "Count"]
}
export const acceptsTypo: StoreHttp.Options<State, Action, typeof Action.Encoded, never> = {
  actions: Action,
  // @ts-expect-error "Pnig" is not a tag of Action
  accepts: ["Pnig"]
}

/** Serves a store of `reducer` on a free loopback port for the current scope. */
const serveReducer = <S, A, I>(
  initialState: S,
  reducer: Reducer.Reducer<S, A>,
  actions: Schema.Schema<A, I>,
  options: Partial<StoreHttp.Options<S, A, I, any>> = {}
) =>
  Effect.gen(function*() {
    class Served extends Context.Tag("test/Served")<Served, Store.Store<S, A>>() {}
    const context = yield* Layer.build(Layer.provideMerge(
      StoreHttp.layer(Served, { actions, port: 0, host: "127.0.0.1", ...options }),
      Store.layer(Served, { initialState, reducer })
    ))
    const port = (Context.get(context, HttpServer.HttpServer).address as HttpServer.TcpAddress).port
    return { store: Context.get(context, Served), url: `http://127.0.0.1:${port}` }
  })

describe("StoreHttp over loopback", () => {
  it.live("StoreHttp.layer shuts down while SSE and WebSocket clients are connected: it lets them go first", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const { url } = yield* Scope.extend(serveReducer(0, Reducer.fromState((n: number, _: "inc") => n + 1), Schema.Literal("inc")), scope)
      const connected = yield* Deferred.make<void>()
      const sse = yield* Effect.fork(readSse(`${url}/events`, () => false, {}, connected))
      yield* Deferred.await(connected)
      const socket = yield* Effect.promise(() =>
        new Promise<{ readonly closed: Promise<number> }>((resolve, reject) => {
          const ws = new WebSocket(`${url.replace("http", "ws")}/ws`)
          const closed = new Promise<number>((done) => ws.on("close", done))
          ws.on("open", () => resolve({ closed }))
          ws.on("error", reject)
        })
      )
      // Releasing the layer must not wait on the clients, which would otherwise last as long as the store.
      // (Closing a scope is uninterruptible: disconnect it, so a hang fails here after 5 seconds.)
      const released = yield* Scope.close(scope, Exit.void).pipe(Effect.disconnect, Effect.timeout("5 seconds"), Effect.either)
      expect(released._tag).toBe("Right")
      // Both clients saw their stream end.
      yield* Fiber.join(sse).pipe(Effect.timeout("5 seconds"))
      yield* Effect.promise(() => socket.closed).pipe(Effect.timeout("5 seconds"))
    }))

  it.live("POST /actions accepts an action at once with its event id", () =>
    Effect.gen(function*() {
      const { store, url } = yield* serve()
      const first = yield* post(`${url}/actions`, JSON.stringify({ _tag: "Ping" }))
      expect(first).toEqual({ status: 202, body: { accepted: true, id: 1 } })
      // Ping's own Fx.send(Pong) took id 2, so the next action is 3.
      const second = yield* post(`${url}/actions`, JSON.stringify({ _tag: "Ping" }))
      expect(second.body).toEqual({ accepted: true, id: 3 })
      expect(yield* store.state).toEqual({ ticks: 0, pings: 2 })
    }).pipe(Effect.scoped))

  it.live("POST /actions?waitFor returns the first matching action reduced after it", () =>
    Effect.gen(function*() {
      const { url } = yield* serve()
      const reply = yield* post(`${url}/actions?waitFor=Pong&timeoutMs=2000`, JSON.stringify({ _tag: "Ping" }))
      expect(reply).toEqual({ status: 200, body: { _tag: "Pong" } })
      // A Ping never brings a Tick: the wait times out.
      const timedOut = yield* post(`${url}/actions?waitFor=Tick&timeoutMs=50`, JSON.stringify({ _tag: "Ping" }))
      expect(timedOut.status).toBe(504)
      expect(timedOut.body.error).toBe("WaitTimeout")
    }).pipe(Effect.scoped))

  it.live("bad input is refused with a JSON error and never reaches the reducer", () =>
    Effect.gen(function*() {
      const { store, url } = yield* serve({ maxBodyBytes: 256 })
      const malformed = yield* post(`${url}/actions`, "{not json")
      expect(malformed.status).toBe(400)
      expect(malformed.body.error).toBe("MalformedJson")
      const invalid = yield* post(`${url}/actions`, JSON.stringify({ _tag: "Count", n: -5 }))
      expect(invalid.status).toBe(400)
      expect(invalid.body.error).toBe("InvalidAction")
      expect(String(invalid.body.message)).toContain("n")
      const oversized = yield* post(`${url}/actions`, JSON.stringify({ _tag: "Ping", padding: "x".repeat(1000) }))
      expect(oversized.status).toBe(413)
      expect(oversized.body.error).toBe("PayloadTooLarge")
      const missing = yield* Effect.promise(() => fetch(`${url}/nowhere`).then(async (r) => ({ status: r.status, body: await r.json() })))
      expect(missing.status).toBe(404)
      expect(missing.body.error).toBe("NotFound")
      const notUpgraded = yield* Effect.promise(() => fetch(`${url}/ws`).then(async (r) => ({ status: r.status, body: await r.json() })))
      expect([notUpgraded.status, notUpgraded.body.error]).toEqual([426, "UpgradeRequired"])
      expect(yield* store.state).toEqual({ ticks: 0, pings: 0 })
    }).pipe(Effect.scoped))

  it.live("GET /events streams a running Fx.stream and resumes after Last-Event-ID", () =>
    Effect.gen(function*() {
      const { url } = yield* serve()
      const connected = yield* Deferred.make<void>()
      const reading = yield* Effect.fork(readSse(`${url}/events`, (events) => events.length >= 7, {}, connected))
      yield* Deferred.await(connected)
      yield* post(`${url}/actions`, JSON.stringify({ _tag: "Count", n: 6 }))
      const first = yield* reading.await.pipe(Effect.flatten)
      expect(first.contentType).toContain("text/event-stream")
      expect(first.events.map((e) => [e.id, e.event, e.data])).toEqual([
        ["1", "action", JSON.stringify({ _tag: "Count", n: 6 })],
        ["2", "action", JSON.stringify({ _tag: "Tick", i: 1 })],
        ["3", "action", JSON.stringify({ _tag: "Tick", i: 2 })],
        ["4", "action", JSON.stringify({ _tag: "Tick", i: 3 })],
        ["5", "action", JSON.stringify({ _tag: "Tick", i: 4 })],
        ["6", "action", JSON.stringify({ _tag: "Tick", i: 5 })],
        ["7", "action", JSON.stringify({ _tag: "Tick", i: 6 })]
      ])
      // Reconnect after event 4: events 5..7 come from the replay buffer, without a gap.
      const resumed = yield* readSse(`${url}/events`, (events) => events.length >= 3, { "last-event-id": "4" })
      expect(resumed.events.map((e) => [e.id, e.data])).toEqual([
        ["5", JSON.stringify({ _tag: "Tick", i: 4 })],
        ["6", JSON.stringify({ _tag: "Tick", i: 5 })],
        ["7", JSON.stringify({ _tag: "Tick", i: 6 })]
      ])
    }).pipe(Effect.scoped))

  it.live("GET /events reports a gap when the resume point left the replay buffer", () =>
    Effect.gen(function*() {
      const { url } = yield* serve({ replay: 3 })
      yield* post(`${url}/actions?waitFor=Tick&timeoutMs=2000`, JSON.stringify({ _tag: "Count", n: 1 }))
      yield* post(`${url}/actions`, JSON.stringify({ _tag: "Count", n: 5 }))
      yield* Effect.sleep("100 millis")
      const resumed = yield* readSse(`${url}/events`, (events) => events.length >= 2, { "last-event-id": "1" })
      expect(resumed.events[0]).toEqual({ event: "gap", data: JSON.stringify({ from: 2, to: 5 }) })
      expect(resumed.events[1]!.id).toBe("6")
    }).pipe(Effect.scoped))

  it.live("a client that stops reading never stalls the store; it is told what it lost", () =>
    Effect.gen(function*() {
      const { store, url } = yield* serve({ clientBuffer: 16 })
      const controller = new AbortController()
      const response = yield* Effect.promise(() => fetch(`${url}/events`, { signal: controller.signal }))
      const reader = response.body!.getReader()
      const decoder = new TextDecoder()
      // The first chunk is the `connected` comment: subscribed; from here on the client reads nothing.
      let seen = decoder.decode((yield* Effect.promise(() => reader.read())).value, { stream: true })
      // 40,000 events (each Ping feeds back a Pong), megabytes of SSE, while the client reads nothing.
      for (let i = 0; i < 20_000; i++) yield* store.send({ _tag: "Ping" })
      expect((yield* store.state).pings).toBe(20_000)
      const text = yield* Effect.promise(async () => {
        while (!seen.includes("event: gap")) {
          const { done, value } = await reader.read()
          if (done) break
          seen += decoder.decode(value, { stream: true })
        }
        controller.abort()
        return seen
      })
      expect(text).toContain("event: gap")
    }).pipe(Effect.scoped))

  it.live("GET /events sends heartbeat comments while nothing happens", () =>
    Effect.gen(function*() {
      const { url } = yield* serve({ heartbeat: "50 millis" })
      const text = yield* Effect.promise(async () => {
        const controller = new AbortController()
        const response = await fetch(`${url}/events`, { signal: controller.signal })
        const reader = response.body!.getReader()
        const decoder = new TextDecoder()
        let seen = ""
        while ((seen.match(/: heartbeat/g) ?? []).length < 2) {
          const { done, value } = await reader.read()
          if (done) break
          seen += decoder.decode(value, { stream: true })
        }
        controller.abort()
        return seen
      })
      // The first block sets the reconnection delay and says the subscription exists.
      expect(text.startsWith("retry: 3000\n: connected\n\n")).toBe(true)
      expect((text.match(/: heartbeat\n\n/g) ?? []).length).toBe(2)
    }).pipe(Effect.scoped))

  it.live("GET /events ends cleanly when the store shuts down", () =>
    Effect.gen(function*() {
      const { store, url } = yield* serve()
      const connected = yield* Deferred.make<void>()
      const reading = yield* Effect.fork(readSse(`${url}/events`, () => false, {}, connected))
      yield* Deferred.await(connected)
      yield* store.shutdown({ timeout: "1 second" })
      const result = yield* reading.await.pipe(Effect.flatten, Effect.timeout("2 seconds"))
      expect(result.events).toEqual([])
    }).pipe(Effect.scoped))

  it.live("WebSocket: actions in, broadcast actions out, error frames keep the connection", () =>
    Effect.gen(function*() {
      const { store, url } = yield* serve()
      const frames = yield* Effect.promise(() =>
        new Promise<Array<Record<string, unknown>>>((resolve, reject) => {
          const socket = new WebSocket(`${url.replace("http", "ws")}/ws`)
          const received: Array<Record<string, unknown>> = []
          socket.on("error", reject)
          socket.on("open", () => {
            socket.send("{oops")
            socket.send(JSON.stringify({ _tag: "Count", n: "many" }))
            socket.send(JSON.stringify({ _tag: "Ping" }))
          })
          socket.on("message", (data) => {
            received.push(JSON.parse(String(data)))
            if (received.length === 4) {
              socket.close()
              resolve(received)
            }
          })
        })
      )
      expect(frames.map((f) => f.type === "error" ? ["error", f.error] : ["action", f.id, (f.action as { _tag: string })._tag])).toEqual([
        ["error", "MalformedJson"],
        ["error", "InvalidAction"],
        ["action", 1, "Ping"],
        ["action", 2, "Pong"]
      ])
      expect(yield* store.state).toEqual({ ticks: 0, pings: 1 })
    }).pipe(Effect.scoped))

  it.live("WebSocket: a burst larger than clientBuffer reaches a client that reads, whole and in order", () =>
    Effect.gen(function*() {
      const { store, url } = yield* serve({ clientBuffer: 4 })
      const ids: Array<unknown> = []
      let subscribed: () => void
      const ready = new Promise<void>((resolve) => subscribed = resolve)
      let finished: () => void
      const done = new Promise<void>((resolve) => finished = resolve)
      const socket = new WebSocket(`${url.replace("http", "ws")}/ws`)
      socket.on("open", () => socket.send(JSON.stringify({ _tag: "Ping" })))
      socket.on("message", (data) => {
        ids.push(JSON.parse(String(data)).id)
        if (ids.length === 2) subscribed() // its own Ping and Pong: the socket has the log's events
        if (ids.length === 42) finished()
      })
      yield* Effect.promise(() => ready)
      // 20 Pings reduced before the log flushes: one delivery of 40 events, ten times the client's buffer.
      for (let i = 0; i < 20; i++) yield* store.send({ _tag: "Ping" })
      yield* Effect.promise(() => done).pipe(Effect.timeout("5 seconds"))
      socket.close()
      expect(ids).toEqual(Array.from({ length: 42 }, (_, i) => i + 1))
    }).pipe(Effect.scoped))

  it.live("GET /state encodes the state with its schema", () =>
    Effect.gen(function*() {
      const { url } = yield* serve()
      yield* post(`${url}/actions?waitFor=Pong&timeoutMs=2000`, JSON.stringify({ _tag: "Ping" }))
      const state = yield* Effect.promise(() => fetch(`${url}/state`).then((r) => r.json()))
      expect(state).toEqual({ ticks: 0, pings: 1 })
    }).pipe(Effect.scoped))

  it.live("GET /changes streams the current state, then each new one, as state events", () =>
    Effect.gen(function*() {
      const { url } = yield* serve()
      yield* post(`${url}/actions?waitFor=Pong&timeoutMs=2000`, JSON.stringify({ _tag: "Ping" }))
      const done = (events: ReadonlyArray<SseEvent>) => events.some((e) => e.data !== undefined && JSON.parse(e.data).ticks === 300)
      const connected = yield* Deferred.make<void>()
      // The first state frame comes before the `connected` comment: from then on no change is missed.
      const reading = yield* Effect.fork(readSse(`${url}/changes`, done, {}, connected))
      yield* Deferred.await(connected)
      yield* post(`${url}/actions`, JSON.stringify({ _tag: "Count", n: 300 }))
      const { contentType, events } = yield* reading.await.pipe(Effect.flatten, Effect.timeout("5 seconds"))
      expect(contentType).toBe("text/event-stream")
      expect(events.every((e) => e.event === "state")).toBe(true)
      const states = events.map((e) => JSON.parse(e.data!) as { ticks: number; pings: number })
      // The first frame is the state at connect time (the earlier Ping counted), then ticks only grow.
      expect(states[0]).toEqual({ ticks: 0, pings: 1 })
      expect(states.every((s, i) => i === 0 || s.ticks > states[i - 1].ticks)).toBe(true)
      expect(states.at(-1)).toEqual({ ticks: 300, pings: 1 })
    }).pipe(Effect.scoped))

  it.live("GET /changes is conflated: a client that stops reading gets the newest state, not every one", () =>
    Effect.gen(function*() {
      // States of 100 KB each: 200 of them are far more than the socket buffers hold for a paused client.
      const reducer = Reducer.fromState((_: string, n: number) => `${n}:${"x".repeat(100_000)}`)
      const { store, url } = yield* serveReducer("0:", reducer, Schema.Number, { state: Schema.String })
      const controller = new AbortController()
      const response = yield* Effect.promise(() => fetch(`${url}/changes`, { signal: controller.signal }))
      const reader = response.body!.getReader()
      const decoder = new TextDecoder()
      let text = ""
      while (!text.includes(": connected")) text += decoder.decode((yield* Effect.promise(() => reader.read())).value)
      for (let n = 1; n <= 200; n++) yield* store.send(n)
      // Now read: frames until the newest state arrives.
      const frames = yield* Effect.promise(async () => {
        while (!text.includes(`data: "200:`)) {
          const { done, value } = await reader.read()
          if (done) break
          text += decoder.decode(value, { stream: true })
        }
        controller.abort()
        return text.match(/event: state/g)?.length ?? 0
      })
      expect(text).toContain(`data: "200:`)
      expect(frames).toBeLessThan(100)
    }).pipe(Effect.scoped))

  it.live("GET /changes answers 404 when the store publishes no state schema", () =>
    Effect.gen(function*() {
      const { url } = yield* serve({ state: undefined })
      const response = yield* Effect.promise(() => fetch(`${url}/changes`).then(async (r) => ({ status: r.status, body: await r.json() })))
      expect(response).toEqual({ status: 404, body: { error: "NotFound", message: "this store does not publish its state" } })
    }).pipe(Effect.scoped))

  it.live("accepts: clients may send only the listed actions; the others are refused with 403, over HTTP and WebSocket", () =>
    Effect.gen(function*() {
      const { store, url } = yield* serve({ accepts: ["Ping", "Count"] })
      const refused = yield* post(`${url}/actions`, JSON.stringify({ _tag: "Tick", i: 1 }))
      expect(refused.status).toBe(403)
      expect(refused.body).toMatchObject({ error: "NotAccepted", message: "clients may not send Tick; they may send Ping, Count" })
      const frames = yield* Effect.promise(() =>
        new Promise<Array<unknown>>((resolve, reject) => {
          const ws = new WebSocket(`${url.replace("http", "ws")}/ws`)
          const received: Array<unknown> = []
          ws.on("open", () => {
            ws.send(JSON.stringify({ _tag: "Pong" }))
            ws.send(JSON.stringify({ _tag: "Ping" }))
          })
          ws.on("message", (data) => {
            received.push(JSON.parse(String(data)))
            if (received.length === 3) (ws.close(), resolve(received))
          })
          ws.on("error", reject)
        })
      )
      expect(frames[0]).toEqual({ type: "error", error: "NotAccepted", message: "clients may not send Pong; they may send Ping, Count" })
      // Ping is accepted, and the Pong its effect sends is still broadcast.
      expect(frames.slice(1).map((f) => (f as { action: { _tag: string } }).action._tag)).toEqual(["Ping", "Pong"])
      expect(yield* store.state).toEqual({ ticks: 0, pings: 1 })
    }).pipe(Effect.scoped))

  it.live("POST /actions answers 500 ReducerDefect at once when the reducer throws on the action; a WebSocket gets the error frame", () =>
    Effect.gen(function*() {
      const reducer = Reducer.fromState((n: number, a: "inc" | "boom") => {
        if (a === "boom") throw new Error("boom")
        return n + 1
      })
      const { url } = yield* serveReducer(0, reducer, Schema.Literal("inc", "boom"))
      const boom = yield* post(`${url}/actions`, JSON.stringify("boom")).pipe(Effect.timeout("5 seconds"))
      expect(boom).toMatchObject({ status: 500, body: { error: "ReducerDefect" } })
      // String actions, equal to each other, still get their own ids.
      const ids = yield* Effect.forEach([1, 2, 3], () => post(`${url}/actions`, JSON.stringify("inc")))
      expect(ids.map((r) => r.body.id)).toEqual([1, 2, 3])
      const frame = yield* Effect.promise(() =>
        new Promise<unknown>((resolve, reject) => {
          const ws = new WebSocket(`${url.replace("http", "ws")}/ws`)
          ws.on("open", () => ws.send(JSON.stringify("boom")))
          ws.on("message", (data) => (ws.close(), resolve(JSON.parse(String(data)))))
          ws.on("error", reject)
        })
      ).pipe(Effect.timeout("5 seconds"))
      expect(frame).toMatchObject({ type: "error", error: "ReducerDefect" })
    }).pipe(Effect.scoped))

  it.live("a new SSE client gets live events only; an id this log never gave gets a reset event", () =>
    Effect.gen(function*() {
      const { url } = yield* serve()
      yield* post(`${url}/actions?waitFor=Pong&timeoutMs=2000`, JSON.stringify({ _tag: "Ping" })) // ids 1, 2
      const fresh = yield* Deferred.make<void>()
      const reading = yield* Effect.fork(readSse(`${url}/events`, (events) => events.length >= 2, {}, fresh))
      yield* Deferred.await(fresh)
      yield* post(`${url}/actions`, JSON.stringify({ _tag: "Ping" })) // ids 3, 4
      const { events } = yield* reading.await.pipe(Effect.flatten, Effect.timeout("5 seconds"))
      expect(events.map((e) => e.id)).toEqual(["3", "4"])
      // After a server restart a client may come back with an id from the old log.
      const ahead = yield* readSse(`${url}/events`, (events) => events.length >= 1, { "last-event-id": "100" })
      expect(ahead.events[0]).toEqual({ event: "reset", data: JSON.stringify({ latest: 4 }) })
    }).pipe(Effect.scoped))

  it.live("a wait that cannot be honoured is refused with 400 InvalidQuery before anything is sent", () =>
    Effect.gen(function*() {
      const { store, url } = yield* serve()
      for (const query of ["waitFor=Pong&timeoutMs=abc", "waitFor=Pong&waitFor=Ping", "waitFor=Pong&timeoutMs=-5", "waitFor=Pnog", "waitFor=Pong,"]) {
        const refused = yield* post(`${url}/actions?${query}`, JSON.stringify({ _tag: "Ping" }))
        expect([query, refused.status, refused.body.error]).toEqual([query, 400, "InvalidQuery"])
      }
      expect((yield* store.state).pings).toBe(0)
    }).pipe(Effect.scoped))

  it.live("the WebSocket size limit counts bytes, like HTTP bodies", () =>
    Effect.gen(function*() {
      const { store, url } = yield* serve({ maxBodyBytes: 64 })
      // 51 characters, but the euro signs make it 91 bytes in UTF-8.
      const wide = JSON.stringify({ _tag: "Count", n: 1, pad: "€".repeat(20) })
      expect(wide.length).toBeLessThanOrEqual(64)
      expect(Buffer.byteLength(wide)).toBeGreaterThan(64)
      const frame = yield* Effect.promise(() =>
        new Promise<unknown>((resolve, reject) => {
          const ws = new WebSocket(`${url.replace("http", "ws")}/ws`)
          ws.on("open", () => ws.send(wide))
          ws.on("message", (data) => (ws.close(), resolve(JSON.parse(String(data)))))
          ws.on("error", reject)
        })
      )
      expect(frame).toMatchObject({ type: "error", error: "PayloadTooLarge" })
      expect((yield* store.state).ticks).toBe(0)
    }).pipe(Effect.scoped))

  it.live("a binary WebSocket message is read as strict UTF-8: valid JSON is sent, bad bytes are refused, not garbled", () =>
    Effect.gen(function*() {
      const { store, url } = yield* serve()
      const ping = Buffer.from(JSON.stringify({ _tag: "Ping" }))
      // A Ping with a byte that is not UTF-8 in a field the schema ignores: a lenient decoder would turn it
      // into U+FFFD and let the Ping through.
      const garbled = Buffer.concat([Buffer.from('{"_tag":"Ping","note":"'), Buffer.from([0xff]), Buffer.from('"}')])
      const frames = yield* Effect.promise(() =>
        new Promise<Array<unknown>>((resolve, reject) => {
          const received: Array<unknown> = []
          const ws = new WebSocket(`${url.replace("http", "ws")}/ws`)
          ws.on("open", () => (ws.send(garbled, { binary: true }), ws.send(ping, { binary: true })))
          ws.on("message", (data) => {
            received.push(JSON.parse(String(data)))
            if (received.length === 3) (ws.close(), resolve(received))
          })
          ws.on("error", reject)
        })
      )
      expect(frames).toEqual([
        { type: "error", error: "MalformedJson", message: "a binary message is not valid UTF-8" },
        { type: "action", id: 1, action: { _tag: "Ping" } },
        { type: "action", id: 2, action: { _tag: "Pong" } }
      ])
      expect(yield* store.state).toEqual({ ticks: 0, pings: 1 })
    }).pipe(Effect.scoped))

  it.live("a chunked body over maxBodyBytes gets 413, not a dropped connection; bytes are counted before decoding", () =>
    Effect.gen(function*() {
      const { url } = yield* serve({ maxBodyBytes: 64 })
      /** Posts `parts` with chunked transfer encoding (no content-length), through node:http. */
      const chunked = (parts: ReadonlyArray<Buffer>) =>
        Effect.async<{ status: number; body: Record<string, unknown> }, Error>((resume) => {
          const request = http.request(`${url}/actions`, { method: "POST", headers: { "content-type": "application/json" } }, (response) => {
            let text = ""
            response.on("data", (chunk) => (text += chunk))
            response.on("end", () => resume(Effect.succeed({ status: response.statusCode!, body: JSON.parse(text) })))
          })
          request.on("error", (error) => resume(Effect.fail(error)))
          for (const part of parts) request.write(part)
          request.end()
        })
      const big = yield* chunked([Buffer.from(`{"_tag":"Count","n":1,"pad":"`), Buffer.from("x".repeat(40)), Buffer.from(`"}`)])
      expect(big).toMatchObject({ status: 413, body: { error: "PayloadTooLarge" } })
      // 42 bytes of which 20 are invalid UTF-8: under the limit, refused as not UTF-8 (not as too large).
      const invalid = yield* chunked([Buffer.from(`{"_tag":"Ping","x":"`), Buffer.alloc(20, 0xff), Buffer.from(`"}`)])
      expect(invalid).toMatchObject({ status: 400, body: { error: "MalformedJson", message: "the body is not valid UTF-8" } })
    }).pipe(Effect.scoped))

  it.live("an event log made on a store that already shut down ends its subscribers at once", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: 0, reducer: Reducer.fromState((n: number, _: "inc") => n + 1) })
      yield* store.shutdown()
      const log = yield* EventLog.make(store, { replay: 10 })
      let ended = false
      const delivered: Array<number> = []
      log.subscribe({ _tag: "Fresh" }, { deliver: (b) => void delivered.push(b.events.length), end: () => void (ended = true) })
      expect(ended).toBe(true)
      expect(delivered).toEqual([])
    }).pipe(Effect.scoped))
})
