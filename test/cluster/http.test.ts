/**
 * `StoreEntity.httpRouter`: a cluster's stores served under `/:id/...` with StoreHttp's routes, through
 * their clients, on the single runner over loopback. The routes answer as a host's do (same checks, the
 * same refusals), and `GET /:id/events` streams what the store reduces wherever it runs.
 */
import { HttpRouter, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Scope } from "effect"
import * as http from "node:http"
import { Persistence } from "../../src/index.js"
import { StoreEntity } from "../../src/cluster.js"
import { PersistenceSql } from "../../src/sql.js"
import { StoreHttp } from "../../src/http.js"
import { entityStores } from "../../src/internal/entityHttp.js"
import { routerOf } from "../../src/internal/http.js"
import { readSse, request } from "../http/fixture.js"
import { Action, State } from "../host/fixture.js"
import { Notes, runner, tempDatabase } from "./fixture.js"

/** The routes of `Notes` mounted at `/notes` on a loopback server of the runner's process. */
const served = Effect.gen(function*() {
  const routes = yield* StoreEntity.httpRouter(Notes, { actions: Action, state: State })
  const context = yield* Layer.build(
    HttpServer.serve(StoreHttp.withJsonErrors(HttpRouter.empty.pipe(HttpRouter.mount("/notes", routes)))).pipe(
      Layer.provideMerge(NodeHttpServer.layer(http.createServer, { port: 0, host: "127.0.0.1" }))
    )
  )
  return `http://127.0.0.1:${(Context.get(context, HttpServer.HttpServer).address as HttpServer.TcpAddress).port}/notes`
})

const postAction = (url: string, action: Action) =>
  request(url, { method: "POST", body: JSON.stringify(action), headers: { "content-type": "application/json" } })

describe("StoreEntity.httpRouter on a single runner", () => {
  it.live("POST /:id/actions reaches the store; GET /:id/state reads it; /:id/events streams what it reduces", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabase
      yield* Effect.gen(function*() {
        const url = yield* served
        const connected = yield* Deferred.make<void>()
        const reading = yield* Effect.fork(readSse(`${url}/a/events`, (events) => events.length >= 2, {}, connected))
        yield* Deferred.await(connected)
        const posted = yield* postAction(`${url}/a/actions`, { _tag: "Add", note: "x" })
        expect(posted.status).toBe(202)
        const { events } = yield* Fiber.join(reading).pipe(Effect.timeout("20 seconds"))
        expect(events.map((e) => JSON.parse(e.data!))).toEqual([{ _tag: "Add", note: "x" }, { _tag: "Echo", note: "echo:x" }])
        // Event ids carry the log's epoch, as a host's do.
        expect(events.map((e) => e.id)).toEqual([expect.stringMatching(/^[0-9a-f]{12}-1$/), expect.stringMatching(/^[0-9a-f]{12}-2$/)])
        const state = JSON.parse((yield* request(`${url}/a/state`)).text) as State
        expect(state.notes).toEqual(["x", "echo:x"])
        // Another id is another store.
        expect(JSON.parse((yield* request(`${url}/b/state`)).text)).toEqual({ notes: [], restored: 0 })
      }).pipe(Effect.scoped, Effect.provide(runner(file)))
    }).pipe(Effect.scoped), 60_000)

  it.live("bad input is refused as on a host's routes: a bad id 400, a bad action 400, and never echoed", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabase
      yield* Effect.gen(function*() {
        const url = yield* served
        const badId = yield* request(`${url}/no%20spaces/state`)
        expect([badId.status, JSON.parse(badId.text).error]).toEqual([400, "InvalidId"])
        const badAction = yield* request(`${url}/a/actions`, {
          method: "POST",
          body: JSON.stringify({ _tag: "Add", note: "<script>secret</script>".repeat(3), extra: 1, nope: true, x: [1] }).replace(`"note"`, `"note2"`),
          headers: { "content-type": "application/json" }
        })
        expect(badAction.status).toBe(400)
        expect(badAction.text).not.toContain("secret")
      }).pipe(Effect.scoped, Effect.provide(runner(file)))
    }).pipe(Effect.scoped), 60_000)

  it.live("a store whose stored state does not restore answers 500 RestoreFailed, naming nothing stored", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabase
      yield* Effect.flatMap(Persistence.Persistence, (p) =>
        p.commit({ journal: [{ host: "Notes", id: "bad", seq: 1, version: 1, action: `{"_tag":"Add","note":"secret-row"}x` }], snapshots: [] })).pipe(
          Effect.provide(PersistenceSql.layer().pipe(Layer.provide(SqliteClient.layer({ filename: file }))))
        )
      yield* Effect.gen(function*() {
        const url = yield* served
        for (const path of ["state", "events"]) {
          const answer = yield* request(`${url}/bad/${path}`)
          expect([answer.status, JSON.parse(answer.text).error]).toEqual([500, "RestoreFailed"])
          expect(answer.text).not.toContain("secret-row")
        }
        const posted = yield* postAction(`${url}/bad/actions`, { _tag: "Add", note: "y" })
        expect(posted.status).toBe(500)
      }).pipe(Effect.scoped, Effect.provide(runner(file)))
    }).pipe(Effect.scoped), 60_000)
})

describe("StoreEntity.httpRouter closing", () => {
  it.live("a request still waiting for its store when the routes close is answered 503 at once, so the server can close", () =>
    Effect.gen(function*() {
      // A store the cluster cannot reach now: its first read never answers.
      const unreachable = { id: "a", state: Effect.never } as unknown as StoreEntity.Client<State, Action>
      const routesScope = yield* Scope.make()
      const routes = yield* routerOf(entityStores(() => unreachable), { actions: Action, state: State }).pipe(Scope.extend(routesScope))
      const context = yield* Layer.build(
        HttpServer.serve(StoreHttp.withJsonErrors(HttpRouter.empty.pipe(HttpRouter.mount("/notes", routes)))).pipe(
          Layer.provideMerge(NodeHttpServer.layer(http.createServer, { port: 0, host: "127.0.0.1" }))
        )
      )
      const url = `http://127.0.0.1:${(Context.get(context, HttpServer.HttpServer).address as HttpServer.TcpAddress).port}/notes`
      const waiting = yield* Effect.fork(Effect.all([request(`${url}/a/changes`), request(`${url}/a/state`)], { concurrency: 2 }))
      yield* Effect.sleep("300 millis")
      yield* Scope.close(routesScope, Exit.void)
      const answers = yield* Fiber.join(waiting).pipe(Effect.timeout("3 seconds"))
      expect(answers.map((a) => [a.status, JSON.parse(a.text).error])).toEqual([[503, "StoreShutdown"], [503, "StoreShutdown"]])
    }).pipe(Effect.scoped), 30_000)
})
