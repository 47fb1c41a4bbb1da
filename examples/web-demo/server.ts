/**
 * The live demo (`npm start`): the chat and the multi-agent orchestrator, each a store served with
 * `StoreHttp`, on one page at http://localhost:3000 (port from `PORT`; it listens on loopback only unless
 * `HOST` says otherwise).
 *
 * - `GET /`: the page (`page/index.html`, `page/app.js`: plain files, no build step).
 * - `/chat/*`, `/agents/*`: each store's routes: `POST actions`, `GET changes` (state over SSE), `GET events`.
 * - `GET /api/info`: which language model answers (local, or a provider chosen by API key).
 *
 * Ctrl-C interrupts the program: each store is shut down gracefully (its running effects get a moment to
 * finish) before the server closes.
 */
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Context, Effect, Layer } from "effect"
import { readFileSync } from "node:fs"
import { pathToFileURL } from "node:url"
import { Store } from "../../src/index.js"
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

/** How long a store's running effects may take to finish when the demo stops. */
const DRAIN = "2 seconds"

/**
 * The demo's routes, and the graceful shutdown of its stores; they live in the current scope. The stores'
 * routes take same-origin requests only (StoreHttp's default), so a page on another site cannot spend
 * the chat's API key; `allowedHosts` also shuts out DNS rebinding.
 */
export const routes = (model: ModelChoice, allowedHosts?: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const services = yield* Layer.build(model.layer)
    const chat = yield* Store.make({ initialState: Chat.initialState, reducer: Chat.reducer, label: "chat" }).pipe(
      Effect.provide(services)
    )
    const agents = yield* Store.make({ initialState: Agents.initialState, reducer: Agents.reducer, label: "agents" })
    // Running effects get DRAIN to finish; their actions still reach clients; then every stream ends.
    // What did not finish in time is interrupted and reported, not hidden.
    const drain = <S, A>(store: Store.Store<S, A>) =>
      store.shutdown({ timeout: DRAIN }).pipe(Effect.catchAll((error) => Effect.logWarning(error.message)))
    const shutdown = Effect.all([drain(chat), drain(agents)], { concurrency: "unbounded", discard: true })
    const chatRoutes = yield* StoreHttp.router(chat, { actions: Chat.Action, state: Chat.State, accepts: ["Ask", "Stop"], allowedHosts })
    const agentRoutes = yield* StoreHttp.router(agents, {
      actions: Agents.ActionSchema,
      state: Agents.StateSchema,
      accepts: ["Start"],
      allowedHosts
    })
    const info = HttpServerResponse.unsafeJson({ provider: model.provider, model: model.model })
    const serveAsset = (path: keyof typeof assets) =>
      HttpRouter.get(path, Effect.succeed(HttpServerResponse.text(assets[path].body, { contentType: assets[path].contentType })))
    const router = HttpRouter.empty.pipe(
      serveAsset("/"),
      serveAsset("/app.js"),
      serveAsset("/style.css"),
      HttpRouter.get("/api/info", Effect.succeed(info)),
      HttpRouter.mount("/chat", chatRoutes),
      HttpRouter.mount("/agents", agentRoutes)
    )
    return { router, shutdown }
  })

/**
 * Serves the demo on `port` (0 picks a free one) for the current scope; returns its URL.
 *
 * Built in this order on purpose, since a scope closes in reverse: at exit the stores shut down first,
 * while the server still serves (clients see the drained actions, then their SSE responses end), then
 * the server stops serving, and the listening socket closes last, once no connection is open.
 */
export const serve = (options: { readonly port: number; readonly host: string; readonly model: ModelChoice }) =>
  Effect.gen(function*() {
    // JSON refusals and short request timeouts from Node itself, as StoreHttp.layer has.
    const node = StoreHttp.createServer()
    const listening = yield* Layer.build(
      NodeHttpServer.layer(() => node, { port: options.port, host: options.host })
    )
    // Host names a loopback server answers for: a page on a domain rebound to 127.0.0.1 is refused.
    const loopback = StoreHttp.loopbackNames.includes(options.host.includes(":") ? `[${options.host}]` : options.host)
    const app = yield* routes(options.model, loopback ? StoreHttp.loopbackNames : undefined)
    yield* Layer.build(HttpServer.serve(StoreHttp.withJsonErrors(app.router))).pipe(Effect.provide(listening))
    yield* Effect.addFinalizer(() => app.shutdown)
    // Runs first at exit: a connection whose response ends from now on closes at once instead of idling
    // for the keep-alive timeout, which the listening socket's close would otherwise wait out.
    yield* Effect.addFinalizer(() => Effect.sync(() => (node.keepAliveTimeout = 1)))
    const address = Context.get(listening, HttpServer.HttpServer).address as HttpServer.TcpAddress
    const host = options.host.includes(":") ? `[${options.host}]` : options.host
    return { url: `http://${host}:${address.port}`, port: address.port }
  })

/** `npm start`: serve until Ctrl-C. */
export const main = Effect.gen(function*() {
  // 0 asks for a free port (the tests use it); Config.port would refuse it.
  const port = yield* Config.integer("PORT").pipe(
    Config.validate({ message: "PORT must be an integer from 0 to 65535", validation: (n) => n >= 0 && n <= 65535 }),
    Config.withDefault(3000)
  )
  // Loopback only unless asked: with an API key set, the chat spends it for whoever can reach the page.
  const host = yield* Config.string("HOST").pipe(Config.withDefault("127.0.0.1"))
  const model = yield* fromEnv
  const served = yield* serve({ port, host, model })
  const url = host === "127.0.0.1" ? `http://localhost:${served.port}` : served.url
  yield* Effect.sync(() =>
    process.stdout.write(
      `composable-effect demo: ${url}  (model: ${model.provider}/${model.model})\n` +
        `Ask the chat something, press Stop mid-answer, run the agents. Ctrl-C to quit.\n`
    )
  )
  return yield* Effect.never
}).pipe(Effect.scoped)

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  NodeRuntime.runMain(main)
}
