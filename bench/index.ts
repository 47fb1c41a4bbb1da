/**
 * `npm run bench` prints a table; `npm run bench -- --json` also prints, as its last line, one JSON object
 * with every measured key. Absolute numbers depend on the machine; the ratios measured in one run do not.
 * `--only=key,key` measures those keys only (and prints the targets they give).
 */
import * as cancelPeers from "./cancelPeers.js"
import * as cluster from "./cluster.js"
import * as fanout from "./fanout.js"
import * as host from "./host.js"
import * as idleStore from "./idleStore.js"
import * as peers from "./peers.js"
import * as post from "./post.js"
import * as store from "./store.js"

const json = process.argv.includes("--json")
const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",")
const results: Record<string, number> = {}

const perSec = (r: { opsPerSec: number }) => r.opsPerSec
const format = (n: number) => n >= 1000 ? Math.round(n).toLocaleString("en-US") : n.toFixed(2)

/** `run`, once per key: one run of a subject gives several keys. */
const oncePerKey = <K, V>(run: (key: K) => Promise<V>) => {
  const runs = new Map<K, Promise<V>>()
  return (key: K): Promise<V> => {
    if (!runs.has(key)) runs.set(key, run(key))
    return runs.get(key)!
  }
}

// One run of each raw floor gives both of its keys.
const raw = oncePerKey(store.rawIdleStreams)

// One run of the SSE fan-out (StoreHttp, its node:http floor and a bare @effect/platform PubSub server,
// alternated) gives all of its keys; what the clients saw during the intake windows goes to stderr.
let fanoutRun: ReturnType<typeof fanout.sseFanout> | undefined
const sse = () =>
  fanoutRun ??= fanout.sseFanout().then((r) => {
    process.stderr.write(`${fanout.describeIntake(r.details).replace(/^/gm, "    ")}\n`)
    return r
  })
const sseKey = (key: keyof fanout.Fanout) => () => sse().then((r) => r[key])

// One run of each idle peer (5 rounds: heap per idle one, time to cancel 10,000) gives both of its keys.
const idle = oncePerKey((peer: keyof typeof cancelPeers.idlePeers) => cancelPeers.idlePeers[peer]())

// One run of the POST load (StoreHttp and a bare @effect/platform server, alternated) gives its three keys.
let postRun: ReturnType<typeof post.postThroughput> | undefined
const posts = () => postRun ??= post.postThroughput()

// One run of the persisted-throughput rounds (host group, SQL, host sync, SQL, alternated) gives all of its
// keys; the commits' sizes go to stderr.
let throughputRun: ReturnType<typeof host.throughput> | undefined
const persisted = (key: keyof host.Throughput) => () =>
  (throughputRun ??= host.throughput().then((r) => {
    process.stderr.write(`${host.describeBatches(host.throughputBatches()).replace(/^/gm, "    ")}\n`)
    return r
  })).then((r) => r[key])
// One run of the cluster rounds (entity, host sync, entity on one file, alternated) gives its four keys.
let clusterRun: ReturnType<typeof cluster.clusterThroughput> | undefined
const clustered = (key: keyof cluster.ClusterThroughput) => () => (clusterRun ??= cluster.clusterThroughput()).then((r) => r[key])
let activationRun: ReturnType<typeof host.hostActivate> | undefined
const activation = () => activationRun ??= host.hostActivate()

const sendVsRedux = async () => {
  const ratios: Array<number> = []
  for (let round = 0; round < 5; round++) {
    const send = perSec(await store.sendPerSec())
    ratios.push(send / perSec(await peers.reduxDispatchPerSec()))
  }
  return ratios.sort((a, b) => a - b)[2]!
}

const measurements: ReadonlyArray<readonly [key: string, run: () => Promise<number>]> = [
  ["send_per_sec", () => store.sendPerSec().then(perSec)],
  ["redux_dispatch_per_sec", () => peers.reduxDispatchPerSec().then(perSec)],
  // The target's ratio: send and Redux alternated (A B A B ...), the median of the 5 pairwise ratios, so
  // a machine that speeds up or slows down moves both sides alike.
  ["send_vs_redux", sendVsRedux],
  ["effect_yield_per_sec", () => peers.effectYieldPerSec().then(perSec)],
  ["rtk_dispatch_per_sec", () => peers.rtkDispatchPerSec().then(perSec)],
  ["xstate_send_per_sec", () => peers.xstateSendPerSec().then(perSec)],
  ["machine_send_per_sec", () => peers.machineSendPerSec().then(perSec)],
  ["stream_items_per_sec", () => store.streamItemsPerSec().then(perSec)],
  ["raw_stream_per_sec", () => peers.rawStreamPerSec().then(perSec)],
  ["rxjs_epic_items_per_sec", () => peers.rxjsEpicItemsPerSec().then(perSec)],
  ["stream_1m_heap_growth_bytes", store.streamHeapGrowth],
  ["bytes_per_idle_stream", () => store.bytesPerIdleStream("stream")],
  ["cancel_10k_ms", () => store.cancel10kMs("stream")],
  ["broadcast_deliveries_per_sec", () => store.broadcastDeliveriesPerSec().then(perSec)],
  // 10,000 stores, each with one action reduced and nothing running.
  ["bytes_per_idle_store", () => idleStore.bytesPerIdleStore()],
  // The push leaf (`Fx.subscribe`, a registration with a cleanup) idle, and 10,000 of them cancelled by id.
  ["bytes_per_idle_push_effect", () => store.bytesPerIdleStream("push")],
  ["cancel_10k_push_ms", () => store.cancel10kMs("push")],
  // Effect's own floor under the idle-stream targets: streams run by bare fibers, no store. `raw_*` pulls
  // as the store does, `raw_foreach_*` runs `Stream.runForEachChunk`, `raw_fiber_*` has no stream at all.
  ["raw_bytes_per_idle_stream", () => raw("pull").then((r) => r.bytes)],
  ["raw_cancel_10k_ms", () => raw("pull").then((r) => r.cancelMs)],
  ["raw_foreach_bytes_per_idle_stream", () => raw("forEachChunk").then((r) => r.bytes)],
  ["raw_foreach_cancel_10k_ms", () => raw("forEachChunk").then((r) => r.cancelMs)],
  ["raw_fiber_bytes_per_idle", () => raw("fiber").then((r) => r.bytes)],
  ["raw_fiber_cancel_10k_ms", () => raw("fiber").then((r) => r.cancelMs)],
  // Peers beside the idle-stream keys: 10,000 idle subscriptions that have a cleanup, and cancelling them.
  ["rxjs_bytes_per_idle_subscription", () => idle("rxjs").then((r) => r.bytes)],
  ["rxjs_unsubscribe_10k_ms", () => idle("rxjs").then((r) => r.cancelMs)],
  ["xstate_bytes_per_idle_actor", () => idle("xstate").then((r) => r.bytes)],
  ["xstate_stop_10k_ms", () => idle("xstate").then((r) => r.cancelMs)],
  ["abort_bytes_per_idle_generator", () => idle("abort").then((r) => r.bytes)],
  ["abort_10k_ms", () => idle("abort").then((r) => r.cancelMs)],
  // The known costs of the design, for docs/performance.md.
  ["send_per_sec_1_subscriber", () => store.sendPerSecWithSubscribers(1).then(perSec)],
  ["send_per_sec_10_subscribers", () => store.sendPerSecWithSubscribers(10).then(perSec)],
  ["send_per_sec_traced", () => store.sendPerSecTraced().then(perSec)],
  // SSE fan-out, 1,000 clients in a child process, StoreHttp (`sse_*`, `bytes_per_sse_client`) beside a
  // node:http floor (`node_*`) and a bare @effect/platform server streaming a PubSub (`platform_*`).
  // Server CPU per delivery and deliveries per second: 20 actions sent one at a time to 1,000 clients.
  ["sse_fanout_cpu_us_per_delivery", sseKey("sse_fanout_cpu_us_per_delivery")],
  ["node_sse_cpu_us_per_delivery", sseKey("node_sse_cpu_us_per_delivery")],
  ["platform_sse_cpu_us_per_delivery", sseKey("platform_sse_cpu_us_per_delivery")],
  ["sse_fanout_vs_floor", sseKey("sse_fanout_vs_floor")],
  ["sse_fanout_deliveries_per_sec", sseKey("sse_fanout_deliveries_per_sec")],
  ["node_sse_deliveries_per_sec", sseKey("node_sse_deliveries_per_sec")],
  ["platform_sse_deliveries_per_sec", sseKey("platform_sse_deliveries_per_sec")],
  // Server heap per idle connected client (1,000 connected, each past its `: connected` comment).
  ["bytes_per_sse_client", sseKey("bytes_per_sse_client")],
  ["node_sse_bytes_per_client", sseKey("node_sse_bytes_per_client")],
  ["platform_sse_bytes_per_client", sseKey("platform_sse_bytes_per_client")],
  // POST /actions accepted per second (concurrency 10, 3 s) while 1,000 clients read, and with none.
  ["sse_intake_actions_per_sec", sseKey("sse_intake_actions_per_sec")],
  ["sse_intake_actions_per_sec_0", sseKey("sse_intake_actions_per_sec_0")],
  ["node_sse_intake_actions_per_sec", sseKey("node_sse_intake_actions_per_sec")],
  ["sse_intake_vs_idle", sseKey("sse_intake_vs_idle")],
  // POST /actions at concurrency 10 from a child process: StoreHttp beside a bare @effect/platform route.
  ["post_per_sec", () => posts().then((r) => r.perSec)],
  ["platform_post_per_sec", () => posts().then((r) => r.platformPerSec)],
  ["post_vs_platform", () => posts().then((r) => r.ratio)],
  // Many stores that survive restarts: a StoreHost on PersistenceSql over a SQLite file (bench/host.ts).
  // Activating a passivated store from a 1,000-action journal (load + replay), median ms.
  ["host_activate_ms", () => activation().then((r) => r.activateMs)],
  ["host_activate_load_ms", () => activation().then((r) => r.loadMs)],
  // Journaled actions committed per second, 16 stores, 64 senders, beside the same rows inserted with
  // @effect/sql alone in transactions of the sizes the committer made (alternated rounds, medians).
  ["persisted_actions_per_sec_group", persisted("persisted_actions_per_sec_group")],
  ["persisted_actions_per_sec_sync", persisted("persisted_actions_per_sec_sync")],
  ["sql_inserts_per_sec", persisted("sql_inserts_per_sec")],
  ["sql_inserts_per_sec_sync_batches", persisted("sql_inserts_per_sec_sync_batches")],
  ["persisted_group_vs_sql_inserts", persisted("persisted_group_vs_sql_inserts")],
  ["persisted_sync_vs_sql_inserts", persisted("persisted_sync_vs_sql_inserts")],
  // 10,000 stores resident in a host persisting to SQLite, each with one action committed, nothing running.
  ["bytes_per_resident_idle_store", () => host.bytesPerResidentIdleStore()],
  // Stores as cluster entities on one machine (bench/cluster.ts): sends answered per second through the
  // entity's client on the single runner (its storage on a SQLite file of its own, or on the stores' one),
  // beside a StoreHost with durability "sync" on SQLite: the same senders, the same stores.
  ["cluster_send_per_sec", clustered("cluster_send_per_sec")],
  ["cluster_send_per_sec_one_file", clustered("cluster_send_per_sec_one_file")],
  ["host_sync_send_per_sec", clustered("host_sync_send_per_sec")],
  ["cluster_vs_host_sync", clustered("cluster_vs_host_sync")],
  // 1,000 store entities resident on the single runner, each sent one action.
  ["bytes_per_resident_entity", () => cluster.bytesPerResidentEntity()],
  // Three socket runners on PostgreSQL: SIGKILL one, until one of its stores answers through another.
  ["cluster_failover_ms", () => cluster.clusterFailoverMs()]
]

process.stderr.write("composable-effect benchmarks (medians)\n")
for (const [key, run] of measurements) {
  if (only !== undefined && !only.includes(key)) continue
  const started = performance.now()
  results[key] = await run()
  process.stderr.write(`  ${key.padEnd(34)} ${format(results[key]!)}  (${((performance.now() - started) / 1000).toFixed(1)} s)\n`)
}

const ratio = (a: string, b: string) => results[a]! / results[b]!
const targets: Array<[string, number, number]> = [
  ["send / redux, alternated (>= 0.5)", results["send_vs_redux"]!, 0.5],
  ["send / xstate (>= 5)", ratio("send_per_sec", "xstate_send_per_sec"), 5],
  ["stream / raw stream (>= 0.4)", ratio("stream_items_per_sec", "raw_stream_per_sec"), 0.4],
  ["stream / rxjs epic (>= 1)", ratio("stream_items_per_sec", "rxjs_epic_items_per_sec"), 1],
  ["heap growth MiB (<= 4)", results["stream_1m_heap_growth_bytes"]! / 2 ** 20, -4],
  ["bytes per idle stream (<= 4096)", results["bytes_per_idle_stream"]!, -4096],
  ["cancel 10k ms (<= 100)", results["cancel_10k_ms"]!, -100],
  ["bytes per idle store (<= 4096)", results["bytes_per_idle_store"]!, -4096],
  ["bytes per idle push effect (<= 1024)", results["bytes_per_idle_push_effect"]!, -1024],
  ["cancel 10k push ms (<= 20)", results["cancel_10k_push_ms"]!, -20],
  ["sse cpu / node (<= 4)", results["sse_fanout_vs_floor"]!, -4],
  ["sse intake with 1000 clients / none (>= 0.5)", results["sse_intake_vs_idle"]!, 0.5],
  ["bytes per SSE client (<= 16384)", results["bytes_per_sse_client"]!, -16384],
  ["post / platform (>= 0.8)", results["post_vs_platform"]!, 0.8],
  ["host activate ms (<= 20)", results["host_activate_ms"]!, -20],
  ["persisted group / sql inserts (>= 0.5)", results["persisted_group_vs_sql_inserts"]!, 0.5]
]
console.log("\n| target | value | holds |\n| --- | --- | --- |")
for (const [name, value, bound] of targets) {
  if (Number.isNaN(Number(value))) continue // not measured (`--only`)
  const holds = bound >= 0 ? value >= bound : value <= -bound
  console.log(`| ${name} | ${value.toFixed(2)} | ${holds ? "yes" : "NO"} |`)
}
if (json) console.log(JSON.stringify(results))
