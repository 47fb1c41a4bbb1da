/**
 * One runner of the multi-runner test (multi-runner.test.ts): the `Notes` entity on the socket runners of
 * `@effect/platform-node`, listening on 127.0.0.1:<port>, with the cluster's message and runner storage
 * and the stores' persistence all on one PostgreSQL database.
 *
 *   node --import tsx test/cluster/runner-child.ts <runner port> <pg host> <pg port> <pg user> <pg database>
 *
 * It prints `{"event":"ready"}` once its runner is up, then takes one JSON command a line on stdin and
 * answers each with a JSON line `{"re": <the command's n>, ...}` on stdout; streams it was asked for
 * print `{"event": ...}` lines. Its log goes to stderr. It exits by itself when stdin closes (the test
 * that started it is gone) and in any case after 5 minutes.
 */
import * as EntityId from "@effect/cluster/EntityId"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import * as ShardId from "@effect/cluster/ShardId"
import * as Sharding from "@effect/cluster/Sharding"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import { PgClient } from "@effect/sql-pg"
import { Cause, Effect, Exit, Fiber, Layer, Logger, LogLevel, Option, Ref, Runtime, Scope, Stream } from "effect"
import { createInterface } from "node:readline"
import { StoreEntity } from "../../src/cluster.js"
import { Persistence } from "../../src/index.js"
import { PersistenceSql } from "../../src/sql.js"
import { initialState, makeReducer } from "../host/fixture.js"
import { Notes } from "./fixture.js"

const [runnerPort, pgHost, pgPort, pgUser, pgDatabase] = process.argv.slice(2)

// Never outlive the test: stdin closes when the parent dies, and a watchdog for anything else.
process.stdin.on("close", () => process.exit(0))
setTimeout(() => process.exit(3), 5 * 60_000).unref()

const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

/** The ids whose stores this runner activated (each activation loads the store from `Persistence`). */
const activated = new Set<string>()
const tracked = Layer.effect(
  Persistence.Persistence,
  Effect.map(Persistence.Persistence, (inner) => ({
    ...inner,
    load: (key) => Effect.tap(inner.load(key), () => Effect.sync(() => activated.add(key.id)))
  }))
)

const shardsPerGroup = 300

/**
 * The cluster's timings, shortened so a dead runner's shards move in seconds, not the defaults' minute
 * or more (a 35 s lock expiration, a 1 min health check, a 10 s storage poll). A killed runner leaves
 * the assignments by whichever comes first:
 * - runnerHealthCheckInterval 1 s: the health singleton pings every runner each second; a dead one
 *   refuses the connection, and is marked unhealthy after the ping's own 5 retries, 500 ms apart
 *   (about 3-4 s in all).
 * - shardLockRefreshInterval 2 s / shardLockExpiration 6 s: each runner's heartbeat is refreshed every
 *   2 s, and a runner not heard of for 6 s is left out of the assignments (the path when the health
 *   singleton died with the runner: about 6 s). A refresh slower than its interval makes a runner give
 *   up all its shards, so the interval is not made shorter on two shared cores. On PostgreSQL the shard
 *   locks are advisory: they go with the dead runner's connection, nothing waits for them to expire.
 * - refreshAssignmentsInterval 500 ms: how soon the others see the new assignments.
 * - entityMessagePollInterval 1 s: how often mailboxes in storage are read (shards taken over are
 *   read at once anyway).
 */
const shardingConfig = {
  runnerAddress: Option.some(RunnerAddress.make("127.0.0.1", Number(runnerPort))),
  shardsPerGroup,
  shardLockRefreshInterval: "2 seconds",
  shardLockExpiration: "6 seconds",
  runnerHealthCheckInterval: "1 second",
  refreshAssignmentsInterval: "500 millis",
  entityMessagePollInterval: "1 second",
  entityTerminationTimeout: "5 seconds"
} as const

const RunnerLive = Layer.unwrapEffect(Effect.map(Ref.make(0), (effectsRun) =>
  StoreEntity.layer(Notes, {
    initialState,
    reducer: makeReducer(effectsRun),
    persistence: { restored: { _tag: "Restored" } },
    shutdownTimeout: "2 seconds"
  }))).pipe(
    Layer.provide(Layer.provide(tracked, PersistenceSql.layer())),
    Layer.provideMerge(NodeClusterSocket.layer({ storage: "sql", shardingConfig })),
    Layer.provide(PgClient.layer({
      host: pgHost!,
      port: Number(pgPort),
      username: pgUser!,
      database: pgDatabase!,
      maxConnections: 16
    })),
    Layer.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.stringLogger))),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
  )

type Command =
  | { readonly n: number; readonly op: "shards" }
  | { readonly n: number; readonly op: "owns"; readonly ids: ReadonlyArray<string> }
  | { readonly n: number; readonly op: "activated" }
  | { readonly n: number; readonly op: "send"; readonly items: ReadonlyArray<readonly [string, string]> }
  | { readonly n: number; readonly op: "states"; readonly ids: ReadonlyArray<string> }
  | { readonly n: number; readonly op: "probe"; readonly id: string; readonly within: number }
  | { readonly n: number; readonly op: "stream"; readonly ids: ReadonlyArray<string> }
  | { readonly n: number; readonly op: "stopStream" }
  | { readonly n: number; readonly op: "subscribe"; readonly id: string }

const program = Effect.gen(function*() {
  const sharding = yield* Sharding.Sharding
  const notes = yield* StoreEntity.client(Notes, { timeout: "60 seconds" })
  // For the failover probe: a read not answered in 2 s is made again, so the probe answers within 2 s
  // of the moved store.
  const probing = yield* StoreEntity.client(Notes, { timeout: "2 seconds" })
  const scope = yield* Effect.scope
  const streams: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
  const owns = (id: string) => sharding.hasShardId(sharding.getShardId(EntityId.make(id), "default"))

  const handle = (command: Command): Effect.Effect<Record<string, unknown>, unknown> => {
    switch (command.op) {
      case "shards": {
        let shards = 0
        for (let i = 1; i <= shardsPerGroup; i++) if (sharding.hasShardId(ShardId.make("default", i))) shards++
        return Effect.succeed({ shards })
      }
      case "owns":
        return Effect.succeed({ ids: command.ids.filter(owns) })
      case "activated":
        return Effect.succeed({ ids: [...activated] })
      case "send":
        return Effect.map(
          Effect.forEach(command.items, ([id, note]) => Effect.either(notes(id).send({ _tag: "Add", note })), {
            concurrency: 64
          }),
          (results) => ({
            ok: results.filter((r) => r._tag === "Right").length,
            failed: results.flatMap((r, i) => r._tag === "Left" ? [[...command.items[i]!, r.left.message]] : [])
          })
        )
      case "states":
        return Effect.map(
          Effect.forEach(command.ids, (id) => Effect.map(notes(id).state, (state) => [id, state] as const), {
            concurrency: 64
          }),
          (entries) => ({ states: Object.fromEntries(entries) })
        )
      case "probe": {
        // Until the store answers, within `within` ms.
        return probing(command.id).state.pipe(
          Effect.retry({ while: (error) => error._tag === "EntityUnreachableError" }),
          Effect.timeoutFail({ duration: command.within, onTimeout: () => new Error("the probe got no answer") }),
          Effect.map(() => ({ answeredAt: Date.now() }))
        )
      }
      case "stream":
        // One sender per store, one send at a time, so a store's notes must read 0, 1, 2, ... A failed
        // send ends its store's sender (that send is in flight: it may be reduced or not).
        return Effect.as(
          Effect.forEach(command.ids, (id) =>
            Effect.tap(
              Effect.forkIn(
                Effect.gen(function*() {
                  for (let n = 0;; n++) {
                    const exit = yield* Effect.exit(notes(id).send({ _tag: "Add", note: String(n) }))
                    if (Exit.isFailure(exit)) {
                      print({ event: "fail", id, n, error: Cause.pretty(exit.cause).split("\n")[0] })
                      return
                    }
                    print({ event: "ack", id, n, at: Date.now() })
                  }
                }),
                scope
              ),
              (fiber) => Effect.sync(() => streams.push(fiber))
            )),
          {}
        )
      case "stopStream":
        return Effect.as(Fiber.interruptAll(streams.splice(0)), {})
      case "subscribe":
        // Listening once answered; every `Add` it sees printed, until this runner stops.
        return Effect.gen(function*() {
          const actions = yield* Scope.extend(notes(command.id).subscribe({ overflow: "unbounded" }), scope)
          yield* Effect.forkIn(
            Stream.runForEach(actions, (action) =>
              Effect.sync(() => {
                if (action._tag === "Add") print({ event: "sub", id: command.id, note: action.note })
              })).pipe(
                Effect.catchAllCause((cause) => Effect.sync(() => print({ event: "subEnded", cause: Cause.pretty(cause) })))
              ),
            scope
          )
          return {}
        })
    }
  }

  const run = Runtime.runFork(yield* Effect.runtime<never>())
  createInterface({ input: process.stdin }).on("line", (line) => {
    const command = JSON.parse(line) as Command
    run(Effect.matchCause(handle(command), {
      onSuccess: (answer) => print({ re: command.n, ...answer }),
      onFailure: (cause) => print({ re: command.n, error: Cause.pretty(cause) })
    }))
  })
  print({ event: "ready" })
  return yield* Effect.never
}).pipe(Effect.scoped)

Effect.runFork(program.pipe(
  Effect.provide(RunnerLive),
  Effect.catchAllCause((cause) =>
    Effect.sync(() => {
      process.stderr.write(`runner-child: ${Cause.pretty(cause)}\n`)
      process.exit(1)
    })
  )
))
