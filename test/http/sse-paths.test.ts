/**
 * `StoreHttp.layer` answers `GET /events` and `GET /changes` from Node's request event (no platform
 * fiber per client); `StoreHttp.router`, mounted on a server of the user's, through the platform. Both
 * must behave the same: these run every check against both.
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as http from "node:http"
import { Store } from "../../src/index.js"
import * as StoreHttp from "../../src/StoreHttp.js"
import { Action, reducer, serve, State } from "./fixture.js"

/** The same feature, its routes mounted with `StoreHttp.router` on a bare platform server. */
const serveRouter = (options: Partial<StoreHttp.Options<State, Action, typeof Action.Encoded, typeof State.Encoded>>) =>
  Effect.gen(function*() {
    const store = yield* Store.make({ initialState: { ticks: 0, pings: 0 }, reducer, label: "sse-paths" })
    const routes = yield* StoreHttp.router(store, { actions: Action, state: State, ...options })
    const context = yield* Layer.build(
      HttpServer.serve(StoreHttp.withJsonErrors(routes)).pipe(
        Layer.provideMerge(NodeHttpServer.layer(http.createServer, { port: 0, host: "127.0.0.1" }))
      )
    )
    const address = Context.get(context, HttpServer.HttpServer).address as HttpServer.TcpAddress
    return { url: `http://127.0.0.1:${address.port}`, store }
  })

/** Reads an SSE response until `until` is in the text (or it ends); the status, headers and text. */
const readUntil = (url: string, until: string, headers: Record<string, string> = {}, method = "GET") =>
  Effect.promise(async () => {
    const controller = new AbortController()
    const response = await fetch(url, { headers, method, signal: controller.signal })
    let text = ""
    if (response.body !== null) {
      const reader = response.body.getReader()
      const decoder = new TextDecoder()
      while (!text.includes(until)) {
        const { done, value } = await reader.read()
        if (done) break
        text += decoder.decode(value, { stream: true })
      }
    }
    controller.abort()
    return { status: response.status, type: response.headers.get("content-type"), cors: response.headers.get("access-control-allow-origin"), text }
  })

const paths = {
  "StoreHttp.layer (direct)": (options: Parameters<typeof serveRouter>[0]) =>
    Effect.map(serve(options), ({ store, url }) => ({ store, url })),
  "StoreHttp.router (platform)": serveRouter
} as const

for (const [name, start] of Object.entries(paths)) {
  describe(`SSE routes through ${name}`, () => {
    it.live("an allowed cross-origin page gets its events with the CORS header; others are refused with JSON", () =>
      Effect.gen(function*() {
        const { store, url } = yield* start({ allowedOrigins: ["https://app.example"] })
        const reading = yield* Effect.fork(readUntil(`${url}/events`, "event: action", { origin: "https://app.example" }))
        // Sent until the reader has subscribed and seen one.
        for (let i = 0; i < 300 && reading.unsafePoll() === null; i++) {
          yield* store.send({ _tag: "Ping" })
          yield* Effect.sleep("10 millis")
        }
        const allowed = yield* reading.await.pipe(Effect.flatten)
        expect(allowed.status).toBe(200)
        expect(allowed.type).toBe("text/event-stream")
        expect(allowed.cors).toBe("https://app.example")
        expect(allowed.text.startsWith("retry: 3000\n: connected\n\n")).toBe(true)
        const refused = yield* readUntil(`${url}/events`, "}", { origin: "https://other.example" })
        expect([refused.status, JSON.parse(refused.text).error]).toEqual([403, "ForbiddenOrigin"])
      }).pipe(Effect.scoped))

    it.live("an invalid Last-Event-ID is a JSON 400; HEAD answers the headers only", () =>
      Effect.gen(function*() {
        const { url } = yield* start({})
        const invalid = yield* readUntil(`${url}/events`, "}", { "last-event-id": "x" })
        expect([invalid.status, JSON.parse(invalid.text).error]).toEqual([400, "InvalidHeader"])
        const head = yield* readUntil(`${url}/events`, "", {}, "HEAD")
        expect([head.status, head.type, head.text]).toEqual([200, "text/event-stream", ""])
      }).pipe(Effect.scoped))

    it.live("GET /changes starts with the current state, and ends when the store shuts down", () =>
      Effect.gen(function*() {
        const { store, url } = yield* start({})
        yield* store.send({ _tag: "Ping" })
        const first = yield* readUntil(`${url}/changes`, ": connected")
        expect(first.text).toContain(`event: state\ndata: ${JSON.stringify({ ticks: 0, pings: 1 })}`)
        const ended = yield* Effect.fork(readUntil(`${url}/changes`, "never sent"))
        yield* Effect.sleep("50 millis")
        yield* store.shutdown()
        const read = yield* ended.await.pipe(Effect.flatten, Effect.timeout("5 seconds"))
        expect(read.text).toContain(": connected")
      }).pipe(Effect.scoped))
  })
}

