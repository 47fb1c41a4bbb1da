/**
 * Stores as cluster entities (issue 18), on one machine: `StoreEntity` on `@effect/cluster`'s single
 * runner, its message storage, runner storage and the stores' `PersistenceSql` in one SQLite file (WAL,
 * `synchronous = FULL`) in a new temporary directory, removed at the end.
 *
 * - `cluster_send_per_sec`: 64 fibers sending `Add` through the entity's client, round-robin over 16
 *   stores, for 1.5 s; a send counts once answered (stored in the cluster's mailbox, delivered, reduced,
 *   journaled and committed, its answer stored). The cluster's storage on a SQLite file of its own (see
 *   `runner`); `cluster_send_per_sec_one_file` with everything on one connection at `synchronous = FULL`.
 * - `host_sync_send_per_sec`, its floor in the same run: the same senders and stores on a `StoreHost`
 *   with `durability: "sync"` on another SQLite file (each send answered once its journal row is
 *   committed), which is what the entity does for each send without the cluster's messages.
 * - `cluster_vs_host_sync`: the median of the per-round ratios; rounds alternate entity, host, entity on one file (2 after a
 *   warm-up one); each cluster round is a new runner on new files.
 *
 * Compare with `send_per_sec` (a local store's send, no persistence) in the same run: the two are
 * different work, not a target.
 *
 * - `bytes_per_resident_entity` and `cluster_failover_ms`: see their functions below.
 *
 * Alone: `node --expose-gc --import tsx bench/cluster.ts`.
 */
import { SingleRunner } from "@effect/cluster"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Duration, Effect, Layer, type Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { StoreHost } from "../src/index.js"
import { StoreEntity } from "../src/cluster.js"
import { PersistenceSql } from "../src/sql.js"
import { heapAfterGc, median } from "./harness.js"
import { Action, initialState, reducer, State } from "./host.js"

const Notes = StoreEntity.make("BenchNotes", { state: State, actions: Action })

const STORES = 16
const SENDERS = 64
const ROUND = Duration.millis(1500)
const ROUNDS = 2

/**
 * Sends from `SENDERS` fibers round-robin over the stores for one round: answered sends per second. Each
 * sender stops before its next send once the round is over; none is interrupted (an interrupted cluster
 * send is still delivered, and would be counted nowhere).
 */
const load = (send: (id: string, action: Action) => Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    let answered = 0
    let next = 0
    const started = performance.now()
    const until = started + Duration.toMillis(ROUND)
    const sender = Effect.whileLoop({
      while: () => performance.now() < until,
      body: () => {
        const n = next++
        return send(`store-${n % STORES}`, { _tag: "Add", note: `note ${n}` })
      },
      step: () => {
        answered++
      }
    })
    yield* Effect.forEach(Array.from({ length: SENDERS }), () => sender, { concurrency: "unbounded", discard: true })
    return answered / ((performance.now() - started) / 1000)
  })

const sqlite = (dir: string, name: string) => SqliteClient.layer({ filename: join(dir, `${name}.db`) })

export interface ClusterThroughput {
  readonly cluster_send_per_sec: number
  readonly cluster_send_per_sec_one_file: number
  readonly host_sync_send_per_sec: number
  readonly cluster_vs_host_sync: number
}

/**
 * A runner for one round. `split`: the cluster's message and runner storage on a SQLite file of its own,
 * at SQLite's default durability in WAL mode (`synchronous = NORMAL`: a process crash loses nothing, a
 * power loss may lose the last commits), the stores' persistence on another at `FULL`, as docs/cluster.md
 * recommends; `one-file`: everything on one connection, which `PersistenceSql` sets to `FULL`.
 */
const runner = (dir: string, layout: "split" | "one-file", round: number) => {
  const stores = sqlite(dir, `stores-${layout}-${round}`)
  const messages = layout === "split" ? sqlite(dir, `messages-${round}`) : stores
  return StoreEntity.layer(Notes, { initialState, reducer, persistence: { journal: "all" } }).pipe(
    Layer.provide(PersistenceSql.layer().pipe(Layer.provide(stores))),
    Layer.provideMerge(SingleRunner.layer({ runnerStorage: "sql" }).pipe(Layer.provide(messages)))
  )
}

const clusterRound = (dir: string, layout: "split" | "one-file", round: number) =>
  Effect.flatMap(StoreEntity.client(Notes), (notes) =>
    Effect.zipRight(
      // Before the clock: the runner has its shards and every store is activated.
      Effect.forEach(Array.from({ length: STORES }, (_, i) => `store-${i}`), (id) => notes(id).send({ _tag: "Add", note: "warm" }), {
        concurrency: "unbounded",
        discard: true
      }),
      load((id, action) => notes(id).send(action))
    )).pipe(
    Effect.scoped,
    Effect.provide(runner(dir, layout, round))
  )

export const clusterThroughput = async (): Promise<ClusterThroughput> => {
  const dir = mkdtempSync(join(tmpdir(), "composable-effect-bench-cluster-"))
  try {
    return await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      // Built in this scope: provided to `make` alone, its connection would close when `make` returns.
      const hostDatabase = yield* Layer.build(PersistenceSql.layer().pipe(Layer.provide(sqlite(dir, "host"))))
      const host = yield* StoreHost.make({
        name: "bench",
        initialState,
        reducer,
        persistence: { state: State, actions: Action, durability: "sync" }
      }).pipe(Effect.provide(hostDatabase))
      const split: Array<number> = []
      const oneFile: Array<number> = []
      const floor: Array<number> = []
      for (let round = -1; round < ROUNDS; round++) {
        const c = yield* clusterRound(dir, "split", round + 1)
        const h = yield* load((id, action) => host.send(id, action))
        const o = yield* clusterRound(dir, "one-file", round + 1)
        if (round < 0) continue // warm-up: JIT, the first pages of the files
        split.push(c)
        floor.push(h)
        oneFile.push(o)
      }
      return {
        cluster_send_per_sec: median(split),
        cluster_send_per_sec_one_file: median(oneFile),
        host_sync_send_per_sec: median(floor),
        cluster_vs_host_sync: median(split.map((c, i) => c / floor[i]!))
      }
    }) as Effect.Effect<ClusterThroughput, unknown, Scope.Scope>))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Heap per resident store entity: 1,000 ids each sent one action on the single runner (storage in
 * SQLite `:memory:` databases, whose pages are outside the V8 heap), after a warm-up of 100 ids and once
 * the answers are stored; the difference of heaps after GC, per id. Compare `bytes_per_resident_idle_store`
 * (a host's store alone).
 */
export const bytesPerResidentEntity = (): Promise<number> => {
  const memory = () => SqliteClient.layer({ filename: ":memory:" })
  const runner = StoreEntity.layer(Notes, { initialState, reducer, maxIdleTime: "1 hour" }).pipe(
    Layer.provide(PersistenceSql.layer().pipe(Layer.provide(memory()))),
    Layer.provideMerge(SingleRunner.layer({ runnerStorage: "sql" }).pipe(Layer.provide(memory())))
  )
  const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`)
  return Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const notes = yield* StoreEntity.client(Notes)
    const sendEach = (list: ReadonlyArray<string>) =>
      Effect.forEach(list, (id) => notes(id).send({ _tag: "Add", note: "x" }), { concurrency: 32, discard: true })
    yield* sendEach(ids("warm", 100))
    yield* Effect.sleep("1 second")
    const before = heapAfterGc()
    yield* sendEach(ids("id", ENTITIES))
    yield* Effect.sleep("2 seconds")
    return (heapAfterGc() - before) / ENTITIES
  })).pipe(Effect.provide(runner)))
}

const ENTITIES = 1000

/**
 * `cluster_failover_ms`: three socket runner processes on 127.0.0.1 with PostgreSQL storage (the
 * multi-runner test's cluster, test/cluster/pg-fixture.ts, with its shortened health and lock timings),
 * 60 stores each sent one action through the first runner; then the third runner is killed with SIGKILL
 * and the time is taken until one of its stores answers again through the first. One kill per run, so one
 * sample: expect 3 to 6 s (see docs/cluster.md for the two paths). `NaN` without PostgreSQL's binaries.
 */
export const clusterFailoverMs = async (): Promise<number> => {
  const Postgres = await import("../test/setup/postgres.js")
  if (Postgres.binDir() === undefined) return Number.NaN
  const { startCluster } = await import("../test/cluster/pg-fixture.js")
  return Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const { runners: [asker, , victim] } = yield* startCluster
    const ids = Array.from({ length: 60 }, (_, i) => `failover-${i}`)
    yield* asker!.ask("send", { items: ids.map((id) => [id, "0"]) }, 60_000)
    const owned = (yield* victim!.ask("owns", { ids })).ids as Array<string>
    if (owned.length === 0) return yield* Effect.die(new Error("the victim runner owns none of the 60 stores"))
    const killedAt = Date.now()
    yield* victim!.kill
    const probe = yield* asker!.ask("probe", { id: owned[0], within: 45_000 }, 50_000)
    return (probe.answeredAt as number) - killedAt
  })))
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  console.log(await clusterThroughput(), { bytes_per_resident_entity: await bytesPerResidentEntity() })
}
