import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { PersistenceError } from "../Persistence.js"
import type { RestoreError, StoreShutdownError } from "../StoreError.js"
import type * as StoreHttp from "../StoreHttp.js"
import type { Refusal } from "./httpInput.js"

/**
 * What every store route checks before its handler runs: one spelling of its path, the methods it has,
 * the `Host` and `Origin` of the request, CORS preflights, and a guard that turns a handler's defect into
 * a logged `500` instead of an empty answer.
 */

/** @internal */
export const refuse = (r: Refusal, headers?: Record<string, string>) =>
  HttpServerResponse.unsafeJson({ error: r.error, message: r.message }, { status: r.status, ...(headers ? { headers } : {}) })

/** @internal */
export type Method = "GET" | "POST"

/** A route's handlers by method, each given the key the path names its store by (nothing for one store). @internal */
export type Methods<R, K = void> = Partial<Record<Method, (key: K) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, R>>>

/** @internal */
export interface GuardOptions {
  /** Whether a cross-origin page may call the routes: {@link originPolicy} of the option. */
  readonly originAllowed: (origin: string) => boolean
  readonly allowedHosts?: ReadonlyArray<string> | undefined
}

/** The hostname of a `Host` header (`[::1]:80` is `[::1]`), lowercased. */
const hostname = (host: string): string => {
  const lower = host.toLowerCase()
  if (lower.startsWith("[")) return lower.slice(0, lower.indexOf("]") + 1)
  const colon = lower.indexOf(":")
  return colon < 0 ? lower : lower.slice(0, colon)
}

/**
 * Same origin: the page that sends the request was served by this host and port. The `Host` is read in
 * the origin's scheme, so `Host: localhost:80` is the origin `http://localhost`.
 */
const sameOrigin = (origin: string, host: string | undefined): boolean => {
  if (host === undefined) return false
  try {
    const page = new URL(origin)
    return page.host !== "" && new URL(`${page.protocol}//${host}`).host === page.host
  } catch {
    return false
  }
}

/** An origin as browsers send it (`scheme://host[:port]`, lowercase, no default port, no path). */
const normalizeOrigin = (origin: string): string => {
  const url = new URL(origin)
  if (url.host === "" || (url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "") {
    throw new RangeError(`StoreHttp: allowedOrigins entries are origins like "https://app.example.com", got ${JSON.stringify(origin)}`)
  }
  return url.origin
}

/**
 * The policy as a predicate; listed origins are normalized once, so `HTTPS://App.example.com/` matches,
 * and an entry that is not an origin is a `RangeError` here, when the routes are made.
 *
 * @internal
 */
export const originPolicy = (policy: StoreHttp.AllowedOrigins | undefined): (origin: string) => boolean => {
  if (policy === undefined) return () => false
  if (policy === "*") return () => true
  if (typeof policy === "function") return policy
  const listed = new Set(policy.map(normalizeOrigin))
  return (origin) => {
    try {
      return listed.has(new URL(origin).origin)
    } catch {
      return false
    }
  }
}

const headersAllowed = "content-type, idempotency-key, last-event-id"

/** @internal */
export const notFound = refuse({ status: 404, error: "NotFound", message: "no such route" })
/** @internal */
export const internal = refuse({ status: 500, error: "Internal", message: "the request failed (the server logged why)" })

/**
 * What a failed handler answers: a defect is logged with its cause and answered with `onDefect`; an
 * interruption (the client left) is passed on, as there is no one to answer.
 *
 * @internal
 */
export const answerFailure = <A>(onDefect: Effect.Effect<A>) => <E>(cause: Cause.Cause<E>): Effect.Effect<A, E> =>
  Cause.isInterruptedOnly(cause)
    ? Effect.failCause(cause)
    : Effect.zipRight(Effect.logError("StoreHttp: a handler failed", cause), onDefect)

/**
 * Runs `handler`, answering its defects ({@link answerFailure}).
 *
 * @internal
 */
export const guardDefects = <A, R>(handler: Effect.Effect<A, never, R>, onDefect: Effect.Effect<A>): Effect.Effect<A, never, R> =>
  Effect.catchAllCause(handler, answerFailure(onDefect))

/** A request URL's path, without its query, as it was sent (not decoded or normalized). @internal */
export const pathOf = (url: string): string => {
  const query = url.indexOf("?")
  return query < 0 ? url : url.slice(0, query)
}

/** A request's `Host` and `Origin` judged: refused, or let in with the CORS headers its answer needs. @internal */
export type Admission = Refusal | { readonly cors: Record<string, string> }

const forbiddenHost: Refusal = { status: 403, error: "ForbiddenHost", message: "this server does not answer for that host name" }
const forbiddenOrigin: Refusal = { status: 403, error: "ForbiddenOrigin", message: "cross-origin requests from that origin are not allowed" }

/**
 * The `Host` and `Origin` checks of every route, synchronous, so the direct SSE path (see `StoreHttp.layer`)
 * applies exactly the same ones.
 *
 * @internal
 */
export const admission = (options: GuardOptions) => {
  // A listed name with a port matches that host and port only; without one, any port.
  const hosts = options.allowedHosts?.map((h) => h.toLowerCase())
  const hostAllowed = (host: string | undefined) =>
    hosts === undefined || (host !== undefined && (hosts.includes(host.toLowerCase()) || hosts.includes(hostname(host))))
  return (host: string | undefined, origin: string | undefined): Admission => {
    if (!hostAllowed(host)) return forbiddenHost
    const cross = origin !== undefined && !sameOrigin(origin, host)
    if (cross && !options.originAllowed(origin)) return forbiddenOrigin
    return { cors: cross ? { "access-control-allow-origin": origin, vary: "Origin" } : {} }
  }
}

/**
 * Where a request's path leads: the path of the table's route it names, and the key it names the store
 * by (or why that key is refused).
 *
 * @internal
 */
export interface Location<K> {
  readonly route: string
  readonly key: Either.Either<K, Refusal>
}

/**
 * How a router's paths are laid out: the patterns it registers with the platform's router for the
 * table's routes, and how it reads a request's raw path (undecoded, without its query).
 *
 * @internal
 */
export interface Layout<K> {
  readonly patterns: (routes: ReadonlyArray<`/${string}`>) => ReadonlyArray<`/${string}`>
  readonly locate: (path: string) => Location<K> | undefined
}

/** One store: each route at its own path, spelled exactly so. @internal */
export const exactLayout: Layout<void> = {
  patterns: (routes) => routes,
  locate: (path) => ({ route: path, key: Either.right(undefined) })
}

/**
 * The routes of `table`, laid out by `layout`, each matched on exactly one spelling (the router's own
 * matching ignores case, duplicate and trailing slashes, and percent-encoding) and answering every
 * method: the ones it has, a CORS preflight for an allowed origin, or `405` with `Allow`. A key the
 * layout refuses (a host's malformed store id) is answered with its refusal before any handler runs.
 *
 * @internal
 */
export const routes = <R, K>(
  table: Readonly<Record<`/${string}`, Methods<R, K>>>,
  options: GuardOptions,
  layout: Layout<K>
): HttpRouter.HttpRouter<never, HttpRouter.HttpRouter.ExcludeProvided<R>> => {
  const admit = admission(options)
  const known = new Map<string, { readonly methods: Methods<R, K>; readonly allow: string }>()
  for (const [path, methods] of Object.entries(table) as Array<[`/${string}`, Methods<R, K>]>) {
    // HEAD is answered as GET (the platform writes the head only), as HTTP asks of a server with GET.
    known.set(path, { methods, allow: [...Object.keys(methods), ...("GET" in methods ? ["HEAD"] : []), "OPTIONS"].join(", ") })
  }
  const route = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const location = layout.locate(pathOf(request.url))
    const found = location === undefined ? undefined : known.get(location.route)
    if (location === undefined || found === undefined) return notFound
    const { allow, methods } = found
    const admitted = admit(request.headers["host"], request.headers["origin"])
    if ("status" in admitted) return refuse(admitted)
    const { cors } = admitted
    const cross = "vary" in cors
    if (Either.isLeft(location.key)) return refuse(location.key.left, cors)
    if (request.method === "OPTIONS") {
      return HttpServerResponse.empty({
        status: 204,
        headers: {
          ...cors,
          allow,
          ...(cross
            ? { "access-control-allow-methods": allow, "access-control-allow-headers": headersAllowed, "access-control-max-age": "600" }
            : {})
        }
      })
    }
    const handler = methods[(request.method === "HEAD" ? "GET" : request.method) as Method]
    if (handler === undefined) {
      // With the CORS headers too, so the page that sent it can read why.
      return refuse({ status: 405, error: "MethodNotAllowed", message: `this route answers ${allow}` }, { allow, ...cors })
    }
    const response = yield* guardDefects(handler(location.key.right), Effect.succeed(internal))
    return cross ? HttpServerResponse.setHeaders(response, cors) : response
  })
  let router: HttpRouter.HttpRouter<never, any> = HttpRouter.empty
  for (const pattern of layout.patterns(Array.from(known.keys()) as Array<`/${string}`>)) router = HttpRouter.all(router, pattern, route)
  return router
}

/** A route asked for after its store shut down: a 503, so `EventSource` stops reconnecting. @internal */
export const storeShutDown: Refusal = { status: 503, error: "StoreShutdown", message: "the store has shut down" }
const restoreFailed: Refusal = {
  status: 500,
  error: "RestoreFailed",
  message: "the store's stored state could not be restored (the server logged why)"
}
const persistenceUnavailable: Refusal = {
  status: 503,
  error: "PersistenceUnavailable",
  message: "the store's persistence is unavailable (the server logged why)"
}

/** What a client is told when the reducer threw on its action. @internal */
export const reducerDefect: Refusal = {
  status: 500,
  error: "ReducerDefect",
  message: "the reducer threw on this action, so it was not reduced (the store logged why)"
}
const internalFailure: Refusal = { status: 500, error: "Internal", message: "the store failed (the server logged why)" }
const storeUnreachable: Refusal = {
  status: 503,
  error: "StoreUnreachable",
  message: "the store could not be reached in time (the server logged why)"
}

/**
 * A cluster's store failing (`StoreEntity`'s errors), by shape: the HTTP routes do not depend on the
 * cluster's packages.
 *
 * @internal
 */
export type RemoteStoreFailure =
  | {
    readonly _tag: "EntityStoreError"
    readonly reason: "RestoreFailed" | "PersistenceUnavailable" | "ShutDown" | "ReducerDefect" | "Defect"
  }
  | { readonly _tag: "EntityUnreachableError"; readonly reason: string }

/** What a store, a host's store or a cluster's store fails with. @internal */
export type StoreFailure = StoreShutdownError | RestoreError | PersistenceError | RemoteStoreFailure

/**
 * What a store's (or a host's) failure answers. None quotes the error: a `RestoreError` names the store
 * and what it found, which is for the server's log (with its cause), not for the client.
 *
 * @internal
 */
export const storeFailure = (error: StoreFailure): Effect.Effect<Refusal> => {
  switch (error._tag) {
    case "StoreShutdownError":
      return Effect.succeed(storeShutDown)
    case "RestoreError":
      return Effect.as(Effect.logError("StoreHttp: a store could not be restored", Cause.fail(error)), restoreFailed)
    case "PersistenceError":
      return Effect.as(Effect.logError("StoreHttp: the store's persistence failed", Cause.fail(error)), persistenceUnavailable)
    case "EntityStoreError":
      switch (error.reason) {
        case "ShutDown":
          return Effect.succeed(storeShutDown)
        // Logged where it happened, on the store's runner.
        case "ReducerDefect":
          return Effect.succeed(reducerDefect)
        default:
          return Effect.as(
            Effect.logError("StoreHttp: a cluster's store failed", Cause.fail(error)),
            error.reason === "RestoreFailed" ? restoreFailed : error.reason === "PersistenceUnavailable" ? persistenceUnavailable : internalFailure
          )
      }
    case "EntityUnreachableError":
      return Effect.as(Effect.logWarning("StoreHttp: a cluster's store was not reached", Cause.fail(error)), storeUnreachable)
  }
}
