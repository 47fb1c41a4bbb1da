/**
 * Runner processes for the multi-runner test: test/cluster/runner-child.ts started with
 * `node --import tsx`, on a free loopback port, against a PostgreSQL server of test/setup/postgres.ts.
 * A runner is killed (SIGKILL) when the scope it was started in closes; it also exits by itself when
 * its stdin closes, so none outlives the test process. Every wait here is bounded.
 */
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "@effect/cluster/SqlRunnerStorage"
import { PgClient } from "@effect/sql-pg"
import { Data, Effect, ExecutionStrategy, Exit, Layer, Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { freePort } from "../../examples/free-port.js"
import { createInterface } from "node:readline"
import { PersistenceSql } from "../../src/sql.js"
import * as Postgres from "../setup/postgres.js"
import type { PostgresServer } from "../setup/postgres.js"

export class RunnerError extends Data.TaggedError("RunnerError")<{ readonly runner: string; readonly message: string }> {}

/** A JSON line a runner printed unasked: `{ event: "ack" | "fail" | "sub" | ..., ... }`. */
export interface RunnerEvent {
  readonly event: string
  readonly id?: string
  readonly n?: number
  readonly note?: string
  readonly [key: string]: unknown
}

export interface RunnerProcess {
  readonly name: string
  readonly port: number
  /** Sends a command, and waits (within `timeout` ms) for its answer; an answer `{ error }` fails. */
  ask(op: string, args?: Record<string, unknown>, timeout?: number): Effect.Effect<any, RunnerError>
  /** What it printed unasked, in order. */
  readonly events: ReadonlyArray<RunnerEvent>
  /** SIGKILL, waiting (within 10 s) for the process to be gone. */
  readonly kill: Effect.Effect<void, RunnerError>
  readonly alive: () => boolean
}

const exited = (child: ChildProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
  })

const startOnce = (name: string, server: PostgresServer, port: number): Effect.Effect<RunnerProcess, RunnerError, Scope.Scope> =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [
          "--import",
          "tsx",
          "test/cluster/runner-child.ts",
          String(port),
          server.host,
          String(server.port),
          server.user,
          server.database
        ], { stdio: ["pipe", "pipe", "pipe"] })
      ),
      (child) =>
        Effect.suspend(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
          return exited(child).pipe(Effect.timeout("10 seconds"), Effect.ignore)
        })
    )
    const events: Array<RunnerEvent> = []
    const waiting = new Map<number, (answer: any) => void>()
    let ready: (() => void) | undefined
    let gone: ((why: string) => void) | undefined
    // Its log, kept to tell why it failed (and shown with RUNNER_LOG=1).
    const log: Array<string> = []
    createInterface({ input: child.stderr! }).on("line", (line) => {
      if (process.env["RUNNER_LOG"]) process.stderr.write(`[${name}] ${line}\n`)
      log.push(line)
      if (log.length > 40) log.shift()
    })
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith("{")) return
      const value = JSON.parse(line)
      if (typeof value.re === "number") {
        waiting.get(value.re)?.(value)
        waiting.delete(value.re)
      } else if (value.event === "ready") ready?.()
      else events.push(value)
    })
    child.stdin!.on("error", () => {})
    child.once("exit", (code, signal) => {
      const why = `${name} exited (${signal ?? code})\n${log.join("\n")}`
      gone?.(why)
      for (const resume of waiting.values()) resume({ error: why })
      waiting.clear()
    })
    yield* Effect.async<void, RunnerError>((resume) => {
      ready = () => resume(Effect.void)
      gone = (why) => resume(Effect.fail(new RunnerError({ runner: name, message: why })))
    }).pipe(Effect.timeoutFail({
      duration: "60 seconds",
      onTimeout: () => new RunnerError({ runner: name, message: `not ready in 60 s\n${log.join("\n")}` })
    }))
    gone = undefined
    let next = 0
    const alive = () => child.exitCode === null && child.signalCode === null
    return {
      name,
      port,
      events,
      alive,
      ask: (op, args = {}, timeout = 60_000) =>
        Effect.async<any, RunnerError>((resume) => {
          if (!alive()) return resume(Effect.fail(new RunnerError({ runner: name, message: `${name} is gone` })))
          const n = next++
          waiting.set(n, (answer) =>
            resume(
              answer.error === undefined
                ? Effect.succeed(answer)
                : Effect.fail(new RunnerError({ runner: name, message: `${op}: ${answer.error}` }))
            ))
          child.stdin!.write(`${JSON.stringify({ n, op, ...args })}\n`)
          return Effect.sync(() => waiting.delete(n))
        }).pipe(Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new RunnerError({ runner: name, message: `${op}: no answer in ${timeout} ms` })
        })),
      kill: Effect.suspend(() => {
        child.kill("SIGKILL")
        return exited(child)
      }).pipe(Effect.timeoutFail({
        duration: "10 seconds",
        onTimeout: () => new RunnerError({ runner: name, message: "still running 10 s after SIGKILL" })
      }))
    } satisfies RunnerProcess
  })

/**
 * Starts a runner on a free port: ready once its runner layer is built (its socket server listening).
 * The port was free a moment ago; if the runner fails to start, once more on another one.
 */
export const startRunner = (name: string, server: PostgresServer): Effect.Effect<RunnerProcess, RunnerError, Scope.Scope> =>
  Effect.flatMap(Scope.Scope, (outer) =>
    Effect.retry(
      Effect.gen(function*() {
        // Its own scope, so a failed start is killed and cleaned up before the next one.
        const scope = yield* Scope.fork(outer, ExecutionStrategy.sequential)
        return yield* Effect.onError(
          Effect.flatMap(freePort, (port) => Scope.extend(startOnce(name, server, port), scope)),
          (exit) => Scope.close(scope, Exit.failCause(exit))
        )
      }),
      { times: 1 }
    ))

/** Waits, polling every 200 ms, until `check` holds (within `timeout` ms); fails with `what`. */
export const eventually = <E, R>(
  what: string,
  check: Effect.Effect<boolean, E, R>,
  timeout = 30_000
): Effect.Effect<void, E | RunnerError, R> =>
  Effect.gen(function*() {
    while (!(yield* check)) yield* Effect.sleep("200 millis")
  }).pipe(Effect.timeoutFail({
    duration: timeout,
    onTimeout: () => new RunnerError({ runner: "test", message: `${what}: not within ${timeout} ms` })
  }))

/** A client of the test's database, as the runners use it. */
export const pg = (server: Postgres.PostgresServer) =>
  PgClient.layer({ host: server.host, port: server.port, username: server.user, database: server.database, maxConnections: 2 })

const since = (start: number) => `${((Date.now() - start) / 1000).toFixed(1)} s`

/** The cluster's default, which runner-child.ts keeps. */
export const shardsPerGroup = 300

/**
 * A server, and three runners on it. The tables are made first, here: the cluster's storage layers do
 * not survive racing each other to make them on a fresh database (this library's own do), and the
 * runners then start together.
 */
export const startCluster = Effect.gen(function*() {
  const start = Date.now()
  const server = yield* Postgres.start()
  yield* Effect.provide(
    Effect.void,
    Layer.mergeAll(SqlMessageStorage.layer, SqlRunnerStorage.layer, PersistenceSql.layer()).pipe(
      Layer.provide(ShardingConfig.layer()),
      Layer.provide(pg(server))
    )
  )
  console.log(`multi-runner: PostgreSQL up, tables made in ${since(start)}`)
  const [first, second, third] = yield* Effect.all(
    [startRunner("r0", server), startRunner("r1", server), startRunner("r2", server)],
    { concurrency: 3 }
  )
  console.log(`multi-runner: three runners up in ${since(start)}`)
  const runners = [first, second, third]
  // Shards settled: each runner holds some, together all of them, twice in a row a moment apart.
  let settled = 0
  yield* eventually("the shards spread over the three runners", Effect.gen(function*() {
    const held = yield* Effect.forEach(runners, (r) => Effect.map(r.ask("shards"), (a) => a.shards as number))
    const ok = held.every((n) => n > 0) && held.reduce((a, b) => a + b, 0) === shardsPerGroup
    settled = ok ? settled + 1 : 0
    if (settled < 2) yield* Effect.sleep("500 millis")
    return settled >= 2
  }), 60_000)
  console.log(`multi-runner: three runners up, shards settled in ${since(start)}`)
  return { server, runners }
})
