/**
 * Serves a store over HTTP, Server-Sent Events and WebSocket with `@effect/platform`. Actions (and the
 * state) cross the wire through the `Schema`s you give; anything that does not decode is refused with a
 * JSON error and never reaches the reducer. Import it from `composable-effect/http`.
 *
 * Routes (mount them anywhere with `HttpRouter.mount`):
 * - `POST /actions`: the body is one encoded action. `202 { accepted, id }` at once, or with
 *   `?waitFor=TagA,TagB&timeoutMs=5000` the first matching action reduced after it (`sendAndWaitFor`).
 * - `GET /events`: Server-Sent Events, one `action` event per reduced action with its `id`; resume with
 *   `Last-Event-ID` from a bounded replay buffer (`gap` events say what was lost); heartbeats.
 * - `GET /state`: the current state, when a state schema is given.
 * - `GET /changes`: the state as Server-Sent Events (`state` events): the current state, then every new
 *   one, conflated so a slow client skips to the newest instead of falling behind.
 * - `GET /ws`: a WebSocket; incoming messages are actions, outgoing ones are `{ type: "action", id, action }`,
 *   bad input gets `{ type: "error", error, message }` and the connection stays open.
 *
 * Hostile input is refused, never crashes the server and is never quoted back; every route answers one
 * spelling and its own methods (`405` otherwise); only same-origin pages (or clients sending no `Origin`)
 * get in unless `allowedOrigins` says otherwise; `POST` must be `application/json`; an `Idempotency-Key`
 * makes a retried `POST` safe.
 *
 * Many clients stay cheap and slow clients never stall the store or each other: what the store reduced
 * since the last write is encoded once and the same bytes are written to every SSE client, a buffer write
 * each. An SSE client `clientBuffer` events behind skips events until it reads again; it is then sent a
 * `gap` event naming the ids it missed (it can reconnect with `Last-Event-ID` to get them from the replay
 * buffer). A WebSocket client is written each delivery whole as it comes (what it has not read waits in
 * its socket's send buffer); `clientBuffer` bounds only the events waiting for its socket to open, newer
 * ones being dropped while that many wait. `/changes` clients skip to the newest state. Under load,
 * writes to clients take at most a quarter of the process's time, so `POST`s keep being accepted while
 * thousands listen.
 *
 * A `StoreHost` is served the same way, each of its stores under a segment naming it (`POST
 * /:id/actions`, `GET /:id/events`, ...): see {@link hostRouter} and {@link layerHost}.
 *
 * @since 0.1.0
 */
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import type * as HttpRouter from "@effect/platform/HttpRouter"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { Server } from "node:http"
import * as hostHttp from "./internal/hostHttp.js"
import * as internal from "./internal/http.js"
import * as nodeServer from "./internal/nodeServer.js"
import type * as Store from "./Store.js"
import type * as StoreHost from "./StoreHost.js"

/**
 * @example
 * ```ts
 * import type { StoreHttp } from "composable-effect/http"
 * import { Schema } from "effect"
 *
 * const Action = Schema.Union(Schema.TaggedStruct("Ask", { prompt: Schema.String }), Schema.TaggedStruct("Stop", {}))
 * const options: StoreHttp.Options<unknown, typeof Action.Type, typeof Action.Encoded, never> = { actions: Action }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Options<S, A, I, SI> {
  /** Decodes incoming actions and encodes outgoing ones. */
  readonly actions: Schema.Schema<A, I>
  /**
   * The tags of the actions clients may send (`POST /actions`, WebSocket); any other action is refused
   * with `403 NotAccepted`. Default: every action the schema decodes. Use it to keep the actions your
   * effects produce (tokens, results) out of clients' reach while still broadcasting them. Checked against
   * the action type, so a misspelled tag does not compile.
   */
  readonly accepts?: ReadonlyArray<Tag<A>> | undefined
  /** Encodes the state for `GET /state`; without it the route answers 404. */
  readonly state?: Schema.Schema<S, SI> | undefined
  /**
   * Largest accepted body or WebSocket message, in bytes. Default 64 KiB. A WebSocket connection that
   * sends more than this (plus 64 KiB) without completing a message is closed with 1009.
   */
  readonly maxBodyBytes?: number | undefined
  /** Deepest nesting of arrays and objects in an action, checked before parsing. Default 32. */
  readonly maxDepth?: number | undefined
  /** Events kept for `Last-Event-ID` resume. Default 1000. */
  readonly replay?: number | undefined
  /**
   * Events a slow SSE client may fall behind before it skips events (it then gets a `gap` event), and
   * events kept for a WebSocket client while its socket opens (newer ones are dropped while that many
   * wait). Once open, a WebSocket client is written each delivery whole, however large. Default 1000.
   */
  readonly clientBuffer?: number | undefined
  /** Interval of SSE heartbeat comments. Default 15 seconds. */
  readonly heartbeat?: Duration.DurationInput | undefined
  /** How long an SSE client waits before it reconnects (the `retry:` field sent first). Default 3 seconds. */
  readonly retry?: Duration.DurationInput | undefined
  /** Longest `?waitFor` wait a client may ask for. Default 30 seconds. */
  readonly maxWait?: Duration.DurationInput | undefined
  /**
   * Origins, besides the server's own, whose pages may call these routes (browsers send `Origin`).
   * Default: none, so only same-origin pages and clients that send no `Origin` (curl, servers) get in;
   * others get `403 ForbiddenOrigin`, and CORS preflights are answered for allowed origins only.
   */
  readonly allowedOrigins?: AllowedOrigins | undefined
  /**
   * Host names (as in the `Host` header, without the port: `localhost`, `127.0.0.1`, `[::1]`) the routes
   * answer for; others get `403 ForbiddenHost`. Default: any. Set it on a server bound to loopback, so a
   * page on a domain rebound to 127.0.0.1 (DNS rebinding) cannot pass as same-origin.
   */
  readonly allowedHosts?: ReadonlyArray<string> | undefined
  /**
   * Retries of `POST /actions` with the same `Idempotency-Key` header get the first outcome instead of
   * sending the action again. Keys are kept for `timeToLive` (default 10 minutes), at most `capacity`
   * (default 10,000; the least recently used go first). `false` turns the header off.
   */
  readonly idempotency?: false | { readonly capacity?: number; readonly timeToLive?: Duration.DurationInput } | undefined
}

/**
 * Which cross-origin pages may call a store's routes: `"*"` (any), a list of origins
 * (`"https://app.example.com"`), or a predicate.
 *
 * @example
 * ```ts
 * import type { StoreHttp } from "composable-effect/http"
 *
 * const origins: StoreHttp.AllowedOrigins = ["https://app.example.com"]
 * ```
 * @since 0.1.0
 * @category models
 */
export type AllowedOrigins = "*" | ReadonlyArray<string> | ((origin: string) => boolean)

/**
 * How long the Node server made by {@link createServer} (and {@link layer}) waits for a request's headers
 * (default 10 seconds) and for the whole request (default 30 seconds) before it answers `408` and closes.
 *
 * @example
 * ```ts
 * import type { StoreHttp } from "composable-effect/http"
 *
 * const options: StoreHttp.ServerOptions = { headersTimeout: "5 seconds", requestTimeout: "20 seconds" }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions {
  readonly headersTimeout?: Duration.DurationInput | undefined
  readonly requestTimeout?: Duration.DurationInput | undefined
}

/**
 * The tag of an action, as `accepts` names it: its `_tag`, or the action itself for string actions.
 *
 * @example
 * ```ts
 * import type { StoreHttp } from "composable-effect/http"
 *
 * type Action = { readonly _tag: "Ask"; readonly prompt: string } | { readonly _tag: "Stop" }
 * const tags: ReadonlyArray<StoreHttp.Tag<Action>> = ["Ask", "Stop"]
 * ```
 * @since 0.1.0
 * @category models
 */
export type Tag<A> = A extends { readonly _tag: infer T extends string } ? T : A extends string ? A : string

/**
 * The `error` field of every JSON error body (and WebSocket error frame).
 *
 * @example
 * ```ts
 * import type { StoreHttp } from "composable-effect/http"
 *
 * const code: StoreHttp.ErrorCode = "InvalidAction"
 * ```
 * @since 0.1.0
 * @category models
 */
export type ErrorCode =
  | "MalformedJson"
  | "InvalidAction"
  | "InvalidQuery"
  | "ReducerDefect"
  | "PayloadTooLarge"
  | "NotAccepted"
  | "NotFound"
  | "WaitTimeout"
  | "StoreShutdown"
  | "UnencodableState"
  | "UpgradeRequired"
  | "UnsupportedMediaType"
  | "MethodNotAllowed"
  | "ForbiddenOrigin"
  | "ForbiddenHost"
  | "InvalidHeader"
  | "IdempotencyKeyReused"
  | "BadRequest"
  | "HeadersTooLarge"
  | "RequestTimeout"
  | "ExpectationFailed"
  | "InvalidId"
  | "RestoreFailed"
  | "PersistenceUnavailable"
  | "StoreUnreachable"
  | "Internal"

/**
 * The store's routes, to mount on your own router. The event log behind SSE and WebSocket lives in the
 * current scope.
 *
 * @example
 * ```ts
 * import { HttpRouter } from "@effect/platform"
 * import { StoreHttp } from "composable-effect/http"
 * import { Reducer, Store } from "composable-effect"
 * import { Effect, Schema } from "effect"
 *
 * const Action = Schema.Literal("inc")
 * const routes = Effect.gen(function*() {
 *   const store = yield* Store.make({ initialState: 0, reducer: Reducer.fromState((n: number, _: "inc") => n + 1) })
 *   const storeRoutes = yield* StoreHttp.router(store, { actions: Action, state: Schema.Number })
 *   return HttpRouter.empty.pipe(HttpRouter.mount("/counter", storeRoutes))
 * })
 * ```
 * @since 0.1.0
 * @category routes
 */
export const router: <S, A, I, SI>(
  store: Store.Store<S, A>,
  options: Options<S, A, I, SI>
) => Effect.Effect<HttpRouter.HttpRouter, never, Scope.Scope> = internal.router

/**
 * Makes any router answer unknown routes with `404 { error: "NotFound" }` and unexpected failures with a
 * JSON 500, instead of empty bodies.
 *
 * @example
 * ```ts
 * import { HttpRouter, HttpServer } from "@effect/platform"
 * import { StoreHttp } from "composable-effect/http"
 *
 * const app = StoreHttp.withJsonErrors(HttpRouter.empty)
 * const serve = HttpServer.serve(app)
 * ```
 * @since 0.1.0
 * @category routes
 */
export const withJsonErrors = internal.withJsonErrors

/**
 * A Node HTTP server for serving stores: its own refusals (malformed requests `400`, headers too large
 * `431`, timeouts `408`, a bad `Expect` `417`) are JSON like the routes', and a half-sent request is
 * dropped after `headersTimeout` / `requestTimeout`. {@link layer} uses it; pass it to
 * `NodeHttpServer.layer` when you build your own server.
 *
 * @example
 * ```ts
 * import { NodeHttpServer } from "@effect/platform-node"
 * import { StoreHttp } from "composable-effect/http"
 *
 * const server = NodeHttpServer.layer(() => StoreHttp.createServer({ headersTimeout: "5 seconds" }), { port: 3000 })
 * ```
 * @since 0.1.0
 * @category servers
 */
export const createServer: (options?: ServerOptions) => Server = nodeServer.createServer

/**
 * The host names a store served on loopback answers for by default.
 *
 * @example
 * ```ts
 * import { StoreHttp } from "composable-effect/http"
 *
 * const names = StoreHttp.loopbackNames // ["localhost", "127.0.0.1", "[::1]"]
 * ```
 * @since 0.1.0
 * @category security
 */
export const loopbackNames: ReadonlyArray<string> = ["localhost", "127.0.0.1", "[::1]"]

/**
 * Serves the store behind `tag` on a port (0 picks a free one; read it from `HttpServer.HttpServer`). With
 * a loopback `host` (`127.0.0.1`, `localhost`, `::1`) and no `allowedHosts`, it answers for
 * {@link loopbackNames} only.
 *
 * @example
 * ```ts
 * import { Reducer, Store } from "composable-effect"
 * import { StoreHttp } from "composable-effect/http"
 * import { Context, Layer, Schema } from "effect"
 *
 * class Counter extends Context.Tag("Counter")<Counter, Store.Store<number, "inc">>() {}
 * const CounterLive = Store.layer(Counter, { initialState: 0, reducer: Reducer.fromState((n: number, _: "inc") => n + 1) })
 * const Served = StoreHttp.layer(Counter, { actions: Schema.Literal("inc"), port: 3000 }).pipe(Layer.provide(CounterLive))
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layer = <Id, S, A, I, SI>(
  tag: Context.Tag<Id, Store.Store<S, A>>,
  options: Options<S, A, I, SI> & ServerOptions & { readonly port?: number; readonly host?: string }
): Layer.Layer<HttpServer.HttpServer, HttpServerError.ServeError, Id> => serving(Effect.map(tag, internal.oneStore), options)

/**
 * The routes of a host's stores, to mount on your own router: the routes of {@link router} under a
 * segment naming the store, `POST /:id/actions`, `GET /:id/events`, `GET /:id/state`, `GET /:id/changes`
 * and `GET /:id/ws`, with the same checks and limits. An id is 1 to 128 of `A-Z a-z 0-9 . _ ~ -`
 * (percent-decoded first; never `.` or `..`): anything else is `400 InvalidId`, and is never quoted back.
 *
 * A request activates its store (restoring it from persistence if need be): a store that does not
 * restore answers `500 RestoreFailed` (the server logs why), a failing persistence backend `503
 * PersistenceUnavailable`, a host that has shut down `503 StoreShutdown`. An SSE, `/changes` or
 * WebSocket client holds its store (`host.get`) while it is connected, so a store someone listens to is
 * never passivated for being idle. What the routes keep for a store (its replay buffer, its state feed)
 * lives only as long as the store stays resident.
 *
 * Event ids on these routes are `<epoch>-<n>` (strings, in `POST` answers and WebSocket frames too): the
 * epoch names the store's current activation. A client that resumes with an id of an earlier activation
 * (the store was passivated since) gets a `reset` event, as after a server restart: what it missed went
 * with that activation, so it reloads the state; it never gets events under ids it already saw.
 * `Idempotency-Key`s are kept for the router, per store, across passivations.
 *
 * @example
 * ```ts
 * import { HttpRouter } from "@effect/platform"
 * import { StoreHttp } from "composable-effect/http"
 * import { Reducer, StoreHost } from "composable-effect"
 * import { Effect, Schema } from "effect"
 *
 * const routes = Effect.gen(function*() {
 *   const host = yield* StoreHost.make({
 *     name: "counters",
 *     initialState: () => 0,
 *     reducer: Reducer.fromState((n: number, _: "inc") => n + 1)
 *   })
 *   const hostRoutes = yield* StoreHttp.hostRouter(host, { actions: Schema.Literal("inc"), state: Schema.Number })
 *   return HttpRouter.empty.pipe(HttpRouter.mount("/counters", hostRoutes)) // POST /counters/a/actions, ...
 * })
 * ```
 * @since 0.2.0
 * @category routes
 */
export const hostRouter: <S, A, I, SI>(
  host: StoreHost.StoreHost<S, A>,
  options: Options<S, A, I, SI>
) => Effect.Effect<HttpRouter.HttpRouter, never, Scope.Scope> = hostHttp.hostRouter

/**
 * Serves the host behind `tag` on a port, as {@link layer} serves a store: the routes of
 * {@link hostRouter} at the root (`/:id/actions`, ...), on a server of its own whose SSE clients skip the
 * platform's per-request fiber.
 *
 * @example
 * ```ts
 * import { Reducer, StoreHost } from "composable-effect"
 * import { StoreHttp } from "composable-effect/http"
 * import { Context, Layer, Schema } from "effect"
 *
 * class Counters extends Context.Tag("Counters")<Counters, StoreHost.StoreHost<number, "inc">>() {}
 * const CountersLive = StoreHost.layer(Counters, {
 *   name: "counters",
 *   initialState: () => 0,
 *   reducer: Reducer.fromState((n: number, _: "inc") => n + 1)
 * })
 * const Served = StoreHttp.layerHost(Counters, { actions: Schema.Literal("inc"), port: 3000, host: "127.0.0.1" }).pipe(
 *   Layer.provide(CountersLive)
 * )
 * ```
 * @since 0.2.0
 * @category layers
 */
export const layerHost = <Id, S, A, I, SI>(
  tag: Context.Tag<Id, StoreHost.StoreHost<S, A>>,
  options: Options<S, A, I, SI> & ServerOptions & { readonly port?: number; readonly host?: string }
): Layer.Layer<HttpServer.HttpServer, HttpServerError.ServeError, Id> => serving(Effect.map(tag, hostHttp.hostStores), options)

/** The server of {@link layer} and {@link layerHost}, for the stores `sourcing` finds. */
const serving = <Id, K, S, A, I, SI>(
  sourcing: Effect.Effect<internal.Sourcing<K, S, A>, never, Id>,
  options: Options<S, A, I, SI> & ServerOptions & { readonly port?: number; readonly host?: string }
): Layer.Layer<HttpServer.HttpServer, HttpServerError.ServeError, Id> =>
  Layer.scopedContext(Effect.gen(function*() {
    const stores = yield* sourcing
    const closing = yield* Deferred.make<void>()
    // Bound to loopback, the server answers for loopback names only unless told otherwise: a page on a
    // domain rebound to 127.0.0.1 (DNS rebinding) would otherwise be same-origin with it.
    const loopback = options.host !== undefined && [...loopbackNames, "::1"].includes(options.host)
    const { direct, router: routes } = yield* internal.routerEndingOn(
      stores,
      loopback && options.allowedHosts === undefined ? { ...options, allowedHosts: loopbackNames } : options,
      closing
    )
    // The server is this layer's own: its SSE requests can skip the platform's per-request fiber.
    const server = NodeHttpServer.layer(() => nodeServer.servingDirect(createServer(options), direct), {
      port: options.port ?? 0,
      ...(options.host ? { host: options.host } : {})
    })
    const context = yield* Layer.build(Layer.merge(HttpServer.serve(withJsonErrors(routes)), server).pipe(Layer.provideMerge(server)))
    // Added after the server, so it runs first on release: the open SSE and WebSocket clients are let go
    // before the server closes, which waits for them (they would otherwise last as long as the store).
    yield* Effect.addFinalizer(() => Deferred.succeed(closing, undefined))
    return context
  }))
