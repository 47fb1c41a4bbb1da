/**
 * `StoreHttp.layerHost` / `StoreHttp.hostRouter`: a host's stores served under `/:id/...` over loopback,
 * with the same routes, checks and limits as one store; each request, SSE and WebSocket client holds its
 * store; event ids carry the epoch of the store's activation.
 */
import { HttpRouter, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, Logger, TestClock } from "effect"
import * as http from "node:http"
import WebSocket from "ws"
import { Persistence, StoreHost } from "../../src/index.js"
import { EventLog } from "../../src/internal/eventLog.js"
import { hostStores } from "../../src/internal/hostHttp.js"
import type { MakeServing } from "../../src/internal/http.js"
import * as StoreHttp from "../../src/StoreHttp.js"
import { Action, connect, post, postJson, readSse, reducer, request, type SseEvent, State } from "./fixture.js"

class Counters extends Context.Tag("test/HostCounters")<Counters, StoreHost.StoreHost<State, Action>>() {}

type HttpOptions = Partial<StoreHttp.Options<State, Action, typeof Action.Encoded, typeof State.Encoded>>

/** Log lines, with their causes, of what the served host logs. */
const capturing = () => {
  const lines: Array<string> = []
  const logger = Logger.replace(Logger.defaultLogger, Logger.make(({ cause, message }) => void lines.push(`${String(message)} ${String(cause)}`)))
  return { lines, logger }
}

/**
 * The http fixture's feature as a host, served by `layerHost` on a free loopback port for the current
 * scope; with `backend`, persisted through it.
 */
const serveHost = (
  options: {
    readonly host?: Partial<StoreHost.Options<State, Action, never>>
    readonly http?: HttpOptions
    readonly backend?: Persistence.Persistence["Type"]
    readonly logger?: Layer.Layer<never>
  } = {}
) =>
  Effect.gen(function*() {
    const base = { name: "http-host", initialState: () => ({ ticks: 0, pings: 0 }), reducer, ...options.host }
    const hostLayer = options.backend === undefined
      ? StoreHost.layer(Counters, base)
      : StoreHost.layer(Counters, { ...base, persistence: { state: State, actions: Action, journal: "all" } }).pipe(
        Layer.provide(Layer.succeed(Persistence.Persistence, options.backend))
      )
    const context = yield* Layer.build(
      Layer.provideMerge(StoreHttp.layerHost(Counters, { actions: Action, state: State, port: 0, host: "127.0.0.1", ...options.http }), hostLayer).pipe(
        Layer.provide(options.logger ?? Layer.empty)
      )
    )
    const port = (Context.get(context, HttpServer.HttpServer).address as HttpServer.TcpAddress).port
    return { host: Context.get(context, Counters), url: `http://127.0.0.1:${port}` }
  })

/** A fresh in-memory persistence backend. */
const memoryBackend = Effect.provide(Persistence.Persistence, Persistence.layerMemory)

/** Waits, in real time and at most 5 seconds, until `done` holds; `step` runs between looks (say, a clock step). */
const eventually = <E, R>(done: () => Effect.Effect<boolean, E, R>, step: Effect.Effect<void, E, R> = Effect.void) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      if (yield* done()) return
      yield* step
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
    }
    throw new Error("the condition never held")
  })

/** An event id of a host route: `<epoch>-<n>`. */
const epochId = /^([0-9a-f]{12})-(\d+)$/
const epochOf = (id: unknown): string => {
  const match = epochId.exec(String(id))
  if (match === null) throw new Error(`not an epoch id: ${String(id)}`)
  return match[1]!
}

const Ping = JSON.stringify({ _tag: "Ping" })

/** The status a WebSocket upgrade of `url` is answered with: 101 if it opened (it is closed at once). */
const upgradeStatus = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(() =>
    new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url.replace("http", "ws"), { headers })
      ws.on("unexpected-response", (_request, response) => resolve(response.statusCode!))
      ws.on("open", () => (ws.close(), resolve(101)))
      ws.on("error", reject)
    })
  )

/** A request for `path` exactly as written: `fetch` would resolve `.` and `..` segments (`%2e` too) first. */
const exactly = (url: string, path: string, method = "GET", body?: string) =>
  Effect.async<{ readonly status: number; readonly text: string }>((resume) => {
    const { port } = new URL(url)
    const sent = http.request({ host: "127.0.0.1", port, path, method, headers: { "content-type": "application/json" } }, (response) => {
      let text = ""
      response.on("data", (chunk) => (text += chunk))
      response.on("end", () => resume(Effect.succeed({ status: response.statusCode!, text })))
    })
    sent.on("error", (error) => resume(Effect.die(error)))
    sent.end(body)
    return Effect.sync(() => sent.destroy())
  })

describe("StoreHttp.layerHost: a host's stores under /:id", () => {
  it.live("the routes of two ids are independent: their own state, events and ids", () =>
    Effect.gen(function*() {
      const { host, url } = yield* serveHost()
      const connected = yield* Deferred.make<void>()
      const reading = yield* Effect.fork(readSse(`${url}/a/events`, (events) => events.length >= 2, {}, connected))
      yield* Deferred.await(connected)
      const b1 = yield* post(`${url}/b/actions`, Ping)
      const b2 = yield* post(`${url}/b/actions?waitFor=Pong&timeoutMs=2000`, Ping)
      const a1 = yield* post(`${url}/a/actions`, JSON.stringify({ _tag: "Count", n: 1 }))
      expect([b1.status, b2.status, a1.status]).toEqual([202, 200, 202])
      // Each store numbers its own events, from 1, under an epoch of its own.
      expect(String(b1.body.id)).toMatch(/-1$/)
      expect(String(a1.body.id)).toMatch(/-1$/)
      expect(epochOf(a1.body.id)).not.toBe(epochOf(b1.body.id))
      // /a/events heard a's actions only: none of b's Pings and Pongs.
      const { events } = yield* Fiber.join(reading).pipe(Effect.timeout("5 seconds"))
      expect(events.map((e) => [e.id, e.data])).toEqual([
        [`${epochOf(a1.body.id)}-1`, JSON.stringify({ _tag: "Count", n: 1 })],
        [`${epochOf(a1.body.id)}-2`, JSON.stringify({ _tag: "Tick", i: 1 })]
      ])
      const a = JSON.parse((yield* request(`${url}/a/state`)).text)
      const b = JSON.parse((yield* request(`${url}/b/state`)).text)
      expect([a, b]).toEqual([{ ticks: 1, pings: 0 }, { ticks: 0, pings: 2 }])
      expect([...(yield* host.residentIds)].sort()).toEqual(["a", "b"])
    }).pipe(Effect.scoped))

  it.live("a bad id is refused with 400 InvalidId, never quoted back and never activated; a route is spelled exactly", () =>
    Effect.gen(function*() {
      const { host, url } = yield* serveHost()
      const bad = ["", ".", "..", "%2e%2e", "a%2Fb", "a%20b", "a%00b", "%C3%A9", "x".repeat(129), encodeURIComponent("<script>MARK</script>")]
      for (const id of bad) {
        for (const [path, method] of [["actions", "POST"], ["events", "GET"], ["state", "GET"], ["ws", "GET"]] as const) {
          const answer = yield* exactly(url, `/${id}/${path}`, method, method === "POST" ? Ping : undefined)
          expect([id, path, answer.status, JSON.parse(answer.text).error]).toEqual([id, path, 400, "InvalidId"])
          expect(answer.text).not.toContain("MARK")
          expect(Object.keys(JSON.parse(answer.text))).toEqual(["error", "message"])
        }
      }
      // A segment the platform's router cannot percent-decode at all matches no route.
      expect((yield* exactly(url, "/%zz/state")).status).toBe(404)
      expect(yield* host.residentIds).toEqual([])
      // The segment is percent-decoded: %41 is A. 128 characters are an id.
      expect((yield* request(`${url}/%41/state`)).status).toBe(200)
      expect((yield* request(`${url}/${"x".repeat(128)}/state`)).status).toBe(200)
      expect([...(yield* host.residentIds)].sort()).toEqual(["A", "x".repeat(128)])
      for (const path of ["/a/ACTIONS", "/a/actions/", "/a//actions", "/a/%61ctions", "/a", "/a/b/actions"]) {
        expect([path, (yield* postJson(`${url}${path}`, Ping)).status]).toEqual([path, 404])
      }
      const wrong = yield* request(`${url}/a/actions`)
      expect([wrong.status, wrong.headers.get("allow")]).toEqual([405, "POST, OPTIONS"])
    }).pipe(Effect.scoped))

  it.live("POST /:id/actions with waitFor answers the matching action; a timeout answers 504 with the action's epoch id", () =>
    Effect.gen(function*() {
      const { host, url } = yield* serveHost()
      expect(yield* post(`${url}/a/actions?waitFor=Pong&timeoutMs=2000`, Ping)).toEqual({ status: 200, body: { _tag: "Pong" } })
      const timedOut = yield* post(`${url}/a/actions?waitFor=Tick&timeoutMs=50`, Ping)
      expect(timedOut.status).toBe(504)
      expect(timedOut.body.error).toBe("WaitTimeout")
      // Ping, Pong, then this Ping.
      expect(String(timedOut.body.id)).toMatch(/^[0-9a-f]{12}-3$/)
      expect((yield* host.state("a")).pings).toBe(2)
    }).pipe(Effect.scoped))

  it.live("an Idempotency-Key is per store: a retry on one id gets its first answer, the same key on another id is its own", () =>
    Effect.gen(function*() {
      const { host, url } = yield* serveHost()
      const key = { "idempotency-key": "k-1" }
      const first = yield* post(`${url}/a/actions`, Ping, key)
      const retry = yield* post(`${url}/a/actions`, Ping, key)
      const other = yield* post(`${url}/b/actions`, Ping, key)
      expect(retry).toEqual(first)
      expect(other.status).toBe(202)
      expect(epochOf(other.body.id)).not.toBe(epochOf(first.body.id))
      expect([(yield* host.state("a")).pings, (yield* host.state("b")).pings]).toEqual([1, 1])
    }).pipe(Effect.scoped))

  it.live("GET /:id/events resumes after a Last-Event-ID of the same activation; an id that is not one of these routes' is a 400", () =>
    Effect.gen(function*() {
      const { url } = yield* serveHost()
      const connected = yield* Deferred.make<void>()
      const reading = yield* Effect.fork(readSse(`${url}/a/events`, (events) => events.length >= 5, {}, connected))
      yield* Deferred.await(connected)
      yield* post(`${url}/a/actions`, JSON.stringify({ _tag: "Count", n: 4 }))
      const first = yield* Fiber.join(reading).pipe(Effect.timeout("5 seconds"))
      const epoch = epochOf(first.events[0]!.id)
      expect(first.events.map((e) => e.id)).toEqual([1, 2, 3, 4, 5].map((n) => `${epoch}-${n}`))
      // Reconnected after event 2: events 3..5 from the replay buffer, the same ids and data.
      const resumed = yield* readSse(`${url}/a/events`, (events) => events.length >= 3, { "last-event-id": `${epoch}-2` })
      expect(resumed.events).toEqual(first.events.slice(2))
      // A bare number is a single store's id, never one of a host route's.
      const bare = yield* request(`${url}/a/events`, { headers: { "last-event-id": "2" } })
      expect([bare.status, JSON.parse(bare.text).error]).toEqual([400, "InvalidHeader"])
    }).pipe(Effect.scoped))

  it.scoped("after passivation, a Last-Event-ID of the earlier activation gets a reset, never events under ids it saw", () =>
    Effect.gen(function*() {
      const { host, url } = yield* serveHost({ host: { idleTimeout: "1 minute" } })
      const connected = yield* Deferred.make<void>()
      const reading = yield* Effect.fork(readSse(`${url}/a/events`, (events) => events.length >= 2, {}, connected))
      yield* Deferred.await(connected)
      yield* post(`${url}/a/actions`, Ping)
      const before = (yield* Fiber.join(reading)).events
      const old = epochOf(before[0]!.id)
      expect(before.map((e) => e.id)).toEqual([`${old}-1`, `${old}-2`])
      // The client has left: the idle store is passivated.
      yield* eventually(() => Effect.map(host.residentIds, (ids) => ids.length === 0), TestClock.adjust("1 minute"))
      // Activated again: a new event log, numbering from 1 again, under another epoch.
      expect((yield* post(`${url}/a/actions?waitFor=Pong&timeoutMs=2000`, Ping)).status).toBe(200)
      const subscribed = yield* Deferred.make<void>()
      const resuming = yield* Effect.fork(readSse(`${url}/a/events`, (events) => events.length >= 3, { "last-event-id": `${old}-1` }, subscribed))
      yield* Deferred.await(subscribed)
      const sent = yield* post(`${url}/a/actions`, Ping)
      const fresh = epochOf(sent.body.id)
      expect(fresh).not.toBe(old)
      const { events } = yield* Fiber.join(resuming)
      // Told its id is of no log there is now (the new one's latest is its Pong, 2), then only new events.
      expect(events[0]).toEqual({ event: "reset", data: JSON.stringify({ latest: `${fresh}-2` }) })
      expect(events.slice(1).map((e) => e.id)).toEqual([`${fresh}-3`, `${fresh}-4`])
      const seen = new Set(before.map((e: SseEvent) => e.id))
      expect(events.filter((e) => seen.has(e.id))).toEqual([])
    }))

  it.scoped("an SSE client and a WebSocket client keep their stores resident; the idle store goes once the client has left", () =>
    Effect.gen(function*() {
      const { host, url } = yield* serveHost({ host: { idleTimeout: "1 minute" } })
      const client = yield* connect(`${url}/w`)
      client.ws.send(Ping)
      yield* eventually(() => Effect.succeed(client.frames.length >= 2))
      expect(client.frames.map((f) => [f.type, String(f.id).replace(/^[0-9a-f]{12}-/, ""), (f.action as { _tag: string })._tag])).toEqual([
        ["action", "1", "Ping"],
        ["action", "2", "Pong"]
      ])
      const connected = yield* Deferred.make<void>()
      const listening = yield* Effect.fork(readSse(`${url}/s/events`, (events) => events.length >= 1, {}, connected))
      yield* Deferred.await(connected)
      // Ten idle timeouts: both are still resident, held by their clients.
      for (let i = 0; i < 10; i++) yield* TestClock.adjust("1 minute")
      expect([...(yield* host.residentIds)].sort()).toEqual(["s", "w"])
      // The SSE client reads its event and leaves: its store is passivated, the socket's is not.
      yield* post(`${url}/s/actions`, JSON.stringify({ _tag: "Tick", i: 1 }))
      yield* Fiber.join(listening)
      yield* eventually(() => Effect.map(host.residentIds, (ids) => !ids.includes("s")), TestClock.adjust("1 minute"))
      expect(yield* host.residentIds).toEqual(["w"])
      client.ws.close()
      yield* Effect.promise(() => client.closed)
      yield* eventually(() => Effect.map(host.residentIds, (ids) => ids.length === 0), TestClock.adjust("1 minute"))
    }))

  it.live("only same-origin pages or allowedOrigins may use a host route; a refused request activates nothing", () =>
    Effect.gen(function*() {
      const { host, url } = yield* serveHost({ http: { allowedOrigins: ["https://app.example"] } })
      const evil = { origin: "https://evil.example" }
      const posted = yield* postJson(`${url}/a/actions`, Ping, evil)
      const listened = yield* request(`${url}/a/events`, { headers: evil })
      const badId = yield* request(`${url}/a%2Fb/state`, { headers: evil })
      for (const answer of [posted, listened, badId]) {
        expect([answer.status, JSON.parse(answer.text).error]).toEqual([403, "ForbiddenOrigin"])
      }
      expect(yield* upgradeStatus(`${url}/a/ws`, evil)).toBe(403)
      expect(yield* host.residentIds).toEqual([])
      const allowed = yield* postJson(`${url}/a/actions`, Ping, { origin: "https://app.example" })
      expect(allowed.status).toBe(202)
      expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example")
      expect(yield* host.residentIds).toEqual(["a"])
    }).pipe(Effect.scoped))

  it.live("a store whose stored state does not restore answers 500 RestoreFailed on every route, quoting nothing; the cause is logged", () =>
    Effect.gen(function*() {
      const backend = yield* memoryBackend
      yield* backend.commit({ journal: [], snapshots: [{ host: "http-host", id: "broken", seq: 3, version: 1, state: `{"items":[]}` }] })
      const { lines, logger } = capturing()
      const { url } = yield* serveHost({ backend, logger })
      const answers = [
        yield* postJson(`${url}/broken/actions`, Ping),
        yield* request(`${url}/broken/state`),
        // Through the direct SSE path, which answers a host's refusals itself.
        yield* request(`${url}/broken/events`),
        yield* request(`${url}/broken/changes`)
      ]
      for (const answer of answers) {
        expect([answer.status, JSON.parse(answer.text).error]).toEqual([500, "RestoreFailed"])
        expect(answer.headers.get("content-type")).toContain("application/json")
        for (const leak of ["broken", "items", "snapshot", "version", "seq"]) expect(answer.text).not.toContain(leak)
      }
      expect(yield* upgradeStatus(`${url}/broken/ws`)).toBe(500)
      expect(lines.filter((line) => line.includes("RestoreError") && line.includes(`store "broken"`)).length).toBe(answers.length + 1)
      // Another store of the same host is fine.
      expect((yield* postJson(`${url}/fine/actions`, Ping)).status).toBe(202)
    }).pipe(Effect.scoped))

  it.live("a failing persistence backend answers 503 PersistenceUnavailable; a host that has shut down, 503 StoreShutdown", () =>
    Effect.gen(function*() {
      const inner = yield* memoryBackend
      const down = { ...inner, load: () => Effect.fail(new Persistence.PersistenceError({ operation: "load", cause: "down" })) }
      const { lines, logger } = capturing()
      const failing = yield* serveHost({ backend: down, logger })
      for (const path of ["/a/state", "/a/events"]) {
        const answer = yield* request(`${failing.url}${path}`)
        expect([path, answer.status, JSON.parse(answer.text).error]).toEqual([path, 503, "PersistenceUnavailable"])
      }
      expect(lines.some((line) => line.includes("PersistenceError"))).toBe(true)
      const { host, url } = yield* serveHost()
      expect((yield* postJson(`${url}/a/actions`, Ping)).status).toBe(202)
      yield* host.shutdown({ timeout: "1 second" })
      for (const path of ["/a/actions", "/b/actions"]) {
        const answer = yield* postJson(`${url}${path}`, Ping)
        expect([path, answer.status, JSON.parse(answer.text).error]).toEqual([path, 503, "StoreShutdown"])
      }
      expect([(yield* request(`${url}/b/events`)).status, (yield* request(`${url}/b/state`)).status]).toEqual([503, 503])
    }).pipe(Effect.scoped))

  it.live("StoreHttp.hostRouter mounted on a server of one's own serves the same routes under the mount, through the platform", () =>
    Effect.gen(function*() {
      const host = yield* StoreHost.make({ name: "mounted", initialState: () => ({ ticks: 0, pings: 0 }), reducer })
      const routes = yield* StoreHttp.hostRouter(host, { actions: Action, state: State })
      const context = yield* Layer.build(
        HttpServer.serve(StoreHttp.withJsonErrors(HttpRouter.empty.pipe(HttpRouter.mount("/counters", routes)))).pipe(
          Layer.provideMerge(NodeHttpServer.layer(http.createServer, { port: 0, host: "127.0.0.1" }))
        )
      )
      const url = `http://127.0.0.1:${(Context.get(context, HttpServer.HttpServer).address as HttpServer.TcpAddress).port}/counters`
      const connected = yield* Deferred.make<void>()
      const reading = yield* Effect.fork(readSse(`${url}/a/events`, (events) => events.length >= 2, {}, connected))
      yield* Deferred.await(connected)
      const sent = yield* post(`${url}/a/actions`, Ping)
      const { events } = yield* Fiber.join(reading).pipe(Effect.timeout("5 seconds"))
      expect(events.map((e) => e.id)).toEqual([sent.body.id, `${epochOf(sent.body.id)}-2`])
      expect(JSON.parse((yield* request(`${url}/a/state`)).text)).toEqual({ ticks: 0, pings: 1 })
      expect((yield* request(`${url}//state`)).status).toBe(400)
    }).pipe(Effect.scoped))

  it.scoped("what the routes keep for a store is made once while it is resident, and released when it is passivated", () =>
    Effect.gen(function*() {
      const host = yield* StoreHost.make({ name: "kept", initialState: () => ({ ticks: 0, pings: 0 }), reducer, idleTimeout: "1 minute" })
      let live = 0
      const make: MakeServing<State, Action> = (store, target, log) =>
        Effect.gen(function*() {
          live++
          yield* Effect.addFinalizer(() => Effect.sync(() => void live--))
          return { target, log: yield* EventLog.make(store, { replay: 10, epoch: log?.epoch, onEnd: log?.onEnd }), feed: undefined }
        })
      const source = yield* hostStores(host)(make)
      const [first, second] = yield* Effect.all([source.hold("a"), source.hold("a")], { concurrency: "unbounded" })
      // Concurrent requests of one store share its serving state.
      expect(first.serving).toBe(second.serving)
      for (const id of ["b", "c"]) (yield* source.hold(id)).release()
      first.release()
      second.release()
      expect(live).toBe(3)
      // A thousand ids used once each, then idle: none of their logs outlives its store.
      for (let i = 0; i < 1000; i++) (yield* source.hold(`id-${i}`)).release()
      expect(live).toBe(1003)
      yield* eventually(() => Effect.map(host.residentIds, (ids) => ids.length === 0), TestClock.adjust("1 minute"))
      yield* eventually(() => Effect.succeed(live === 0))
    }))
})
