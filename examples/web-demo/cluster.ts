/**
 * The chat demo on two runners behind one port (`npm run start:cluster`): the same page and routes as
 * `npm start`, but every conversation is a cluster entity (`StoreEntity`), not a store of one process.
 *
 * The primary process forks `WORKERS` (2) workers with `node:cluster`; they share the HTTP port, and
 * Node hands each new connection to one of them in turn. Each worker is a runner of `@effect/cluster`
 * (the socket runners of `@effect/platform-node`, on a loopback port of its own) and serves the page's
 * routes: a request reaching either worker reaches its conversation's store on whichever runner owns
 * it. The cluster's mailboxes and shard locks are in one SQLite file (`DEMO_CLUSTER_DB`), the
 * conversations' journal and snapshots in another (`DEMO_DB`); both workers open both. SQLite serves
 * processes of one machine; runners on several machines share a PostgreSQL database instead (see
 * docs/cluster.md).
 *
 * A worker that dies (find a conversation's with `GET /api/where/<conversation id>` over a few
 * connections: `holds: true`; the page's header names the worker that served the page) is forked again
 * on the same runner address, and takes its conversations back once it is up; a reply it was streaming
 * ends as interrupted, and every question it had accepted is still there. A worker that cannot start
 * ends the demo. Ctrl-C stops the workers gracefully, one at a time, then the primary.
 *
 * Environment: as `npm start` (`PORT`, `HOST`, the model's keys), and
 * - `DEMO_DB`: the conversations' SQLite file, default `composable-effect-cluster-demo.db`;
 * - `DEMO_CLUSTER_DB`: the cluster's, default the same name with `-cluster` before `.db` (or at its end);
 * - `WORKERS`: how many workers (runners), 1 to 8, default 2.
 */
import * as EntityId from "@effect/cluster/EntityId"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import * as Sharding from "@effect/cluster/Sharding"
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Config, Context, Deferred, Effect, ExecutionStrategy, Exit, Layer, Option, Scope } from "effect"
import cluster, { type Worker } from "node:cluster"
import { pathToFileURL } from "node:url"
import { StoreEntity } from "../../src/cluster.js"
import { Persistence } from "../../src/index.js"
import { freePort } from "../free-port.js"
import * as Chat from "../llm-chat.js"
import type { ModelChoice } from "../local-model.js"
import { database, forHosts, listen, pageRouter, settings, urlFor } from "./server.js"

/** Where the conversations are kept unless `DEMO_DB` says otherwise: relative to the working directory. */
export const DEFAULT_DB = "composable-effect-cluster-demo.db"

/** How long a reply may take to finish when its worker stops. */
const DRAIN = "2 seconds"

/** The conversations' entity type: the runners and the routes of every worker share it. */
export const Conversation = StoreEntity.make("Conversation", { state: Chat.State, actions: Chat.Action })

/** What the primary tells a worker through its environment. */
interface WorkerSettings {
  /** 1-based, stable across restarts. */
  readonly index: number
  readonly workers: number
  readonly runnerPort: number
}

/** The cluster's SQLite file: `DEMO_CLUSTER_DB`, else `database` with `-cluster` before its `.db`. */
const clusterDatabase = (database: string) =>
  Config.string("DEMO_CLUSTER_DB").pipe(
    Config.validate({ message: "DEMO_CLUSTER_DB must name a file", validation: (name) => name.trim().length > 0 }),
    Config.withDefault(database.endsWith(".db") ? `${database.slice(0, -3)}-cluster.db` : `${database}-cluster`)
  )

/**
 * A worker's runner: the `Conversation` entity on this process's runner (listening on 127.0.0.1 at
 * `runnerPort`), the cluster's storage in `clusterDb`, the stores' `Persistence` in `storesDb` (kept in
 * the output, for the list of conversations).
 */
export const runner = (options: {
  readonly model: ModelChoice
  readonly storesDb: string
  readonly clusterDb: string
  readonly runnerPort: number
}) =>
  StoreEntity.layer(Conversation, {
    initialState: () => Chat.initialState,
    reducer: Chat.reducer,
    // A conversation nobody has used for this long leaves memory; its last snapshot is written first.
    maxIdleTime: "5 minutes",
    shutdownTimeout: DRAIN,
    persistence: { restored: Chat.persistence.restored }
  }).pipe(
    Layer.provide(options.model.layer),
    Layer.provideMerge(database(options.storesDb)),
    Layer.provideMerge(
      NodeClusterSocket.layer({
        storage: "sql",
        shardingConfig: {
          runnerAddress: Option.some(RunnerAddress.make("127.0.0.1", options.runnerPort)),
          // A worker forked again after a crash takes its shards back once it is up (its locks carry its
          // address); these make the other workers see it sooner than the defaults' 10 s.
          refreshAssignmentsInterval: "1 second",
          entityMessagePollInterval: "2 seconds",
          // How long a stopping runner waits for the requests its stores still serve. A page's stream of
          // a conversation is one such request, and one from another worker can keep it for the whole
          // wait (the default is 15 s) after its end was sent: see docs/cluster.md.
          entityTerminationTimeout: "3 seconds"
        }
      }).pipe(Layer.provide(SqliteClient.layer({ filename: options.clusterDb })))
    )
  )

/**
 * `GET /api/where/:id`: which worker answered, and whether it is the runner of conversation `id` now
 * (it holds the id's shard), as `{ worker, pid, holds }`. Asked over several connections, it finds a
 * conversation's runner: what the cluster demo's test kills.
 */
const where = (self: WorkerSettings, sharding: Sharding.Sharding["Type"]) =>
  Effect.map(HttpRouter.params, (params) => {
    const id = params["id"] ?? ""
    // The ids the chat's routes take (1 to 128 of A-Z a-z 0-9 . _ ~ -), refused as they refuse them.
    if (!/^[A-Za-z0-9._~-]{1,128}$/.test(id) || id === "." || id === "..") {
      return HttpServerResponse.unsafeJson({ error: "InvalidId", message: "a conversation id is 1 to 128 of A-Z a-z 0-9 . _ ~ -" }, {
        status: 400
      })
    }
    return HttpServerResponse.unsafeJson({
      worker: self.index,
      pid: process.pid,
      holds: sharding.hasShardId(sharding.getShardId(EntityId.make(id), "default"))
    })
  })

/** One worker: a runner, and the page's routes on the shared port, until it is told to stop. */
const worker = (self: WorkerSettings) =>
  Effect.gen(function*() {
    const { database: storesDb, host, model, port } = yield* settings(DEFAULT_DB)
    const clusterDb = yield* clusterDatabase(storesDb)
    // In a worker, Node's cluster module listens on the primary's socket: every worker gets the same port.
    const server = yield* listen({ port, host })
    const services = yield* Layer.build(runner({ model, storesDb, clusterDb, runnerPort: self.runnerPort })).pipe(
      // SQLite's driver throws on a file it cannot open: that is this worker's failure to start too.
      Effect.catchAllDefect((defect) => Effect.fail(defect)),
      Effect.mapError((cause) =>
        new Error(
          `worker ${self.index} cannot start its runner on ${JSON.stringify(storesDb)} (DEMO_DB) and ${JSON.stringify(clusterDb)} (DEMO_CLUSTER_DB)`,
          { cause }
        )
      )
    )
    // In a scope of their own, closed first at exit: the conversations' streams this worker serves end
    // then, whichever runner their stores are on, so the server need not wait for their clients.
    const routesScope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const chatRoutes = yield* StoreEntity.httpRouter(Conversation, {
      actions: Chat.Action,
      state: Chat.State,
      accepts: ["Ask", "Stop"],
      allowedHosts: server.allowedHosts
    }).pipe(Effect.provide(services), Scope.extend(routesScope))
    const router = pageRouter({
      info: { provider: model.provider, model: model.model, worker: self.index, workers: self.workers, pid: process.pid, agents: false },
      conversations: Context.get(services, Persistence.Persistence).list(Conversation.type),
      allowedHosts: server.allowedHosts
    }).pipe(
      HttpRouter.mount("/chat", chatRoutes),
      HttpRouter.get("/api/where/:id", forHosts(server.allowedHosts, where(self, Context.get(services, Sharding.Sharding))))
    )
    // Then the server closes, and the runner releases each store it runs, its last snapshot written.
    yield* server.serve({ router, shutdown: Scope.close(routesScope, Exit.void) })
    yield* Effect.sync(() => process.send?.({ ready: true, port: server.port }))
    return yield* Effect.never
  }).pipe(Effect.scoped)

/**
 * SIGTERM to a worker, and its exit; SIGKILL if it has not exited within 10 s (a worker's graceful stop
 * takes DRAIN, then at most the runner's entityTerminationTimeout, then its stores' last snapshots).
 */
const stopWorker = (child: Worker) =>
  Effect.async<void>((resume) => {
    if (child.isDead()) return resume(Effect.void)
    const killer = setTimeout(() => {
      process.stderr.write(`worker pid ${child.process.pid} did not stop within 10 s; killing it\n`)
      child.process.kill("SIGKILL")
    }, 10_000)
    child.once("exit", () => {
      clearTimeout(killer)
      resume(Effect.void)
    })
    child.process.kill("SIGTERM")
  })

/**
 * The primary: forks the workers, forks a worker again when one dies, prints the URL once every worker
 * serves, and at interruption (Ctrl-C, SIGTERM) stops the workers gracefully, one after another, before
 * it ends.
 */
const primary = Effect.gen(function*() {
  const { database: storesDb, host, model } = yield* settings(DEFAULT_DB)
  const clusterDb = yield* clusterDatabase(storesDb)
  const workers = yield* Config.integer("WORKERS").pipe(
    Config.validate({ message: "WORKERS must be an integer from 1 to 8", validation: (n) => n >= 1 && n <= 8 }),
    Config.withDefault(2)
  )
  // Each worker's runner listens on its own port, kept across its restarts (its address names it).
  const runnerPorts = yield* Effect.forEach(Array.from({ length: workers }), () => freePort)
  const running = new Map<number, Worker>()
  const servedOn = yield* Deferred.make<number, Error>()
  const ready = new Set<number>()
  let stopping = false

  const fork = (index: number): void => {
    const settings: WorkerSettings = { index, workers, runnerPort: runnerPorts[index - 1]! }
    const child = cluster.fork({ DEMO_WORKER: JSON.stringify(settings) })
    running.set(index, child)
    child.on("message", (message: { readonly ready?: boolean; readonly port?: number }) => {
      if (message.ready !== true || typeof message.port !== "number") return
      if (ready.has(index)) return
      ready.add(index)
      if (ready.size === workers) Deferred.unsafeDone(servedOn, Effect.succeed(message.port))
    })
    child.on("exit", (code, signal) => {
      running.delete(index)
      if (stopping) return
      const how = signal ?? `exit code ${code}`
      // One that never served did not crash: it could not start (a bad setting, say), and would not again.
      if (!ready.has(index)) {
        return Deferred.unsafeDone(servedOn, Effect.fail(new Error(`worker ${index} could not start (${how}): see its error above`)))
      }
      process.stderr.write(`worker ${index} (pid ${child.process.pid}) ended (${how}); forking it again\n`)
      setTimeout(() => stopping || fork(index), 500)
    })
  }

  // One worker at a time: a worker's conversations move to the ones still running, and the streams of
  // them those serve carry on; stopped together, each would wait for the other's streams.
  yield* Effect.addFinalizer(() =>
    Effect.suspend(() => {
      stopping = true
      return Effect.forEach([...running.values()], stopWorker, { discard: true })
    })
  )
  for (let index = 1; index <= workers; index++) fork(index)
  const port = yield* Deferred.await(servedOn)
  const url = urlFor(host, port)
  yield* Effect.sync(() =>
    process.stdout.write(
      `composable-effect cluster demo: ${url}  (${workers} workers, model: ${model.provider}/${model.model}; ` +
        `conversations in ${storesDb}, the cluster in ${clusterDb})\n` +
        `Every conversation is a cluster entity. Kill a worker (kill -9 <pid>) mid-answer: it is forked again ` +
        `and the conversation carries on. Ctrl-C to quit.\n`
    )
  )
  return yield* Effect.never
}).pipe(Effect.scoped)

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (cluster.isPrimary) {
    NodeRuntime.runMain(primary)
    // runMain answers the first signal. A second one (Ctrl-C reaches a process from the terminal and
    // again from a wrapper such as tsx or npm) must not kill the primary while it stops the workers.
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => {})
  } else {
    const self = JSON.parse(process.env["DEMO_WORKER"] ?? "{}") as WorkerSettings
    NodeRuntime.runMain(worker(self))
    // Ctrl-C signals every process of the terminal at once: a worker leaves SIGINT to the primary, which
    // stops the workers one at a time with SIGTERM (which runMain answers once). If the primary dies,
    // Node's cluster module ends its workers at once, with no graceful stop.
    process.removeAllListeners("SIGINT")
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => {})
  }
}
