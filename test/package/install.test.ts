/**
 * The package as a user's app gets it: this test packs composable-effect the way `npm publish` would
 * (`npm pack`, whose `prepack` runs `npm run build`), installs the tarball into fresh temporary apps with
 * npm, and type-checks and runs a program there under `strict`, `exactOptionalPropertyTypes`,
 * `skipLibCheck: false` and `moduleResolution: NodeNext`. It fails when an export, a peer dependency or a
 * published `.d.ts` breaks.
 *
 * It packs a copy of the package (package.json, its `files`, the tsconfigs), not the working tree itself,
 * so it never races another build writing `dist/`. npm runs with `--prefer-offline`: packages this repo
 * installed come from npm's cache; the registry is asked only for what the cache lacks (on a fresh
 * machine, `effect`'s metadata and the exact versions below, which `npm install` fetched for the repo
 * anyway).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFile } from "node:child_process"
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll } from "vitest"
import * as Postgres from "../setup/postgres.js"

const root = new URL("../..", import.meta.url).pathname
const tsc = join(root, "node_modules", "typescript", "bin", "tsc")
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  readonly name: string
  readonly version: string
  readonly files: ReadonlyArray<string>
  readonly peerDependencies: Record<string, string>
}

/** The version this repo's own node_modules holds, so the apps install what the tests here ran against. */
const installed = (name: string): string =>
  (JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }).version

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const run = (command: string, args: ReadonlyArray<string>, cwd: string): Promise<Run> =>
  new Promise((resolve) => {
    execFile(command, args, {
      cwd,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 240_000,
      env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" }
    }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr }))
  })

/** Runs a command that must succeed, and says what it printed when it did not. */
const ok = async (command: string, args: ReadonlyArray<string>, cwd: string): Promise<string> => {
  const result = await run(command, args, cwd)
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(" ")} (in ${cwd}) exited ${result.code}\n${result.stdout}\n${result.stderr}`)
  }
  return result.stdout
}

const npmInstall = (cwd: string, specs: ReadonlyArray<string>) =>
  run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", ...specs], cwd)

const tsconfig = (lib: ReadonlyArray<string>, types: ReadonlyArray<string>) => ({
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    lib,
    types,
    strict: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: false,
    verbatimModuleSyntax: true,
    rootDir: "src",
    outDir: "out"
  },
  include: ["src"]
})

const app = (
  dir: string,
  files: Record<string, string>,
  lib: ReadonlyArray<string> = ["ES2022"],
  types: ReadonlyArray<string> = []
) => {
  mkdirSync(join(dir, "src"), { recursive: true })
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer-app", private: true, type: "module" }, null, 2))
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(tsconfig(lib, types), null, 2))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, "src", name), text)
}

/** The core and /testing, with nothing installed but composable-effect and effect (no @types/node). */
const core = `import { Fx, Reducer, ReducerTest, Store, StoreError, StoreMetrics, TestStore } from "composable-effect"
import * as Testing from "composable-effect/testing"
import { Effect, Stream, TestContext } from "effect"
// @ts-expect-error the internals are not part of the package's exports
import type * as Internal from "composable-effect/internal/store"

type Action = { readonly _tag: "Ask" } | { readonly _tag: "Token"; readonly text: string }

const reducer = Reducer.make((answer: string, action: Action) =>
  action._tag === "Ask"
    ? [answer, Fx.stream(Stream.make("Hel", "lo").pipe(Stream.map((text) => ({ _tag: "Token", text }) as const)))]
    : [answer + action.text, Fx.none]
)

const program = Effect.gen(function*() {
  const store = yield* Store.make({ initialState: "", reducer })
  const task = yield* store.send({ _tag: "Ask" })
  yield* task.finish
  return yield* store.state
}).pipe(Effect.scoped)

const counter = Reducer.make((n: number, action: "inc" | "dec") => [action === "inc" ? n + 1 : n - 1, Fx.none])

const tested = Effect.gen(function*() {
  const store = yield* Testing.TestStore.make({ initialState: 0, reducer: counter })
  yield* store.send("inc", 1)
  yield* store.send("dec", (n) => n - 1)
}).pipe(Effect.scoped, Effect.provide(TestContext.TestContext))

const answer: string = await Effect.runPromise(program)
await Effect.runPromise(tested)
const modules = { Fx, Reducer, ReducerTest, Store, StoreError, StoreMetrics, TestStore }
const internal: typeof Internal | undefined = undefined
console.log(JSON.stringify({
  answer,
  modules: Object.entries(modules).filter(([, m]) => typeof m === "object").map(([name]) => name),
  sameTestStore: TestStore === Testing.TestStore,
  internal: internal === undefined
}))
`

/** Every entry point, with the optional peers /http, /otel, /sql and /cluster name installed. */
const full = `import { type Persistence, Reducer, Store } from "composable-effect"
import { StoreHttp } from "composable-effect/http"
import { Telemetry } from "composable-effect/otel"
import { PersistenceSql } from "composable-effect/sql"
import { HttpServer } from "@effect/platform"
import type { Migrator, SqlClient, SqlError } from "@effect/sql"
import { Context, Effect, Layer, Schema } from "effect"

class Counter extends Context.Tag("Counter")<Counter, Store.Store<number, "inc">>() {}
const CounterLive = Store.layer(Counter, { initialState: 0, reducer: Reducer.fromState((n: number, _: "inc") => n + 1) })
const Served = StoreHttp.layer(Counter, { actions: Schema.Literal("inc"), state: Schema.Number, port: 0, host: "127.0.0.1" })
  .pipe(Layer.provideMerge(CounterLive))

const program = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  if (server.address._tag !== "TcpAddress") return yield* Effect.die("not a TCP server")
  const url = \`http://127.0.0.1:\${server.address.port}\`
  const posted = yield* Effect.promise(() =>
    fetch(\`\${url}/actions\`, { method: "POST", body: JSON.stringify("inc"), headers: { "content-type": "application/json" } })
      .then(async (response) => ({ status: response.status, body: await response.json() }))
  )
  const state = yield* Effect.promise(() => fetch(\`\${url}/state\`).then((response) => response.json()))
  const counter = yield* Counter
  return { posted, state, count: yield* counter.state }
}).pipe(
  Effect.provide(Served),
  Effect.provide(Telemetry.layer({ serviceName: "consumer-app" })),
  Effect.scoped
)

// /sql without a database (sql.ts runs it on one): the layer's published type, and a bad prefix refused.
const persistence: Layer.Layer<Persistence.Persistence, SqlError.SqlError | Migrator.MigrationError, SqlClient.SqlClient> =
  PersistenceSql.layer({ tablePrefix: "consumer" })
const refused = (() => {
  try {
    PersistenceSql.layer({ tablePrefix: "consumer; DROP TABLE x" })
    return false
  } catch (error) {
    return error instanceof RangeError
  }
})()

console.log(JSON.stringify({ ...await Effect.runPromise(program), sql: { layer: Layer.isLayer(persistence), refused } }))
`

/** /sql on PostgreSQL through @effect/sql-pg (a driver the app picks, not a peer): commit, then load after a restart. */
const sql = `import { Persistence } from "composable-effect"
import { PersistenceSql } from "composable-effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Option } from "effect"

const [host, port, username, database] = process.argv.slice(2)
const PersistenceLive = PersistenceSql.layer().pipe(
  Layer.provide(PgClient.layer({ host, port: Number(port), username, database }))
)

const write = Effect.flatMap(Persistence.Persistence, (persistence) =>
  persistence.commit({
    journal: [1, 2, 3].map((seq) => ({ host: "app", id: "s", seq, version: 1, action: JSON.stringify({ seq }) })),
    snapshots: [{ host: "app", id: "s", seq: 2, version: 1, state: "{}" }]
  }))
const read = Effect.flatMap(Persistence.Persistence, (persistence) =>
  Effect.all([persistence.load({ host: "app", id: "s" }), persistence.list("app")]))

await Effect.runPromise(Effect.provide(write, PersistenceLive))
const [stored, ids] = await Effect.runPromise(Effect.provide(read, PersistenceLive))
console.log(JSON.stringify({ snapshot: Option.getOrNull(stored.snapshot), journal: stored.journal.map((entry) => entry.seq), ids }))
`

/** /cluster on PostgreSQL: a store entity on the cluster's single runner, sent to and read through its client. */
const cluster = `import { Persistence, Reducer } from "composable-effect"
import { StoreEntity } from "composable-effect/cluster"
import { PersistenceSql } from "composable-effect/sql"
import { SingleRunner } from "@effect/cluster"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Schema } from "effect"

const [host, port, username, database] = process.argv.slice(2)
const Counter = StoreEntity.make("Counter", { state: Schema.Number, actions: Persistence.persisted(Schema.Literal("inc")) })
const Pg = PgClient.layer({ host, port: Number(port), username, database })
const RunnerLive = StoreEntity.layer(Counter, { initialState: () => 0, reducer: Reducer.fromState((n: number, _: "inc") => n + 1) }).pipe(
  Layer.provide(PersistenceSql.layer().pipe(Layer.provide(Pg))),
  Layer.provideMerge(SingleRunner.layer({ runnerStorage: "sql" }).pipe(Layer.provide(Pg)))
)
const program = Effect.gen(function*() {
  const counters = yield* StoreEntity.client(Counter)
  yield* counters("a").send("inc")
  yield* counters("a").send("inc")
  const refused = yield* Effect.flip(counters("a").send("dec" as never)).pipe(Effect.map((e) => e._tag), Effect.catchAllDefect(() => Effect.succeed("defect")))
  return { state: yield* counters("a").state, refused }
})
console.log(JSON.stringify(await Effect.runPromise(Effect.scoped(program).pipe(Effect.provide(RunnerLive)))))
`

/**
 * @effect/sql-pg's .d.ts import `pg`, whose types are in @types/pg, which it does not depend on (an app
 * using it installs them); the app declares the two names those .d.ts use instead, so only the packages
 * under test are checked in full.
 */
const pgTypes = `declare module "pg" {
  export class Pool {}
  export type CustomTypesConfig = unknown
}
`

describe("the packed package in a fresh app", () => {
  const temp = mkdtempSync(join(tmpdir(), "composable-effect-consumer-"))
  const tarball = join(temp, `${pkg.name}-${pkg.version}.tgz`)
  let packed: ReadonlyArray<string> = []

  beforeAll(async () => {
    const stage = join(temp, "stage")
    mkdirSync(stage)
    for (const file of ["package.json", "README.md", "tsconfig.json", "tsconfig.build.json", ...pkg.files]) {
      if (file !== "dist") cpSync(join(root, file), join(stage, file), { recursive: true })
    }
    symlinkSync(join(root, "node_modules"), join(stage, "node_modules"), "dir")
    const report = JSON.parse(await ok("npm", ["pack", "--json", "--pack-destination", temp], stage)) as ReadonlyArray<{
      readonly files: ReadonlyArray<{ readonly path: string }>
    }>
    packed = report[0]!.files.map((file) => file.path)
  }, 240_000)

  afterAll(() => rmSync(temp, { recursive: true, force: true }))

  it("the tarball has the LICENSE and the built entry points", () => {
    expect(packed).toContain("LICENSE")
    for (const entry of ["index", "testing", "http", "otel", "sql", "cluster"]) {
      expect(packed).toContain(`dist/${entry}.js`)
      expect(packed).toContain(`dist/${entry}.d.ts`)
    }
  })

  it("with effect@3, the core installs nothing but effect, type-checks strictly with no @types/node, and runs", async () => {
    const dir = join(temp, "core")
    // effect's own .d.ts name AbortSignal, URL and ReadableStream, which come from the DOM lib or @types/node.
    app(dir, { "main.ts": core }, ["ES2022", "DOM"])
    const install = await npmInstall(dir, [tarball, `effect@${installed("effect")}`])
    expect(install.code, install.stderr).toBe(0)

    // Every package in the app is effect or one of effect's own dependencies: composable-effect brings none.
    const lock = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8")) as {
      readonly packages: Record<string, { readonly dependencies?: Record<string, string> }>
    }
    expect(lock.packages["node_modules/composable-effect"]?.dependencies).toBeUndefined()
    const ofEffect = new Set<string>()
    const visit = (path: string) => {
      if (ofEffect.has(path)) return
      ofEffect.add(path)
      for (const name of Object.keys(lock.packages[path]?.dependencies ?? {})) {
        const nested = `${path}/node_modules/${name}`
        visit(nested in lock.packages ? nested : `node_modules/${name}`)
      }
    }
    visit("node_modules/effect")
    const others = Object.keys(lock.packages).filter((path) =>
      path !== "" && path !== "node_modules/composable-effect" && !ofEffect.has(path)
    )
    expect(others).toEqual([])

    await ok("node", [tsc, "-p", "tsconfig.json"], dir)
    expect(JSON.parse(await ok("node", ["out/main.js"], dir))).toEqual({
      answer: "Hello",
      modules: ["Fx", "Reducer", "ReducerTest", "Store", "StoreError", "StoreMetrics", "TestStore"],
      sameTestStore: true,
      internal: true
    })

    const internal = await run("node", ["--input-type=module", "-e", `await import("composable-effect/internal/store")`], dir)
    expect(internal.code).not.toBe(0)
    expect(internal.stderr).toContain("ERR_PACKAGE_PATH_NOT_EXPORTED")
  }, 240_000)

  it("next to effect@4, npm refuses with a peer-dependency conflict instead of installing a second effect", async () => {
    const dir = join(temp, "effect4")
    app(dir, {})
    const install = await npmInstall(dir, [tarball, "effect@4"])
    expect(install.code).not.toBe(0)
    expect(install.stderr).toContain("ERESOLVE")
    expect(install.stderr).toContain(`peer effect@"${pkg.peerDependencies["effect"]}" from ${pkg.name}@${pkg.version}`)
  }, 240_000)

  /** The app with every peer, installed and compiled once for the two tests that run it. */
  let fullApp: Promise<string> | undefined
  const prepareFull = () =>
    fullApp ??= (async () => {
      const dir = join(temp, "full")
      // @effect/platform's own .d.ts need the DOM lib (Storage, Transferable), so an app that checks them does too.
      app(dir, { "main.ts": full, "sql.ts": sql, "cluster.ts": cluster, "pg.d.ts": pgTypes }, ["ES2022", "DOM"], ["node"])
      const peers = [
        "effect",
        "@effect/cluster",
        "@effect/rpc",
        "@effect/workflow",
        "@effect/experimental",
        "@effect/platform",
        "@effect/platform-node",
        "@effect/opentelemetry",
        "@effect/sql",
        "@opentelemetry/exporter-prometheus",
        "@opentelemetry/sdk-metrics",
        "@opentelemetry/sdk-trace-base"
      ]
      expect(Object.keys(pkg.peerDependencies).sort()).toEqual([...peers].sort())
      const install = await npmInstall(dir, [
        tarball,
        ...[...peers, "@effect/sql-pg"].map((name) => `${name}@${installed(name)}`),
        `@types/node@${installed("@types/node")}`
      ])
      expect(install.code, install.stderr).toBe(0)
      await ok("node", [tsc, "-p", "tsconfig.json"], dir)
      return dir
    })()

  it("with the peers /http, /otel, /sql and /cluster need, every entry point type-checks strictly and runs", async () => {
    const dir = await prepareFull()
    expect(JSON.parse(await ok("node", ["out/main.js"], dir))).toEqual({
      posted: { status: 202, body: { accepted: true, id: 1 } },
      state: 1,
      count: 1,
      sql: { layer: true, refused: true }
    })
  }, 240_000)

  const pgSkipped = Postgres.binDir() === undefined
  if (pgSkipped) console.warn(`The packed /sql on PostgreSQL is skipped: no PostgreSQL server binaries; ${Postgres.installHint}.`)

  it.skipIf(pgSkipped)("in that app, /sql with @effect/sql-pg commits on PostgreSQL and loads it back after a restart", async () => {
    const dir = await prepareFull()
    const output = await Effect.runPromise(Effect.scoped(Effect.flatMap(Postgres.start(), (server) =>
      Effect.promise(() => ok("node", ["out/sql.js", server.host, String(server.port), server.user, server.database], dir))
    )))
    expect(JSON.parse(output)).toEqual({ snapshot: { host: "app", id: "s", seq: 2, version: 1, state: "{}" }, journal: [3], ids: ["s"] })
  }, 240_000)

  it.skipIf(pgSkipped)("in that app, /cluster runs a store entity on the single runner on PostgreSQL", async () => {
    const dir = await prepareFull()
    const output = await Effect.runPromise(Effect.scoped(Effect.flatMap(Postgres.start(), (server) =>
      Effect.promise(() => ok("node", ["out/cluster.js", server.host, String(server.port), server.user, server.database], dir))
    )))
    expect(JSON.parse(output)).toEqual({ state: 2, refused: "defect" })
  }, 240_000)
})
