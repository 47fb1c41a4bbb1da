import { describe, expect, it } from "@effect/vitest"
import { HttpServer } from "@effect/platform"
import { Context, Effect, Exit, Layer, Logger, Schema, Scope } from "effect"
import * as net from "node:net"
import WebSocket from "ws"
import { Reducer, Store } from "../../src/index.js"
import * as StoreHttp from "../../src/StoreHttp.js"
import { connect, postJson, request, serve } from "./fixture.js"

/**
 * Issue 13: hostile input never takes the server down, loses work or gets echoed back; the protocol
 * edges (methods, spellings, resume ids, timeouts, retries) and the origin checks.
 */

/** Writes `raw` on a TCP connection and reads until the server closes it. */
const rawHttp = (url: string, raw: string) =>
  Effect.async<string>((resume) => {
    const { port } = new URL(url)
    const socket = net.connect(Number(port), "127.0.0.1", () => socket.write(raw))
    let text = ""
    socket.on("data", (chunk) => (text += chunk.toString("utf8")))
    socket.on("close", () => resume(Effect.succeed(text)))
    socket.on("error", () => resume(Effect.succeed(text)))
    return Effect.sync(() => socket.destroy())
  })

/** Waits (in real time, bounded) until `frames` has an error frame. */
const nextError = (frames: Array<Record<string, unknown>>, from: number) =>
  Effect.promise(async () => {
    for (let i = 0; i < 500; i++) {
      const found = frames.slice(from).find((f) => f.type === "error")
      if (found) return found
      await new Promise((r) => setTimeout(r, 10))
    }
    throw new Error("no error frame")
  })

const deep = (levels: number) => "[".repeat(levels) + "]".repeat(levels)

describe("StoreHttp: hostile input", () => {
  it.live("a deeply nested action is a 400 on POST and an error frame on the WebSocket; the server goes on", () =>
    Effect.gen(function*() {
      const { store, url } = yield* serve()
      const body = `{"_tag":"Count","n":${deep(2500)}}`
      const posted = yield* postJson(`${url}/actions`, body)
      expect(posted.status).toBe(400)
      expect(JSON.parse(posted.text)).toEqual({ error: "InvalidAction", message: "the action is nested deeper than 32 levels" })
      const client = yield* connect(url)
      client.ws.send(body)
      expect((yield* nextError(client.frames, 0)).error).toBe("InvalidAction")
      // Both still serve.
      client.ws.send(JSON.stringify({ _tag: "Ping" }))
      expect((yield* postJson(`${url}/actions`, JSON.stringify({ _tag: "Ping" }))).status).toBe(202)
      client.ws.close()
      expect((yield* store.state).pings).toBe(2)
    }).pipe(Effect.scoped))

  it.live("refusals never quote the input back", () =>
    Effect.gen(function*() {
      const { url } = yield* serve()
      const mark = "<script>MARK</script>"
      const answers = [
        yield* postJson(`${url}/actions`, `{"_tag":"${mark}"}`),
        yield* postJson(`${url}/actions`, `{"_tag":"Count","n":"${mark}"}`),
        yield* postJson(`${url}/actions`, `{${mark}`),
        yield* postJson(`${url}/actions?waitFor=${encodeURIComponent(mark)}`, JSON.stringify({ _tag: "Ping" })),
        yield* request(`${url}/${encodeURIComponent(mark)}`),
        yield* request(`${url}/events`, { headers: { "last-event-id": mark } })
      ]
      for (const answer of answers) {
        expect(answer.status).toBeGreaterThanOrEqual(400)
        expect(answer.text).not.toContain("MARK")
        expect(Object.keys(JSON.parse(answer.text))).toEqual(["error", "message"])
      }
      // The schema side is still explained: which field, what it expects.
      expect(JSON.parse(answers[1]!.text).message).toBe("n: expected a number")
    }).pipe(Effect.scoped))

  it.live("a defect in a request or message handler is logged with its cause and answered; the server goes on", () =>
    Effect.gen(function*() {
      const logged: Array<string> = []
      const capture = Logger.replace(Logger.defaultLogger, Logger.make(({ cause, message }) => void logged.push(`${String(message)} ${String(cause)}`)))
      // A schema whose decoding throws: a bug in user code, reachable from any client.
      const Exploding = Schema.transform(Schema.String, Schema.String, {
        decode: (s) => {
          if (s === "boom") throw new Error("decoder exploded")
          return s
        },
        encode: (s) => s
      })
      class Echo extends Context.Tag("test/Echo")<Echo, Store.Store<number, string>>() {}
      const context = yield* Layer.build(Layer.provideMerge(
        StoreHttp.layer(Echo, { actions: Exploding, port: 0, host: "127.0.0.1" }),
        Store.layer(Echo, { initialState: 0, reducer: Reducer.fromState((n: number, _: string) => n + 1) })
      ).pipe(Layer.provide(capture)))
      const url = `http://127.0.0.1:${(Context.get(context, HttpServer.HttpServer).address as HttpServer.TcpAddress).port}`
      const posted = yield* postJson(`${url}/actions`, JSON.stringify("boom"))
      expect(posted.status).toBe(500)
      expect(JSON.parse(posted.text).error).toBe("Internal")
      const client = yield* connect(url)
      client.ws.send(JSON.stringify("boom"))
      expect((yield* nextError(client.frames, 0)).error).toBe("Internal")
      client.ws.send(JSON.stringify("fine"))
      expect((yield* postJson(`${url}/actions`, JSON.stringify("fine"))).status).toBe(202)
      expect(client.ws.readyState).toBe(WebSocket.OPEN)
      client.ws.close()
      expect(logged.filter((line) => line.includes("decoder exploded")).length).toBe(2)
      expect(yield* Context.get(context, Echo).state).toBe(2)
    }).pipe(Effect.scoped))

  it.live("a WebSocket client sending far more than maxBodyBytes in one message is cut off with 1009", () =>
    Effect.gen(function*() {
      const { url } = yield* serve({ maxBodyBytes: 1024 })
      const client = yield* connect(url)
      // Just over the limit: refused with a frame, and the connection stays open.
      client.ws.send(JSON.stringify({ _tag: "Ping", pad: "x".repeat(1100) }))
      expect((yield* nextError(client.frames, 0)).error).toBe("PayloadTooLarge")
      expect(client.ws.readyState).toBe(WebSocket.OPEN)
      // Far over it: the server stops reading it and closes the connection instead of buffering it whole.
      client.ws.send("x".repeat(4 * 1024 * 1024))
      expect(yield* Effect.promise(() => client.closed)).toBe(1009)
      expect((yield* postJson(`${url}/actions`, JSON.stringify({ _tag: "Ping" }))).status).toBe(202)
    }).pipe(Effect.scoped))

  it("invalid numeric options are refused when the routes are made", () => {
    const store = {} as Store.Store<number, "inc">
    for (const bad of [{ maxBodyBytes: Number.NaN }, { maxDepth: 0 }, { clientBuffer: 1.5 }, { heartbeat: -1 }, { idempotency: { capacity: -1 } }]) {
      expect(() => StoreHttp.router(store, { actions: Schema.Literal("inc"), ...bad })).toThrow(RangeError)
    }
  })
})

describe("StoreHttp: protocol", () => {
  it.live("a route answers one spelling only, and a wrong method gets 405 with Allow", () =>
    Effect.gen(function*() {
      const { store, url } = yield* serve()
      for (const path of ["/ACTIONS", "/actions/", "//actions", "/actions;x", "/%61ctions"]) {
        const answer = yield* postJson(`${url}${path}`, JSON.stringify({ _tag: "Ping" }))
        expect([path, answer.status]).toEqual([path, 404])
      }
      const wrong = yield* request(`${url}/actions`)
      expect(wrong.status).toBe(405)
      expect(wrong.headers.get("allow")).toBe("POST, OPTIONS")
      expect(JSON.parse(wrong.text).error).toBe("MethodNotAllowed")
      expect((yield* request(`${url}/state`, { method: "DELETE" })).headers.get("allow")).toBe("GET, HEAD, OPTIONS")
      expect((yield* store.state).pings).toBe(0)
    }).pipe(Effect.scoped))

  it.live("SSE: only a decimal Last-Event-ID is an id; an empty one is none; the first block sets retry", () =>
    Effect.gen(function*() {
      const { url } = yield* serve({ retry: "1500 millis" })
      yield* postJson(`${url}/actions`, JSON.stringify({ _tag: "Ping" }))
      // (HTTP trims a header value's surrounding spaces; " 3 " is checked in the query below.)
      for (const id of ["0x2", "1e1", "-1", "1.0", "+3"]) {
        const answer = yield* request(`${url}/events`, { headers: { "last-event-id": id } })
        expect([id, answer.status, JSON.parse(answer.text).error]).toEqual([id, 400, "InvalidHeader"])
      }
      for (const id of ["0x2", "%203%20", "1e1"]) {
        const query = yield* request(`${url}/events?lastEventId=${id}`)
        expect([id, query.status, JSON.parse(query.text).error]).toEqual([id, 400, "InvalidQuery"])
      }
      // An empty id is no id: live events only, no replay of the Ping and Pong already reduced.
      const text = yield* Effect.promise(async () => {
        const controller = new AbortController()
        const response = await fetch(`${url}/events`, { headers: { "last-event-id": "" }, signal: controller.signal })
        const reader = response.body!.getReader()
        let seen = ""
        while (!seen.includes(": connected")) seen += new TextDecoder().decode((await reader.read()).value)
        await fetch(`${url}/actions`, { method: "POST", body: JSON.stringify({ _tag: "Tick", i: 9 }), headers: { "content-type": "application/json" } })
        while (!seen.includes("event: action")) seen += new TextDecoder().decode((await reader.read()).value)
        controller.abort()
        return seen
      })
      expect(text.startsWith("retry: 1500\n: connected\n\n")).toBe(true)
      expect(text).toContain(`id: 3\nevent: action\ndata: {"_tag":"Tick","i":9}`)
      expect(text).not.toContain("id: 1\n")
    }).pipe(Effect.scoped))

  it.live("a waitFor that times out answers 504 with the action's id", () =>
    Effect.gen(function*() {
      const { url } = yield* serve()
      yield* postJson(`${url}/actions`, JSON.stringify({ _tag: "Ping" }))
      const timedOut = yield* postJson(`${url}/actions?waitFor=Tick&timeoutMs=20`, JSON.stringify({ _tag: "Ping" }))
      expect(timedOut.status).toBe(504)
      expect(JSON.parse(timedOut.text)).toMatchObject({ error: "WaitTimeout", id: 3 })
    }).pipe(Effect.scoped))

  it.live("a retried POST with the same Idempotency-Key gets the first outcome and is reduced once", () =>
    Effect.gen(function*() {
      const { store, url } = yield* serve()
      const ping = JSON.stringify({ _tag: "Ping" })
      const send = (key: string, body = ping) => postJson(`${url}/actions`, body, { "idempotency-key": key })
      const [first, again] = yield* Effect.all([send("k-1"), send("k-1")], { concurrency: 2 })
      expect(first!.status).toBe(202)
      expect(again!.text).toBe(first!.text)
      expect((yield* send("k-1")).text).toBe(first!.text)
      expect((yield* store.state).pings).toBe(1)
      // Another key is another request.
      expect((yield* send("k-2")).status).toBe(202)
      expect((yield* store.state).pings).toBe(2)
      const reused = yield* send("k-1", JSON.stringify({ _tag: "Count", n: 1 }))
      expect([reused.status, JSON.parse(reused.text).error]).toEqual([422, "IdempotencyKeyReused"])
      const bad = yield* send("has space")
      expect([bad.status, JSON.parse(bad.text).error]).toEqual([400, "InvalidHeader"])
      // A retried wait gets the same reply too, without sending again.
      const reply = yield* postJson(`${url}/actions?waitFor=Pong`, ping, { "idempotency-key": "k-4" })
      const replayed = yield* postJson(`${url}/actions?waitFor=Pong`, ping, { "idempotency-key": "k-4" })
      expect([reply.status, replayed.text]).toEqual([200, reply.text])
      expect((yield* store.state).pings).toBe(3)
    }).pipe(Effect.scoped))

  it.live("Node's own refusals are JSON, and a half-sent request is dropped after headersTimeout", () =>
    Effect.gen(function*() {
      const { url } = yield* serve({ headersTimeout: "200 millis" })
      const garbage = yield* rawHttp(url, "NOT HTTP AT ALL\r\n\r\n")
      expect(garbage).toMatch(/^HTTP\/1\.1 400 /)
      expect(JSON.parse(garbage.slice(garbage.indexOf("\r\n\r\n") + 4)).error).toBe("BadRequest")
      const huge = yield* rawHttp(url, `GET /state HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`)
      expect(huge).toMatch(/^HTTP\/1\.1 431 /)
      expect(huge).toContain(`"error":"HeadersTooLarge"`)
      const expectation = yield* rawHttp(url, "GET /state HTTP/1.1\r\nHost: x\r\nExpect: something\r\nConnection: close\r\n\r\n")
      expect(expectation).toMatch(/^HTTP\/1\.1 417 /)
      expect(expectation).toContain(`"error":"ExpectationFailed"`)
      // Headers that never end: answered 408 and closed, well before Node's own 60 s.
      const started = Date.now()
      const stalled = yield* rawHttp(url, "GET /state HTTP/1.1\r\nHost: x\r\n")
      expect(stalled).toMatch(/^HTTP\/1\.1 408 /)
      expect(stalled).toContain(`"error":"RequestTimeout"`)
      expect(Date.now() - started).toBeLessThan(10_000)
    }).pipe(Effect.scoped))

  it.live("on shutdown a WebSocket client is closed with 1001 (going away)", () =>
    Effect.gen(function*() {
      const { store, url } = yield* serve()
      const client = yield* connect(url)
      yield* store.shutdown({ timeout: "1 second" })
      expect(yield* Effect.promise(() => client.closed)).toBe(1001)
    }).pipe(Effect.scoped))
})

describe("StoreHttp: origins", () => {
  it.live("only same-origin pages (or clients without Origin) may act; POST must be JSON", () =>
    Effect.gen(function*() {
      const { store, url } = yield* serve()
      const ping = JSON.stringify({ _tag: "Ping" })
      const foreign = yield* postJson(`${url}/actions`, ping, { origin: "https://evil.example" })
      expect([foreign.status, JSON.parse(foreign.text).error]).toEqual([403, "ForbiddenOrigin"])
      const plain = yield* request(`${url}/actions`, { method: "POST", body: ping, headers: { "content-type": "text/plain" } })
      expect([plain.status, JSON.parse(plain.text).error]).toEqual([415, "UnsupportedMediaType"])
      const preflight = yield* request(`${url}/actions`, { method: "OPTIONS", headers: { origin: "https://evil.example" } })
      expect(preflight.status).toBe(403)
      yield* Effect.promise(() => expect(connect(url, { origin: "https://evil.example" }).pipe(Effect.runPromise)).rejects.toThrow("403"))
      // The page the server itself served: Origin matches Host.
      const same = yield* postJson(`${url}/actions`, ping, { origin: url })
      expect(same.status).toBe(202)
      const client = yield* connect(url, { origin: url })
      client.ws.close()
      expect((yield* store.state).pings).toBe(1)
    }).pipe(Effect.scoped))

  it.live("allowedOrigins lets listed origins in, with CORS headers and preflights", () =>
    Effect.gen(function*() {
      const { store, url } = yield* serve({ allowedOrigins: ["https://app.example"] })
      const preflight = yield* request(`${url}/actions`, {
        method: "OPTIONS",
        headers: { origin: "https://app.example", "access-control-request-method": "POST" }
      })
      expect(preflight.status).toBe(204)
      expect(preflight.headers.get("access-control-allow-origin")).toBe("https://app.example")
      expect(preflight.headers.get("access-control-allow-methods")).toBe("POST, OPTIONS")
      expect(preflight.headers.get("access-control-allow-headers")).toContain("content-type")
      const posted = yield* postJson(`${url}/actions`, JSON.stringify({ _tag: "Ping" }), { origin: "https://app.example" })
      expect(posted.status).toBe(202)
      expect(posted.headers.get("access-control-allow-origin")).toBe("https://app.example")
      const other = yield* postJson(`${url}/actions`, JSON.stringify({ _tag: "Ping" }), { origin: "https://other.example" })
      expect(other.status).toBe(403)
      expect((yield* store.state).pings).toBe(1)
    }).pipe(Effect.scoped))

  it.live("allowedHosts refuses a Host it does not name, so a rebound domain cannot pass as same-origin", () =>
    Effect.gen(function*() {
      const { url } = yield* serve({ allowedHosts: ["127.0.0.1", "localhost"] })
      const rebound = yield* rawHttp(
        url,
        `POST /actions HTTP/1.1\r\nHost: evil.example:80\r\nOrigin: http://evil.example:80\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{"_tag":"Ping"}`
      )
      expect(rebound).toMatch(/^HTTP\/1\.1 403 /)
      expect(rebound).toContain(`"error":"ForbiddenHost"`)
      expect((yield* postJson(`${url}/actions`, JSON.stringify({ _tag: "Ping" }))).status).toBe(202)
    }).pipe(Effect.scoped))
})

describe("StoreHttp: found by a review as a user and an attacker would", () => {
  it.live("pings and pongs do not count toward a WebSocket message's size: a listening client is never cut off", () =>
    Effect.gen(function*() {
      const { url } = yield* serve({ maxBodyBytes: 1024 })
      const client = yield* connect(url)
      // ~106 bytes each on the wire: with control frames counted, the connection went at ~620 of them.
      // Each round waits for all its pongs: ws itself ends a connection with more than 60 pongs unsent
      // (its defence against ping floods), which a busy machine reaches if rounds overlap.
      yield* Effect.promise(async () => {
        for (let round = 0; round < 50; round++) {
          let pongs = 0
          const ponged = new Promise<void>((resolve) => {
            const onPong = () => {
              if (++pongs < 20) return
              client.ws.off("pong", onPong)
              resolve()
            }
            client.ws.on("pong", onPong)
          })
          for (let i = 0; i < 20; i++) client.ws.ping(Buffer.alloc(100))
          await ponged
        }
      })
      client.ws.send(JSON.stringify({ _tag: "Ping" }))
      yield* Effect.promise(async () => {
        for (let i = 0; i < 500 && !client.frames.some((f) => f.type === "action"); i++) await new Promise((r) => setTimeout(r, 10))
      })
      expect(client.ws.readyState).toBe(WebSocket.OPEN)
      expect(client.frames.some((f) => f.type === "action")).toBe(true)
      client.ws.close()
    }).pipe(Effect.scoped))

  it.live("a ping between the fragments of a message does not restart its count", () =>
    Effect.gen(function*() {
      const { url } = yield* serve({ maxBodyBytes: 1024 })
      const client = yield* connect(url)
      // 16 KiB fragments with a ping after each: 160 KiB in all, far over the limit and its slack.
      for (let i = 0; i < 10; i++) {
        client.ws.send(Buffer.alloc(16 * 1024, 0x20), { fin: false })
        client.ws.ping()
      }
      client.ws.send("", { fin: true })
      expect(yield* Effect.promise(() => client.closed)).toBe(1009)
    }).pipe(Effect.scoped))

  it.live("releasing StoreHttp.layer closes WebSocket clients with 1001, as a store shutdown does", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const { url } = yield* Scope.extend(serve(), scope)
      const client = yield* connect(url)
      yield* Scope.close(scope, Exit.void)
      expect(yield* Effect.promise(() => client.closed)).toBe(1001)
    }))

  it.live("a malformed request on a connection with a response under way never lands inside that response", () =>
    Effect.gen(function*() {
      const { url } = yield* serve()
      const { port } = new URL(url)
      const text = yield* Effect.async<string>((resume) => {
        const socket = net.connect(Number(port), "127.0.0.1", () => socket.write("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
        let seen = ""
        socket.on("data", (chunk) => {
          seen += chunk.toString("utf8")
          if (seen.includes(": connected")) socket.write("NOT HTTP\r\n\r\n")
        })
        socket.on("close", () => resume(Effect.succeed(seen)))
        return Effect.sync(() => socket.destroy())
      }).pipe(Effect.timeout("10 seconds"))
      expect(text).toMatch(/^HTTP\/1\.1 200 /)
      expect(text).not.toContain("400 Bad Request")
    }).pipe(Effect.scoped))

  it.live("a __proto__ key, and depth hidden inside a JSON string, are refused with 400", () =>
    Effect.gen(function*() {
      interface Tree {
        readonly kids: ReadonlyArray<Tree>
      }
      const Tree: Schema.Schema<Tree> = Schema.Struct({ kids: Schema.Array(Schema.suspend(() => Tree)) })
      const Action = Schema.Union(
        Schema.TaggedStruct("Meta", { meta: Schema.Record({ key: Schema.String, value: Schema.Unknown }) }),
        Schema.TaggedStruct("Plant", { tree: Schema.parseJson(Tree) })
      )
      type Action = typeof Action.Type
      class Garden extends Context.Tag("test/Garden")<Garden, Store.Store<number, Action>>() {}
      const context = yield* Layer.build(Layer.provideMerge(
        StoreHttp.layer(Garden, { actions: Action, port: 0, host: "127.0.0.1" }),
        Store.layer(Garden, { initialState: 0, reducer: Reducer.fromState((n: number, _: Action) => n + 1) })
      ))
      const url = `http://127.0.0.1:${(Context.get(context, HttpServer.HttpServer).address as HttpServer.TcpAddress).port}`
      for (const body of [`{"_tag":"Meta","meta":{"__proto__":{"isAdmin":true}}}`, `{"_tag":"Meta","meta":{"\\u005f_proto__":{}}}`]) {
        const answer = yield* postJson(`${url}/actions`, body)
        expect([answer.status, JSON.parse(answer.text)]).toEqual([400, { error: "InvalidAction", message: "the action has a __proto__ key" }])
      }
      let tree = `{"kids":[]}`
      for (let i = 0; i < 5000; i++) tree = `{"kids":[${tree}]}`
      const deepInString = yield* postJson(`${url}/actions`, JSON.stringify({ _tag: "Plant", tree }))
      expect([deepInString.status, JSON.parse(deepInString.text).message]).toEqual([400, "the action is nested too deeply"])
      expect((yield* postJson(`${url}/actions`, `{"_tag":"Meta","meta":{"ok":1}}`)).status).toBe(202)
      expect(yield* Context.get(context, Garden).state).toBe(1)
    }).pipe(Effect.scoped))

  it.live("origins: listed ones are normalized, same-origin reads default ports, refusals carry CORS headers", () =>
    Effect.gen(function*() {
      expect(() => StoreHttp.router({} as Store.Store<number, "inc">, { actions: Schema.Literal("inc"), allowedOrigins: ["https://a.example/app"] }))
        .toThrow(RangeError)
      const { url } = yield* serve({ allowedOrigins: ["HTTPS://App.Example/"] })
      const listed = yield* postJson(`${url}/actions`, JSON.stringify({ _tag: "Ping" }), { origin: "https://app.example" })
      expect(listed.status).toBe(202)
      const wrongMethod = yield* request(`${url}/actions`, { headers: { origin: "https://app.example" } })
      expect([wrongMethod.status, wrongMethod.headers.get("access-control-allow-origin")]).toEqual([405, "https://app.example"])
      const defaultPort = yield* rawHttp(
        url,
        `POST /actions HTTP/1.1\r\nHost: localhost:80\r\nOrigin: http://localhost\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{"_tag":"Ping"}`
      )
      expect(defaultPort).toMatch(/^HTTP\/1\.1 202 /)
    }).pipe(Effect.scoped))

  it.live("a layer bound to loopback answers for loopback names only, by default", () =>
    Effect.gen(function*() {
      const { url } = yield* serve()
      const rebound = yield* rawHttp(url, `GET /state HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`)
      expect(rebound).toMatch(/^HTTP\/1\.1 403 /)
      expect(rebound).toContain(`"error":"ForbiddenHost"`)
      expect((yield* request(`${url}/state`)).status).toBe(200)
    }).pipe(Effect.scoped))

  it.live("HEAD answers as GET; after shutdown the stream routes answer 503; an empty Last-Event-ID leaves the query's", () =>
    Effect.gen(function*() {
      const { store, url } = yield* serve()
      const head = yield* request(`${url}/state`, { method: "HEAD" })
      expect(head.status).toBe(200)
      yield* postJson(`${url}/actions`, JSON.stringify({ _tag: "Ping" }))
      const text = yield* Effect.promise(async () => {
        const controller = new AbortController()
        const response = await fetch(`${url}/events?lastEventId=1`, { headers: { "last-event-id": "" }, signal: controller.signal })
        const reader = response.body!.getReader()
        let seen = ""
        while (!seen.includes("id: 2")) seen += new TextDecoder().decode((await reader.read()).value)
        controller.abort()
        return seen
      })
      // Replayed after id 1: the Pong (id 2).
      expect(text).toContain(`id: 2\nevent: action\ndata: {"_tag":"Pong"}`)
      yield* store.shutdown({ timeout: "1 second" })
      for (const path of ["/events", "/changes"]) {
        const answer = yield* request(`${url}${path}`)
        expect([path, answer.status, JSON.parse(answer.text).error]).toEqual([path, 503, "StoreShutdown"])
      }
    }).pipe(Effect.scoped))

  it.live("a text WebSocket message may start with a BOM, as a body may", () =>
    Effect.gen(function*() {
      const { store, url } = yield* serve()
      const client = yield* connect(url)
      client.ws.send(`\ufeff${JSON.stringify({ _tag: "Ping" })}`)
      yield* Effect.promise(async () => {
        for (let i = 0; i < 500 && !client.frames.some((f) => f.type === "action"); i++) await new Promise((r) => setTimeout(r, 10))
      })
      expect(client.frames.filter((f) => f.type === "error")).toEqual([])
      expect((yield* store.state).pings).toBe(1)
      client.ws.close()
    }).pipe(Effect.scoped))
})
