/**
 * Many stores that survive restarts (issue 17): a `StoreHost` persisting through `PersistenceSql` on a
 * SQLite file (`@effect/sql-sqlite-node`, better-sqlite3, WAL, `synchronous = FULL` as the layer sets it)
 * in a new temporary directory, removed at the end.
 *
 * - `host_activate_ms`: the time `host.state(id)` takes for a passivated store whose stored state is a
 *   journal of 1,000 actions and no snapshot: the load (one statement) and the replay through the reducer.
 *   The journal is written by a first host with snapshots off (`snapshotEvery.actions` 10^9, no interval),
 *   which stays open so that its shutdown's snapshots do not compact it; a second host on the same
 *   database (a restarted process) activates each of 10 such stores, passivates it (nothing changed, so no
 *   snapshot is written) and activates it again, 7 rounds after a warm-up one; the median of the 70 times.
 *   Beside it, not a key: `Persistence.load` alone on the same stores, alternated with the activations.
 * - `persisted_actions_per_sec_group`, `persisted_actions_per_sec_sync`: a host of 16 stores, 64 fibers
 *   sending `Add` actions round-robin over them; the clock stops once every action's journal row is
 *   committed (counted by a wrapper around the `Persistence` service). Snapshots off, so a commit writes
 *   exactly the journal rows the baseline writes. Each round is a fresh host (a new name), its stores
 *   activated before the clock starts.
 * - `sql_inserts_per_sec` (and `sql_inserts_per_sec_sync_batches`): the same rows (same table shape and
 *   primary key, the same JSON text) inserted with `@effect/sql` alone on the same connection, one
 *   `sql.withTransaction` per batch, the batches exactly the sizes the committer made in the host round
 *   just before (recorded by the wrapper), each a multi-row `INSERT` per 500 rows as `PersistenceSql`
 *   chunks them. Rounds alternate host (group), SQL (its batches), host (sync), SQL (its batches).
 * - `persisted_group_vs_sql_inserts` (`persisted_sync_vs_sql_inserts`): the median of the per-round
 *   ratios host / SQL at the same batch sizes. 9 rounds after a warm-up one; medians.
 * - `bytes_per_resident_idle_store`: heap after GC, before and after 10,000 ids each sent one action in a
 *   host with default options persisting to SQLite (whose pages are outside the V8 heap), once every row
 *   is committed, per store. Compare with `bytes_per_idle_store` (a plain `Store`).
 *
 * Alone: `node --expose-gc --import tsx bench/host.ts`. With `HOST_WINDOWS` set it prints
 * `window <subject> <start> <end>` (µs, the monotonic clock V8's profiler uses) for each measured window,
 * so a `--cpu-prof` profile can be cut to them.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Context, Deferred, Duration, Effect, FiberId, Layer, Option, Schema, type Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { Persistence, Reducer, StoreHost } from "../src/index.js"
import { PersistenceSql } from "../src/sql.js"
import { heapAfterGc, median, monotonicUs } from "./harness.js"

// -------------------------------------------------------------------------------------------------
// the feature: a note-taking store, every action journaled
// -------------------------------------------------------------------------------------------------

/** The feature of the persisted benchmarks here and in bench/cluster.ts. */
export const Action = Persistence.persisted(Schema.TaggedStruct("Add", { note: Schema.String }))
export type Action = typeof Action.Type
export const State = Schema.Struct({ count: Schema.Number, last: Schema.String })
export type State = typeof State.Type

export const initialState = (): State => ({ count: 0, last: "" })
export const reducer = Reducer.fromState((state: State, action: Action): State => ({ count: state.count + 1, last: action.note }))
const add = (n: number): Action => ({ _tag: "Add", note: `note ${n}` })

/** No snapshot while measuring: the journal is all there is, on both sides of the comparison. */
const noSnapshots = { actions: 1_000_000_000, interval: Duration.infinity } as const

type PersistenceService = Persistence.Persistence["Type"]

const window = (subject: string, startUs: number) => {
  if (process.env["HOST_WINDOWS"] !== undefined) process.stderr.write(`window ${subject} ${startUs} ${monotonicUs()}\n`)
}

// -------------------------------------------------------------------------------------------------
// the database
// -------------------------------------------------------------------------------------------------

interface Database {
  readonly persistence: PersistenceService
  readonly sql: SqlClient.SqlClient
}

/** `f` with `PersistenceSql` and its `SqlClient` on a SQLite file in a new temporary directory. */
const withSqlite = async <A, E>(f: (db: Database) => Effect.Effect<A, E, Scope.Scope>): Promise<A> => {
  const dir = mkdtempSync(join(tmpdir(), "composable-effect-bench-host-"))
  const live = PersistenceSql.layer().pipe(Layer.provideMerge(SqliteClient.layer({ filename: join(dir, "bench.db") })))
  try {
    return await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(live)
      return yield* f({ persistence: Context.get(context, Persistence.Persistence), sql: Context.get(context, SqlClient.SqlClient) })
    })))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The `Persistence` service with every commit's journal rows counted: `expect(n)` waits until `n` more
 * rows than at the call are committed, and the journal sizes of the commits are recorded meanwhile.
 */
class Counted {
  committed = 0
  batches: Array<number> = []
  private target = Number.POSITIVE_INFINITY
  private reached: Deferred.Deferred<void> | undefined
  readonly service: PersistenceService

  constructor(inner: PersistenceService) {
    this.service = {
      ...inner,
      commit: (commit) =>
        Effect.tap(inner.commit(commit), () =>
          Effect.suspend(() => {
            if (commit.journal.length === 0) return Effect.void
            this.committed += commit.journal.length
            this.batches.push(commit.journal.length)
            if (this.reached !== undefined && this.committed >= this.target) return Deferred.succeed(this.reached, undefined)
            return Effect.void
          }))
    }
  }

  /** Starts counting `n` rows from now; the effect that waits for them. */
  expect(n: number): Effect.Effect<void> {
    this.batches = []
    this.target = this.committed + n
    const reached = this.reached = Deferred.unsafeMake<void>(FiberId.none)
    return Effect.suspend(() => this.committed >= this.target ? Effect.void : Deferred.await(reached))
  }
}

const makeHost = (
  counted: Counted,
  name: string,
  options: {
    readonly durability?: "group" | "sync"
    readonly snapshots?: boolean
    readonly idleTimeout?: Duration.DurationInput
  } = {}
) =>
  StoreHost.make({
    name,
    initialState,
    reducer,
    ...(options.idleTimeout === undefined ? {} : { idleTimeout: options.idleTimeout }),
    persistence: {
      state: State,
      actions: Action,
      durability: options.durability ?? "group",
      ...(options.snapshots === true ? {} : { snapshotEvery: noSnapshots })
    }
  }).pipe(Effect.provideService(Persistence.Persistence, counted.service))

// -------------------------------------------------------------------------------------------------
// host_activate_ms
// -------------------------------------------------------------------------------------------------

const JOURNAL = 1_000
const ACTIVATE_STORES = 10
const ACTIVATE_ROUNDS = 7

export interface Activation {
  /** `host.state(id)` of a passivated store with a 1,000-action journal: median ms. */
  readonly activateMs: number
  /** `Persistence.load` of the same store alone: median ms. */
  readonly loadMs: number
}

export const hostActivate = (): Promise<Activation> =>
  withSqlite(({ persistence }) =>
    Effect.gen(function*() {
      const counted = new Counted(persistence)
      const name = "bench-activate"
      const ids = Array.from({ length: ACTIVATE_STORES }, (_, i) => `store-${i}`)
      // The writer: 1,000 actions per store, all committed; it stays open (its shutdown would snapshot).
      const writer = yield* makeHost(counted, name, { idleTimeout: Duration.infinity })
      const written = counted.expect(JOURNAL * ids.length)
      for (let n = 0; n < JOURNAL; n++) {
        for (const id of ids) yield* writer.send(id, add(n))
      }
      yield* written
      for (const id of ids) {
        const stored = yield* persistence.load({ host: name, id })
        if (stored.journal.length !== JOURNAL || Option.isSome(stored.snapshot)) {
          throw new Error(`store ${id}: expected ${JOURNAL} journal entries and no snapshot`)
        }
      }
      // The restarted process: a second host on the same database.
      const reader = yield* makeHost(counted, name, { idleTimeout: Duration.infinity })
      const activate: Array<number> = []
      const load: Array<number> = []
      for (let round = -1; round < ACTIVATE_ROUNDS; round++) {
        for (const id of ids) {
          let started = performance.now()
          const stored = yield* persistence.load({ host: name, id })
          const loadMs = performance.now() - started
          if (stored.journal.length !== JOURNAL) throw new Error(`store ${id}: the journal was compacted`)
          const startUs = monotonicUs()
          started = performance.now()
          const state = yield* reader.state(id)
          const activateMs = performance.now() - started
          window("activate", startUs)
          if (state.count !== JOURNAL) throw new Error(`store ${id}: restored ${state.count} actions, not ${JOURNAL}`)
          yield* reader.passivate(id)
          if (round >= 0) {
            activate.push(activateMs)
            load.push(loadMs)
          }
        }
      }
      return { activateMs: median(activate), loadMs: median(load) }
    })
  )

// -------------------------------------------------------------------------------------------------
// persisted_actions_per_sec_{group,sync} beside sql_inserts_per_sec
// -------------------------------------------------------------------------------------------------

const STORES = 16
const SENDERS = 64
const ACTIONS = { group: 32_000, sync: 12_800 } as const
const THROUGHPUT_ROUNDS = 9
/** Rows per multi-row `INSERT`, as `PersistenceSql` chunks a commit (its `CHUNK`). */
const CHUNK = 500

type Durability = "group" | "sync"

interface HostRound {
  readonly perSec: number
  /** The journal sizes of the commits the committer made. */
  readonly batches: ReadonlyArray<number>
}

/** One round: a fresh host of 16 stores, 64 senders, the clock stopped once every row is committed. */
const hostRound = (counted: Counted, durability: Durability, round: number) =>
  Effect.scoped(Effect.gen(function*() {
    const host = yield* makeHost(counted, `bench-${durability}-${round}`, { durability, idleTimeout: Duration.infinity })
    const ids = Array.from({ length: STORES }, (_, i) => `store-${i}`)
    yield* Effect.forEach(ids, (id) => host.state(id), { discard: true })
    const total = ACTIONS[durability]
    const perSender = total / SENDERS
    const committed = counted.expect(total)
    const startUs = monotonicUs()
    const started = performance.now()
    yield* Effect.forEach(
      Array.from({ length: SENDERS }, (_, k) => k),
      (k) =>
        Effect.gen(function*() {
          const id = ids[k % STORES]!
          for (let n = 0; n < perSender; n++) yield* host.send(id, add(n))
        }),
      { concurrency: "unbounded", discard: true }
    )
    yield* committed
    const ms = performance.now() - started
    window(`host-${durability}`, startUs)
    return { perSec: total / (ms / 1000), batches: counted.batches } satisfies HostRound
  }))

/**
 * The baseline's table: `PersistenceSql`'s own journal table, made by its migration under another prefix,
 * so the two write to tables of the same shape by construction.
 */
const BASELINE_PREFIX = "bench_sql"
const BASELINE_TABLE = `${BASELINE_PREFIX}_journal`

const createBaselineTable = (sql: SqlClient.SqlClient) =>
  Effect.asVoid(Layer.build(PersistenceSql.layer({ tablePrefix: BASELINE_PREFIX })).pipe(Effect.provideService(SqlClient.SqlClient, sql)))

/**
 * The baseline: the rows a host round wrote (64 senders over 16 stores, the same JSON), inserted with
 * `@effect/sql` alone, one transaction per batch of the sizes given, a multi-row `INSERT` per 500 rows.
 */
const sqlRound = (sql: SqlClient.SqlClient, batches: ReadonlyArray<number>, subject: string) =>
  Effect.gen(function*() {
    const table = sql(BASELINE_TABLE)
    const total = batches.reduce((a, b) => a + b, 0)
    const seqs = new Array<number>(STORES).fill(0)
    let next = 0
    const startUs = monotonicUs()
    const started = performance.now()
    for (const size of batches) {
      const rows: Array<{ host: string; id: string; seq: number; version: number; action: string }> = []
      for (let j = 0; j < size; j++, next++) {
        // 16 stores, each numbering its rows from 1, as the host's stores do.
        const store = next % STORES
        const seq = ++seqs[store]!
        rows.push({ host: "bench", id: `store-${store}`, seq, version: 1, action: JSON.stringify(add(seq)) })
      }
      yield* sql.withTransaction(Effect.gen(function*() {
        for (let i = 0; i < rows.length; i += CHUNK) yield* sql`INSERT INTO ${table} ${sql.insert(rows.slice(i, i + CHUNK))}`
      }))
    }
    const ms = performance.now() - started
    window(subject, startUs)
    yield* sql`DELETE FROM ${table}`
    return total / (ms / 1000)
  })

export interface Throughput {
  readonly persisted_actions_per_sec_group: number
  readonly persisted_actions_per_sec_sync: number
  readonly sql_inserts_per_sec: number
  readonly sql_inserts_per_sec_sync_batches: number
  readonly persisted_group_vs_sql_inserts: number
  readonly persisted_sync_vs_sql_inserts: number
}

/** Rows per commit, medians and extremes: not keys, for stderr. */
export const describeBatches = (batches: { readonly group: ReadonlyArray<number>; readonly sync: ReadonlyArray<number> }) =>
  (["group", "sync"] as const).map((d) => {
    const b = batches[d]
    return `${d}: ${b.length} commits, rows per commit median ${median(b)}, min ${Math.min(...b)}, max ${Math.max(...b)}`
  }).join("\n")

let lastBatches: { group: Array<number>; sync: Array<number> } = { group: [], sync: [] }

/** The commits of the last measured rounds, for `describeBatches`. */
export const throughputBatches = () => lastBatches

export const throughput = (
  options: { readonly subjects?: ReadonlyArray<Durability>; readonly rounds?: number } = {}
): Promise<Throughput> =>
  withSqlite(({ persistence, sql }) =>
    Effect.gen(function*() {
      const subjects = options.subjects ?? ["group", "sync"]
      const counted = new Counted(persistence)
      yield* createBaselineTable(sql)
      const samples = {
        group: { host: [] as Array<number>, sql: [] as Array<number> },
        sync: { host: [] as Array<number>, sql: [] as Array<number> }
      }
      lastBatches = { group: [], sync: [] }
      const rounds = options.rounds ?? THROUGHPUT_ROUNDS
      for (let round = -1; round < rounds; round++) {
        for (const durability of subjects) {
          const host = yield* hostRound(counted, durability, round + 1)
          const floor = yield* sqlRound(sql, host.batches, `sql-${durability}`)
          if (round < 0) continue // warm-up
          samples[durability].host.push(host.perSec)
          samples[durability].sql.push(floor)
          lastBatches[durability].push(...host.batches)
        }
      }
      const ratio = (d: Durability) => median(samples[d].host.map((x, i) => x / samples[d].sql[i]!))
      return {
        persisted_actions_per_sec_group: median(samples.group.host),
        persisted_actions_per_sec_sync: median(samples.sync.host),
        sql_inserts_per_sec: median(samples.group.sql),
        sql_inserts_per_sec_sync_batches: median(samples.sync.sql),
        persisted_group_vs_sql_inserts: ratio("group"),
        persisted_sync_vs_sql_inserts: ratio("sync")
      }
    })
  )

// -------------------------------------------------------------------------------------------------
// bytes_per_resident_idle_store
// -------------------------------------------------------------------------------------------------

/**
 * Heap per idle resident store: 10,000 ids, each sent one action in a host with default options
 * (`durability: "group"`, a snapshot every 100 actions or 30 s, idle after 5 minutes) persisting to
 * SQLite (by default; its pages are outside the V8 heap) or to `Persistence.layerMemory` (whose stored
 * rows are in it), measured once every journal row is committed. The sends go 64 at a time (one at a
 * time, a send to a new store took about 1.3 ms here, 64 at a time 0.45 ms). Most of this key's run time
 * is the host's shutdown after it: it writes each changed store's last snapshot in a commit of its own,
 * one store after another (see docs/performance.md).
 */
export const bytesPerResidentIdleStore = (
  options: { readonly count?: number; readonly backend?: "sqlite" | "memory" } = {}
): Promise<number> => {
  const measure = (persistence: PersistenceService) =>
    Effect.gen(function*() {
      const count = options.count ?? 10_000
      const counted = new Counted(persistence)
      const host = yield* makeHost(counted, "bench-resident", { snapshots: true })
      const ids = Array.from({ length: count }, (_, i) => `store-${i}`)
      // Warm up: code paths, the host's and the label's metric series, the prepared statements.
      const warm = Array.from({ length: 100 }, (_, i) => `warm-${i}`)
      const warmed = counted.expect(warm.length)
      for (const id of warm) yield* host.send(id, add(0))
      yield* warmed
      for (const id of warm) yield* host.passivate(id)
      const before = heapAfterGc()
      const committed = counted.expect(count)
      yield* Effect.forEach(ids, (id) => host.send(id, add(1)), { concurrency: 64, discard: true })
      yield* committed
      const after = heapAfterGc()
      const resident = yield* host.residentIds
      if (resident.length !== count) throw new Error(`expected ${count} resident stores, found ${resident.length}`)
      for (const id of ids) {
        if ((yield* host.state(id)).count !== 1) throw new Error(`store ${id} did not reduce its action`)
      }
      return (after - before) / count
    })
  if (options.backend === "memory") {
    return Effect.runPromise(Effect.scoped(Effect.flatMap(Layer.build(Persistence.layerMemory), (context) =>
      measure(Context.get(context, Persistence.Persistence)))))
  }
  return withSqlite(({ persistence }) => measure(persistence))
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const activation = await hostActivate()
  console.log(`host_activate_ms ${activation.activateMs.toFixed(2)} (Persistence.load alone ${activation.loadMs.toFixed(2)})`)
  const rates = await throughput()
  for (const [key, value] of Object.entries(rates)) console.log(`${key} ${value.toFixed(key.includes("_vs_") ? 2 : 0)}`)
  console.log(describeBatches(throughputBatches()))
  console.log(`bytes_per_resident_idle_store ${Math.round(await bytesPerResidentIdleStore())}`)
  console.log(`bytes_per_resident_idle_store (Persistence.layerMemory) ${Math.round(await bytesPerResidentIdleStore({ backend: "memory" }))}`)
}
