import { HttpServer } from "@effect/platform"
import { Context, Data, Deferred, Effect, Exit, Layer, Schema, Stream } from "effect"
import WebSocket from "ws"
import { Fx, Reducer, Store } from "../../src/index.js"
import * as StoreHttp from "../../src/StoreHttp.js"

/** A small feature served over HTTP: `Count` streams `n` numbers back as `Tick` actions. */
export const Action = Schema.Union(
  Schema.TaggedStruct("Count", { n: Schema.Int.pipe(Schema.between(0, 1000)) }),
  Schema.TaggedStruct("Tick", { i: Schema.Int }),
  Schema.TaggedStruct("Ping", {}),
  Schema.TaggedStruct("Pong", {})
)
export type Action = typeof Action.Type
export const State = Schema.Struct({ ticks: Schema.Number, pings: Schema.Number })
export type State = typeof State.Type

export const reducer = Reducer.make((state: State, action: Action) => {
  switch (action._tag) {
    case "Count":
      return [state, Fx.stream(Stream.range(1, action.n).pipe(Stream.map((i) => ({ _tag: "Tick", i }) as const)))]
    case "Tick":
      return [{ ...state, ticks: state.ticks + 1 }, Fx.none]
    case "Ping":
      return [{ ...state, pings: state.pings + 1 }, Fx.send({ _tag: "Pong" } as const)]
    case "Pong":
      return [state, Fx.none]
  }
})

export class Feature extends Context.Tag("test/Feature")<Feature, Store.Store<State, Action>>() {}

export class Served extends Data.Class<{ readonly url: string; readonly store: Store.Store<State, Action> }> {}

/** Starts the feature's store and serves it on a free loopback port for the current scope. */
export const serve = (
  options: Partial<StoreHttp.Options<State, Action, typeof Action.Encoded, typeof State.Encoded>> & StoreHttp.ServerOptions = {}
) =>
  Effect.gen(function*() {
    const live = Layer.provideMerge(
      StoreHttp.layer(Feature, { actions: Action, state: State, port: 0, host: "127.0.0.1", ...options }),
      Store.layer(Feature, { initialState: { ticks: 0, pings: 0 }, reducer, label: "http-test" })
    )
    const context = yield* Layer.build(live)
    const server = Context.get(context, HttpServer.HttpServer)
    const address = server.address as HttpServer.TcpAddress
    return new Served({ url: `http://127.0.0.1:${address.port}`, store: Context.get(context, Feature) })
  })

export interface SseEvent {
  readonly id?: string
  readonly event?: string
  readonly data?: string
}

/**
 * Reads SSE events with a real fetch until `enough` says so, then closes the connection. `connected`
 * completes when the server's `: connected` comment arrives: from then on the client misses nothing.
 */
export const readSse = (
  url: string,
  enough: (events: ReadonlyArray<SseEvent>) => boolean,
  headers: Record<string, string> = {},
  connected?: Deferred.Deferred<void>
) =>
  Effect.promise(async () => {
    const controller = new AbortController()
    const response = await fetch(url, { headers, signal: controller.signal })
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    const events: Array<SseEvent> = []
    let buffer = ""
    while (!enough(events)) {
      const { done, value } = await reader.read()
      if (done) break
      buffer += decoder.decode(value, { stream: true })
      let end: number
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const event: Record<string, string> = {}
        for (const line of block.split("\n")) {
          if (line === ": connected" && connected) Deferred.unsafeDone(connected, Exit.void)
          // Comments, and `retry` (which sets the reconnection delay and dispatches no event).
          if (line.startsWith(":") || line.startsWith("retry:")) continue
          const colon = line.indexOf(": ")
          event[line.slice(0, colon)] = line.slice(colon + 2)
        }
        if (Object.keys(event).length > 0) events.push(event)
      }
    }
    controller.abort()
    return { events, contentType: response.headers.get("content-type") }
  })

export const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } })
    return { status: response.status, body: await response.json() as Record<string, unknown> }
  })

export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
}

export const request = (url: string, init: RequestInit = {}) =>
  Effect.promise(async (): Promise<Answer> => {
    const response = await fetch(url, init)
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

export const postJson = (url: string, body: string, headers: Record<string, string> = {}) =>
  request(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } })

/** A WebSocket client: its messages, and how it closed. */
export const connect = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(() =>
    new Promise<{ readonly ws: WebSocket; readonly frames: Array<Record<string, unknown>>; readonly closed: Promise<number> }>((resolve, reject) => {
      const ws = new WebSocket(`${url.replace("http", "ws")}/ws`, { headers })
      const frames: Array<Record<string, unknown>> = []
      ws.on("message", (data) => frames.push(JSON.parse(data.toString())))
      const closed = new Promise<number>((done) => ws.on("close", (code) => done(code)))
      ws.on("open", () => resolve({ ws, frames, closed }))
      ws.on("unexpected-response", (_request, response) => reject(new Error(`refused: ${response.statusCode}`)))
      ws.on("error", reject)
    })
  )
