/**
 * A throwaway PostgreSQL server for tests: a fresh cluster (`initdb`) in a temporary directory, started
 * with `pg_ctl` on a free loopback port (its unix socket in the same directory, so it never meets a
 * system server's), with a database made for the test; stopped (`pg_ctl stop -m immediate`: nothing in
 * it is worth a clean shutdown) and removed when its scope closes.
 *
 * The binaries are Debian's (`/usr/lib/postgresql/<version>/bin`, from `apt-get install postgresql`;
 * `scripts/install-postgres.sh` installs them in CI), or those in `$POSTGRES_BIN` or on the `PATH`.
 * PostgreSQL refuses to run as root, so under root the binaries run as the `postgres` system user (which
 * the Debian package creates) through `runuser`, and the directory is given to that user.
 *
 * ```ts no-check
 * const server = yield* Postgres.start()            // in a Scope
 * PgClient.layer({ host: server.host, port: server.port, username: server.user, database: server.database })
 * ```
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { execFile } from "node:child_process"
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { freePort } from "../../examples/free-port.js"
import { tmpdir } from "node:os"
import { delimiter, join } from "node:path"

/** Where a started server listens, and the database made for the test (the superuser owns it, no password). */
export interface PostgresServer {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly database: string
}

/** The server as a service, for tests that build their layers from it. */
export class Postgres extends Context.Tag("test/Postgres")<Postgres, PostgresServer>() {}

/** A step of starting the server failed; `output` is what the command (or the server's log) said. */
export class PostgresServerError extends Data.TaggedError("PostgresServerError")<{
  readonly step: string
  readonly output: string
}> {
  override get message(): string {
    return `postgres: ${this.step} failed\n${this.output}`
  }
}

/** How to get the binaries, for the message of a skipped test. */
export const installHint = "install PostgreSQL's server binaries with `apt-get install postgresql` (as root; " +
  "`.ci/run` does it through scripts/install-postgres.sh), or set POSTGRES_BIN to a directory holding initdb and pg_ctl"

const hasBinaries = (dir: string): boolean => existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl"))

/**
 * The directory of `initdb` and `pg_ctl`: `$POSTGRES_BIN`, else Debian's newest version, else the first
 * on the `PATH`; `undefined` when there are none, and the tests that need them are skipped.
 */
export const binDir = (): string | undefined => {
  const env = process.env["POSTGRES_BIN"]
  if (env !== undefined && env !== "") return hasBinaries(env) ? env : undefined
  const debian = "/usr/lib/postgresql"
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((version) => hasBinaries(join(debian, version, "bin")))
      .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    if (versions.length > 0) return join(debian, versions[0]!, "bin")
  }
  return (process.env["PATH"] ?? "").split(delimiter).find((dir) => dir !== "" && hasBinaries(dir))
}

const isRoot = process.getuid?.() === 0

interface Ran {
  readonly code: number
  readonly output: string
}

const exec = (command: string, args: ReadonlyArray<string>, cwd: string): Effect.Effect<Ran> =>
  Effect.async<Ran>((resume) => {
    const child = execFile(command, args, { cwd, timeout: 120_000 }, (error, stdout, stderr) =>
      resume(Effect.succeed({
        code: error === null ? 0 : typeof error.code === "number" ? error.code : 1,
        output: `${stdout}${stderr}`.trim()
      })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** Runs a PostgreSQL binary, as the `postgres` user when this process is root. */
const pg = (bin: string, name: string, args: ReadonlyArray<string>, cwd: string): Effect.Effect<Ran> =>
  isRoot ? exec("runuser", ["-u", "postgres", "--", join(bin, name), ...args], cwd) : exec(join(bin, name), args, cwd)

const must = (step: string, ran: Effect.Effect<Ran>): Effect.Effect<string, PostgresServerError> =>
  Effect.flatMap(ran, ({ code, output }) =>
    code === 0 ? Effect.succeed(output) : Effect.fail(new PostgresServerError({ step, output })))

const readLog = (log: string): string => {
  try {
    return readFileSync(log, "utf8")
  } catch {
    return "(no server log)"
  }
}

/** The temporary directory, owned by the user the server runs as. */
const makeDir: Effect.Effect<string, PostgresServerError> = Effect.gen(function*() {
  const dir = mkdtempSync(join(tmpdir(), "composable-effect-pg-"))
  if (isRoot) {
    const ids = yield* Effect.all([exec("id", ["-u", "postgres"], dir), exec("id", ["-g", "postgres"], dir)])
    if (ids[0].code !== 0 || ids[1].code !== 0) {
      rmSync(dir, { recursive: true, force: true })
      return yield* new PostgresServerError({
        step: "finding the postgres user (PostgreSQL will not run as root)",
        output: ids[0].output
      })
    }
    chownSync(dir, Number(ids[0].output), Number(ids[1].output))
  }
  return dir
})

/**
 * Starts a server and makes `database` (default `"test"`) on it, stopped and removed when the scope
 * closes. Fails with a `PostgresServerError` when there are no binaries or a step fails.
 */
export const start = (
  options?: { readonly database?: string | undefined }
): Effect.Effect<PostgresServer, PostgresServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const bin = binDir()
    if (bin === undefined) return yield* new PostgresServerError({ step: "finding initdb and pg_ctl", output: installHint })
    const user = "postgres"
    const database = options?.database ?? "test"
    const dir = yield* Effect.acquireRelease(makeDir, (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
    const data = join(dir, "data")
    const log = join(dir, "server.log")
    // -N: no fsync of the new cluster's files, and fsync=off below: a test server is thrown away, so
    // waiting for the disk would only slow the tests. UTF8 (with the C locale, which every machine has)
    // so text round-trips whatever the machine's locale.
    yield* must("initdb", pg(bin, "initdb", ["-D", data, "-U", user, "--auth=trust", "-E", "UTF8", "--locale=C", "-N"], dir))

    const startOn = (port: number) =>
      must(
        `pg_ctl start on port ${port}`,
        pg(bin, "pg_ctl", [
          "start",
          "-D",
          data,
          "-l",
          log,
          "-w",
          "-t",
          "60",
          "-o",
          `-k ${dir} -h 127.0.0.1 -p ${port} -c fsync=off`
        ], dir)
      ).pipe(
        Effect.as(port),
        Effect.catchAll((error) =>
          Effect.fail(new PostgresServerError({ step: error.step, output: `${error.output}\n${readLog(log)}` }))
        )
      )
    // The port was free a moment ago; if someone took it since, another one.
    const port = yield* Effect.acquireRelease(
      Effect.retry(Effect.flatMap(freePort, startOn), { times: 2 }),
      () => Effect.ignore(pg(bin, "pg_ctl", ["stop", "-D", data, "-m", "immediate", "-w"], dir))
    )
    const host = "127.0.0.1"
    yield* must("createdb", pg(bin, "createdb", ["-h", host, "-p", String(port), "-U", user, database], dir))
    return { host, port, user, database }
  })

/** `start` as a layer: one server for as long as the layer lives. */
export const layer = (options?: { readonly database?: string | undefined }): Layer.Layer<Postgres, PostgresServerError> =>
  Layer.scoped(Postgres, start(options))
