/**
 * The live demo (`npm start`): the chat and the multi-agent orchestrator, served with `StoreHttp`, on one
 * page at http://localhost:3000.
 *
 * The chat is a `StoreHost` of conversations, one store per conversation id, persisted to SQLite through
 * `PersistenceSql`: each conversation's questions and finished replies are journaled, its state
 * snapshotted, so a restart shows every earlier conversation with its messages (a reply cut off by the
 * restart ends as interrupted; see `Restored` in `llm-chat.ts`). The agents are one store, in memory.
 *
 * - `GET /`: the page (`page/index.html`, `page/app.js`: plain files, no build step).
 * - `/chat/:id/*`: a conversation's routes (`StoreHttp.hostRouter`): `POST actions`, `GET changes` (state
 *   over SSE), `GET events`, `GET state`. The page makes up the id of a new conversation.
 * - `/agents/*`: the agents store's routes (`StoreHttp.router`).
 * - `GET /api/conversations`: the ids of every conversation (stored, or in memory now), as a JSON array.
 * - `GET /api/info`: which language model answers (local, or a provider chosen by API key).
 *
 * Environment:
 * - `PORT` (default 3000; 0 picks a free one), `HOST` (default `127.0.0.1`: loopback only).
 * - `DEMO_DB`: the SQLite file the conversations are kept in, default `composable-effect-demo.db` in the
 *   working directory (SQLite adds `-wal` and `-shm` files next to it). Delete it to start over.
 * - `ANTHROPIC_API_KEY`, `OPENAI_API_KEY`, `CHAT_MODEL`: the model (see `local-model.ts`).
 *
 * Ctrl-C interrupts the program: the stores are shut down gracefully (running replies get DRAIN to
 * finish, then each conversation's last snapshot is written) before the server closes, and the database
 * closes last.
 */
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Config, Context, Effect, Layer } from "effect"
import { readFileSync } from "node:fs"
import { pathToFileURL } from "node:url"
import { type Persistence, Store, StoreHost } from "../../src/index.js"
import * as PersistenceSql from "../../src/PersistenceSql.js"
import * as StoreHttp from "../../src/StoreHttp.js"
import * as Chat from "../llm-chat.js"
import { fromEnv, type ModelChoice } from "../local-model.js"
import * as Agents from "../multi-agent-progress.js"

const page = (file: string) => readFileSync(new URL(`./page/${file}`, import.meta.url), "utf8")

/** Static files, read once at start. */
const assets = {
  "/": { body: page("index.html"), contentType: "text/html; charset=utf-8" },
  "/app.js": { body: page("app.js"), contentType: "text/javascript; charset=utf-8" },
  "/style.css": { body: page("style.css"), contentType: "text/css; charset=utf-8" }
} as const

/** How long running effects may take to finish when the demo stops: the agents' and every conversation's. */
const DRAIN = "2 seconds"

/** Where the conversations are kept unless `DEMO_DB` says otherwise: relative to the working directory. */
export const DEFAULT_DB = "composable-effect-demo.db"

/**
 * The `Persistence` service on the SQLite file `filename` (created, with its tables, on first use). The
 * client closes the file when the layer's scope closes.
 */
export const database = (filename: string): Layer.Layer<Persistence.Persistence, unknown> =>
  PersistenceSql.layer().pipe(Layer.provide(SqliteClient.layer({ filename })))

/** The host name of a `Host` header (`localhost:3000`, `[::1]:3000`), lower-cased, without its port. */
const hostnameOf = (host: string): string => {
  const lower = host.toLowerCase()
  if (lower.startsWith("[")) return lower.slice(0, lower.indexOf("]") + 1)
  const colon = lower.indexOf(":")
  return colon < 0 ? lower : lower.slice(0, colon)
}

/**
 * `handler`, answering only requests whose `Host` names one of `allowedHosts` (all, when undefined) and
 * refusing the others with 403 `ForbiddenHost`, as the stores' routes do: a page on a domain rebound to
 * this server gets nothing.
 */
export const forHosts = <E, R>(
  allowedHosts: ReadonlyArray<string> | undefined,
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> => {
  const allowed = allowedHosts?.map((name) => name.toLowerCase())
  return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const host = request.headers["host"]
    return allowed !== undefined && (host === undefined || !allowed.includes(hostnameOf(host)))
      ? Effect.succeed(HttpServerResponse.unsafeJson(
        { error: "ForbiddenHost", message: "this server does not answer for that host name" },
        { status: 403 }
      ))
      : handler
  })
}

/**
 * The page's own routes, shared with the cluster demo (`cluster.ts`): the static files, `GET /api/info`
 * (`info`, as JSON), and `GET /api/conversations` (the ids `conversations` lists, sorted). The list
 * answers only for `allowedHosts`, when given, as the stores' routes do.
 */
export const pageRouter = (options: {
  readonly info: unknown
  readonly conversations: Effect.Effect<Iterable<string>, Persistence.PersistenceError>
  readonly allowedHosts?: ReadonlyArray<string> | undefined
}): HttpRouter.HttpRouter => {
  const conversations = forHosts(options.allowedHosts, Effect.gen(function*() {
    // Sorted, so the answer is stable; the page's ids sort by when they were made.
    const ids = yield* options.conversations
    return HttpServerResponse.unsafeJson([...ids].sort())
  })).pipe(
    Effect.catchTag("PersistenceError", (error) =>
      Effect.as(
        Effect.logError("the conversations could not be listed", error.cause),
        HttpServerResponse.unsafeJson({ error: "PersistenceUnavailable", message: "the conversations could not be listed" }, { status: 503 })
      ))
  )
  const serveAsset = (path: keyof typeof assets) =>
    HttpRouter.get(path, Effect.succeed(HttpServerResponse.text(assets[path].body, { contentType: assets[path].contentType })))
  return HttpRouter.empty.pipe(
    serveAsset("/"),
    serveAsset("/app.js"),
    serveAsset("/style.css"),
    HttpRouter.get("/api/info", forHosts(options.allowedHosts, Effect.succeed(HttpServerResponse.unsafeJson(options.info)))),
    HttpRouter.get("/api/conversations", conversations)
  )
}

/**
 * The demo's routes, and the graceful shutdown of its stores; they live in the current scope, which must
 * provide `Persistence` for the conversations. The stores' routes take same-origin requests only
 * (StoreHttp's default), so a page on another site cannot spend the chat's API key; `allowedHosts` also
 * shuts out DNS rebinding, on the stores' routes and on the list of conversations alike.
 */
export const routes = (model: ModelChoice, allowedHosts?: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const services = yield* Layer.build(model.layer)
    const chats = yield* StoreHost.make({
      name: "chat",
      initialState: () => Chat.initialState,
      reducer: Chat.reducer,
      // A conversation nobody has used for this long leaves memory (its last snapshot is written first);
      // an open page holds the one it shows. Past maxResident, the least recently used idle one goes.
      idleTimeout: "5 minutes",
      maxResident: 1_000,
      persistence: Chat.persistence
    }).pipe(Effect.provide(services))
    const agents = yield* Store.make({ initialState: Agents.initialState, reducer: Agents.reducer, label: "agents" })
    // Running effects get DRAIN to finish; their actions still reach clients; then every stream ends and
    // each conversation's last snapshot is committed (the host's shutdown waits for that).
    // What did not finish in time is interrupted and reported, not hidden.
    const reportTimeout = Effect.catchAll((error: { readonly message: string }) => Effect.logWarning(error.message))
    const shutdown = Effect.all([
      chats.shutdown({ timeout: DRAIN }).pipe(reportTimeout),
      agents.shutdown({ timeout: DRAIN }).pipe(reportTimeout)
    ], { concurrency: "unbounded", discard: true })
    const chatRoutes = yield* StoreHttp.hostRouter(chats, { actions: Chat.Action, state: Chat.State, accepts: ["Ask", "Stop"], allowedHosts })
    const agentRoutes = yield* StoreHttp.router(agents, {
      actions: Agents.ActionSchema,
      state: Agents.StateSchema,
      accepts: ["Start"],
      allowedHosts
    })
    const router = pageRouter({ info: { provider: model.provider, model: model.model }, conversations: chats.ids, allowedHosts }).pipe(
      HttpRouter.mount("/chat", chatRoutes),
      HttpRouter.mount("/agents", agentRoutes)
    )
    return { router, shutdown }
  })

/** A host as it stands in a URL: an IPv6 address in brackets. */
const bracketed = (host: string): string => (host.includes(":") ? `[${host}]` : host)

/** The URL to print for a server on `host` and `port`: `localhost` for 127.0.0.1, which a browser shows as such. */
export const urlFor = (host: string, port: number): string =>
  host === "127.0.0.1" ? `http://localhost:${port}` : `http://${bracketed(host)}:${port}`

/**
 * Listens on `port` (0 picks a free one) of `host` for the current scope; `serve` then serves an app's
 * routes there and runs its `shutdown` at exit. Shared with the cluster demo, whose workers share one
 * port this way.
 *
 * Built in this order on purpose, since a scope closes in reverse: at exit the app's `shutdown` runs
 * first, while the server still serves (clients see the drained actions, then their SSE responses end),
 * then the server stops serving, and the listening socket closes once no connection is open.
 */
export const listen = (options: { readonly port: number; readonly host: string }) =>
  Effect.gen(function*() {
    // JSON refusals and short request timeouts from Node itself, as StoreHttp.layer has.
    const node = StoreHttp.createServer()
    const listening = yield* Layer.build(
      NodeHttpServer.layer(() => node, { port: options.port, host: options.host })
    )
    // Host names a loopback server answers for: a page on a domain rebound to 127.0.0.1 is refused.
    const host = bracketed(options.host)
    const loopback = StoreHttp.loopbackNames.includes(host)
    const address = Context.get(listening, HttpServer.HttpServer).address as HttpServer.TcpAddress
    const serve = (app: { readonly router: HttpRouter.HttpRouter; readonly shutdown: Effect.Effect<void> }) =>
      Effect.gen(function*() {
        yield* Layer.build(HttpServer.serve(StoreHttp.withJsonErrors(app.router))).pipe(Effect.provide(listening))
        yield* Effect.addFinalizer(() => app.shutdown)
        // Runs first at exit: a connection whose response ends from now on closes at once instead of
        // idling for the keep-alive timeout, which the listening socket's close would otherwise wait out.
        yield* Effect.addFinalizer(() => Effect.sync(() => (node.keepAliveTimeout = 1)))
      })
    return {
      url: `http://${host}:${address.port}`,
      port: address.port,
      allowedHosts: loopback ? StoreHttp.loopbackNames : undefined,
      serve
    }
  })

/**
 * Serves the demo on `port` (0 picks a free one) for the current scope, with the conversations kept in the
 * SQLite file `database`; returns its URL. At exit the stores shut down first, while the server still
 * serves (see `listen`), each conversation's last snapshot is committed, and the database closes last.
 */
export const serve = (options: {
  readonly port: number
  readonly host: string
  readonly model: ModelChoice
  readonly database: string
}) =>
  Effect.gen(function*() {
    const persistence = yield* Layer.build(database(options.database)).pipe(
      Effect.mapError((cause) => new Error(`cannot open the demo's database ${JSON.stringify(options.database)} (DEMO_DB)`, { cause }))
    )
    const server = yield* listen(options)
    const app = yield* routes(options.model, server.allowedHosts).pipe(Effect.provide(persistence))
    yield* server.serve(app)
    return { url: server.url, port: server.port }
  })

/** The settings both demos read: `PORT`, `HOST`, `DEMO_DB` (with `defaultDb`), and the model. */
export const settings = (defaultDb: string) =>
  Effect.gen(function*() {
    // 0 asks for a free port (the tests use it); Config.port would refuse it.
    const port = yield* Config.integer("PORT").pipe(
      Config.validate({ message: "PORT must be an integer from 0 to 65535", validation: (n) => n >= 0 && n <= 65535 }),
      Config.withDefault(3000)
    )
    // Loopback only unless asked: with an API key set, the chat spends it for whoever can reach the page.
    const host = yield* Config.string("HOST").pipe(Config.withDefault("127.0.0.1"))
    const database = yield* Config.string("DEMO_DB").pipe(
      Config.validate({ message: "DEMO_DB must name a file", validation: (name) => name.trim().length > 0 }),
      Config.withDefault(defaultDb)
    )
    const model = yield* fromEnv
    return { port, host, database, model }
  })

/** `npm start`: serve until Ctrl-C. */
export const main = Effect.gen(function*() {
  const { database: db, host, model, port } = yield* settings(DEFAULT_DB)
  const served = yield* serve({ port, host, model, database: db })
  const url = urlFor(host, served.port)
  yield* Effect.sync(() =>
    process.stdout.write(
      `composable-effect demo: ${url}  (model: ${model.provider}/${model.model}; conversations in ${db})\n` +
        `Ask the chat something, press Stop mid-answer, start another conversation, run the agents. Ctrl-C to quit.\n`
    )
  )
  return yield* Effect.never
}).pipe(Effect.scoped)

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  NodeRuntime.runMain(main)
}
