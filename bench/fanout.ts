/**
 * `sse_fanout_us_per_delivery`: server CPU per delivered SSE event, StoreHttp's `GET /events` beside a
 * `node:http` floor that writes one pre-encoded frame per client per event, in the same run.
 *
 * The server (either subject) runs in this process; the N clients run in a child process (plain
 * `node:http` GET readers over loopback), so their CPU is not counted. Each round: the child opens N
 * connections and reports once every one has seen its `: connected` comment; then K actions are sent one
 * at a time, each once every client has received the one before (the child acks each event when all N
 * have it), so every event reaches the server's clients on its own, not in a batch. The server's CPU
 * (`process.cpuUsage`, user + system) from the first send to the last ack, divided by N x K, is one
 * sample. Subjects alternate (floor, store, floor, store, ...) and the medians are reported, with the
 * median of the pairwise ratios.
 *
 * Alone: `node --import tsx bench/fanout.ts [--subject=store|floor] [--rounds=3] [--clients=200] [--events=200]`.
 * It prints `window <start> <end>` (µs, the monotonic clock V8's profiler uses) for each measured round,
 * so a `--cpu-prof` profile can be cut to the measured windows.
 */
import { HttpServer } from "@effect/platform"
import { Context, Effect, Exit, Layer, Schema, Scope } from "effect"
import { spawn } from "node:child_process"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { Reducer, Store } from "../src/index.js"
import * as StoreHttp from "../src/StoreHttp.js"

const Tick = Schema.TaggedStruct("Tick", { i: Schema.Number })
type Tick = typeof Tick.Type

class Ticks extends Context.Tag("bench/fanout/Ticks")<Ticks, Store.Store<number, Tick>>() {}

/** A subject: a server on loopback, and how to send it the `i`-th action. */
interface Server {
  readonly url: string
  readonly send: (i: number) => void
  readonly close: () => Promise<void>
}

/** StoreHttp with default options: `GET /events` subscribes each client to the store's event log. */
const storeServer = async (): Promise<Server> => {
  const scope = Effect.runSync(Scope.make())
  const live = Layer.provideMerge(
    StoreHttp.layer(Ticks, { actions: Tick, port: 0, host: "127.0.0.1" }),
    Store.layer(Ticks, { initialState: 0, reducer: Reducer.fromState((n: number, _: Tick) => n + 1), label: "bench-fanout" })
  )
  const context = await Effect.runPromise(Scope.extend(Layer.build(live), scope))
  const address = Context.get(context, HttpServer.HttpServer).address as HttpServer.TcpAddress
  const store = Context.get(context, Ticks)
  return {
    url: `http://127.0.0.1:${address.port}`,
    send: (i) => Effect.runSync(store.send({ _tag: "Tick", i })),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/** The floor: `node:http`, every event's frame encoded once and written to every open response. */
const floorServer = async (): Promise<Server> => {
  const clients = new Set<http.ServerResponse>()
  const server = http.createServer((req, res) => {
    if (req.url !== "/events") return void res.writeHead(404).end()
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" })
    res.write("retry: 3000\n: connected\n\n")
    clients.add(res)
    res.on("close", () => clients.delete(res))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    send: (i) => {
      const frame = `id: ${i}\nevent: action\ndata: ${JSON.stringify({ _tag: "Tick", i })}\n\n`
      for (const res of clients) res.write(frame)
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of clients) res.end()
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}

export type Subject = "store" | "floor"
const servers: Record<Subject, () => Promise<Server>> = { store: storeServer, floor: floorServer }

// ---- the clients, in a child process ----------------------------------------------------------------

type ToChild = { readonly type: "connect"; readonly url: string; readonly n: number } | { readonly type: "close" }
type FromChild = { readonly type: "ready" } | { readonly type: "ack"; readonly count: number } | { readonly type: "closed" }

/** The child: N SSE readers per `connect`; acks event count c once all N have seen c `action` events. */
const runClients = () => {
  const send = (message: FromChild) => process.send!(message)
  let requests: Array<http.ClientRequest> = []
  process.on("message", (message: ToChild) => {
    if (message.type === "close") {
      for (const req of requests) req.destroy()
      requests = []
      send({ type: "closed" })
      return
    }
    const { n, url } = message
    let connected = 0
    const reached: Array<number> = []
    for (let c = 0; c < n; c++) {
      let count = 0
      let seen = false
      let buffer = ""
      const req = http.get(`${url}/events`, { agent: false }, (res) => {
        res.setEncoding("utf8")
        res.on("data", (chunk: string) => {
          buffer += chunk
          let end: number
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const frame = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            if (frame.includes("event: action")) {
              count++
              reached[count] = (reached[count] ?? 0) + 1
              if (reached[count] === n) send({ type: "ack", count })
            } else if (!seen && frame.includes(": connected")) {
              seen = true
              if (++connected === n) send({ type: "ready" })
            }
          }
        })
      })
      req.on("error", () => undefined)
      requests.push(req)
    }
  })
  process.on("disconnect", () => process.exit(0))
}

// ---- the parent ----------------------------------------------------------------------------------------

const spawnClients = () => {
  // Not `fork`'s default execArgv: a `--cpu-prof` of this process must not profile the child too.
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--clients-child"], {
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
  const waiters: Array<(m: FromChild) => boolean> = []
  child.on("message", (m: FromChild) => {
    const i = waiters.findIndex((w) => w(m))
    if (i >= 0) waiters.splice(i, 1)
  })
  const next = (type: FromChild["type"], count?: number) =>
    new Promise<void>((resolve) =>
      waiters.push((m) => {
        if (m.type !== type || (m.type === "ack" && m.count !== count)) return false
        resolve()
        return true
      })
    )
  return { child, next }
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n)

/** One round of one subject: server CPU µs per delivery, and deliveries per second of wall time. */
const round = async (
  clients: ReturnType<typeof spawnClients>,
  subject: Subject,
  n: number,
  k: number
) => {
  const server = await servers[subject]()
  const ready = clients.next("ready")
  clients.child.send({ type: "connect", url: server.url, n } satisfies ToChild)
  await ready
  ;(globalThis as { gc?: () => void }).gc?.()
  const startUs = monotonicUs()
  const cpu = process.cpuUsage()
  for (let i = 1; i <= k; i++) {
    const acked = clients.next("ack", i)
    server.send(i)
    await acked
  }
  const used = process.cpuUsage(cpu)
  const endUs = monotonicUs()
  const closed = clients.next("closed")
  clients.child.send({ type: "close" } satisfies ToChild)
  await closed
  await server.close()
  if (process.env["FANOUT_WINDOWS"] !== undefined) process.stderr.write(`window ${subject} ${startUs} ${endUs}\n`)
  return { cpuUsPerDelivery: (used.user + used.system) / (n * k), deliveriesPerSec: (n * k) / ((endUs - startUs) / 1e6) }
}

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export interface Fanout {
  /** StoreHttp: median server CPU µs per delivered event. */
  readonly usPerDelivery: number
  /** The node:http floor, same clients and events, same run. */
  readonly floorUsPerDelivery: number
  /** Median of the per-round ratios store / floor (rounds alternate the subjects). */
  readonly ratio: number
  readonly deliveriesPerSec: number
  readonly floorDeliveriesPerSec: number
}

/**
 * `rounds` alternated pairs (floor then store), after one warm-up pair, N = `clients`, K = `events`.
 * `subjects` narrows it to one subject (for profiling); the other's numbers are then NaN.
 */
export const sseFanout = async (
  options: { readonly clients?: number; readonly events?: number; readonly rounds?: number; readonly subjects?: ReadonlyArray<Subject> } = {}
): Promise<Fanout> => {
  const { clients: n = 200, events: k = 50, rounds = 3, subjects = ["floor", "store"] } = options
  const clients = spawnClients()
  const samples: Record<Subject, Array<{ cpuUsPerDelivery: number; deliveriesPerSec: number }>> = { store: [], floor: [] }
  try {
    for (const subject of subjects) await round(clients, subject, n, Math.min(k, 10)) // warm-up
    for (let r = 0; r < rounds; r++) {
      for (const subject of subjects) samples[subject].push(await round(clients, subject, n, k))
    }
  } finally {
    clients.child.disconnect()
    await new Promise((resolve) => clients.child.exitCode !== null ? resolve(undefined) : clients.child.once("exit", resolve))
  }
  const cpu = (s: Subject) => median(samples[s].map((x) => x.cpuUsPerDelivery))
  const rate = (s: Subject) => median(samples[s].map((x) => x.deliveriesPerSec))
  return {
    usPerDelivery: cpu("store"),
    floorUsPerDelivery: cpu("floor"),
    ratio: median(samples.store.map((x, i) => x.cpuUsPerDelivery / (samples.floor[i]?.cpuUsPerDelivery ?? Number.NaN))),
    deliveriesPerSec: rate("store"),
    floorDeliveriesPerSec: rate("floor")
  }
}

if (process.argv.includes("--clients-child")) {
  runClients()
} else if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1]
  const subject = arg("subject") as Subject | undefined
  const result = await sseFanout({
    clients: Number(arg("clients") ?? 200),
    events: Number(arg("events") ?? 50),
    rounds: Number(arg("rounds") ?? 3),
    ...(subject ? { subjects: [subject] } : {})
  })
  console.log(JSON.stringify(result))
}
