/**
 * SSE fan-out, three servers side by side in one run: `store` (StoreHttp, default options, `GET /events`
 * and `POST /actions`), `node` (a plain `node:http` server: the floor) and `platform` (a bare
 * `@effect/platform` server, `HttpRouter` + `NodeHttpServer.layer`, whose `GET /events` streams an Effect
 * `PubSub` with `HttpServerResponse.stream(Stream.fromPubSub(...))` and whose `POST /actions` decodes the
 * same Schema and publishes). Every subject sends the same bytes: `retry: 3000\n: connected\n\n` first,
 * then `id: <n>\nevent: action\ndata: {"_tag":"Tick","i":<n>}\n\n` per action, each frame encoded once
 * per event (the node floor writes one `Buffer` to every response; the platform server publishes one).
 * Neither the node nor the platform server has a heartbeat, a replay buffer or a per-client bound.
 *
 * The server runs in this process; the N SSE clients run in a child process (plain `node:http` GET
 * readers over loopback, counting `event: action` frames in each chunk, so batched frames count one by
 * one), and the POST load in another (`bench/post.ts`'s load child: 10 keep-alive loops over one agent,
 * `{"_tag":"Tick","i":n}`, every answer must be 202), so neither's CPU is counted. One round of one
 * subject, on a fresh server:
 *
 * 1. (store only) intake with no client: 300 warm-up POSTs, then `intakeSeconds` of load: actions
 *    accepted per second (`sse_intake_actions_per_sec_0`).
 * 2. heap after GC (`heapAfterGc`), N clients connect and each sees its `: connected` comment, heap after
 *    GC again: (after - before) / N is the server heap per idle client (`*bytes*`).
 * 3. K actions sent in process one at a time, each once every client has seen the one before (the child
 *    acks each count once all N have it), so every event is fanned out on its own: server CPU
 *    (`process.cpuUsage`, user + system) from the first send to the last ack / (N x K) (`*_cpu_us_*`),
 *    and N x K / wall time (`*_deliveries_per_sec`). With the same 1,000 clients as the other keys: 20
 *    events take 0.4-1 s per round for the store and node, 1.3-2.6 s for the platform server.
 * 4. (store and node) intake with the N clients reading: `intakeSeconds` of POST load, actions accepted
 *    per second; then the child says how many action frames each client saw since the load began (min
 *    and max, beside the number of POSTs accepted), so it is known the clients really read.
 *
 * Subjects alternate (store, node, platform, store, ...) after one small warm-up round each; each key is
 * the median of its rounds, each ratio the median of the per-round ratios (`sse_intake_vs_idle`: with
 * clients / without, both from the same store round). Three processes share the machine during an
 * intake window; each intake line on stderr says how much of a core each used. 3 rounds: 60-75 s on
 * 2 vCPU.
 *
 * Needs `ulimit -n` above N + about 100 in each process (the child opens N sockets, the server accepts
 * N); with a lower limit the client count is cut to what fits and it says so on stderr.
 *
 * Alone: `node --expose-gc --import tsx bench/fanout.ts [--subject=store,node,platform] [--rounds=3]
 * [--clients=1000] [--events=20] [--seconds=3]` prints every figure as JSON. With `FANOUT_WINDOWS` set
 * it prints `window <subject> <phase> <start> <end>` (µs, the monotonic clock V8's profiler uses) for
 * each measured window, so a `--cpu-prof` profile can be cut to them.
 */
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Exit, Layer, PubSub, Schema, Scope, Stream } from "effect"
import { execFileSync, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { Reducer, Store } from "../src/index.js"
import * as StoreHttp from "../src/StoreHttp.js"
import { heapAfterGc, median, monotonicUs } from "./harness.js"
import { spawnLoad } from "./post.js"

const Tick = Schema.TaggedStruct("Tick", { i: Schema.Number })
type Tick = typeof Tick.Type

class Ticks extends Context.Tag("bench/fanout/Ticks")<Ticks, Store.Store<number, Tick>>() {}

const sseHeaders = { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" }
/** What every subject sends first (StoreHttp's default `retry` and its `connected` comment). */
const head = "retry: 3000\n: connected\n\n"
const encodeTick = Schema.encodeSync(Tick)
const frame = (id: number, tick: Tick) => Buffer.from(`id: ${id}\nevent: action\ndata: ${JSON.stringify(encodeTick(tick))}\n\n`)

/** A subject: a server on loopback, and how to send it the `i`-th action in process. */
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

/**
 * The floor: `node:http`, every event's frame encoded once to a `Buffer` and written to every open
 * response, synchronously, also from the `POST /actions` handler (which decodes the same Schema).
 */
const nodeServer = async (): Promise<Server> => {
  const clients = new Set<http.ServerResponse>()
  const decode = Schema.decodeUnknownEither(Schema.parseJson(Tick))
  let id = 0
  const publish = (tick: Tick) => {
    const bytes = frame(++id, tick)
    for (const res of clients) res.write(bytes)
    return id
  }
  const server = http.createServer((req, res) => {
    if (req.method === "GET" && req.url === "/events") {
      res.writeHead(200, sseHeaders)
      res.write(head)
      clients.add(res)
      res.on("close", () => clients.delete(res))
      return
    }
    if (req.method === "POST" && req.url === "/actions") {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const tick = decode(Buffer.concat(chunks).toString("utf8"))
        if (tick._tag === "Left") return void res.writeHead(400).end()
        const body = JSON.stringify({ accepted: true, id: publish(tick.right) })
        res.writeHead(202, { "content-type": "application/json" }).end(body)
      })
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    send: (i) => void publish({ _tag: "Tick", i }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of clients) res.end()
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}

/**
 * A bare `@effect/platform` server: `GET /events` is `HttpServerResponse.stream` of the head, then of a
 * `Stream.fromPubSub` subscription (made before the head is sent, so a client that saw it sees every
 * later event); `POST /actions` decodes the body with the same Schema (`schemaBodyJson`), encodes the
 * frame once and publishes it (an unbounded `PubSub`), and answers 202.
 */
const platformServer = async (): Promise<Server> => {
  const pubsub = Effect.runSync(PubSub.unbounded<Uint8Array>())
  let id = 0
  const publish = (tick: Tick) => {
    const bytes = frame(++id, tick)
    return Effect.as(PubSub.publish(pubsub, bytes), id)
  }
  const headBytes = Buffer.from(head)
  const events = Stream.unwrapScoped(Effect.map(
    Stream.fromPubSub(pubsub, { scoped: true }),
    (published) => Stream.concat(Stream.succeed<Uint8Array>(headBytes), published)
  ))
  const app = HttpRouter.empty.pipe(
    HttpRouter.get("/events", Effect.succeed(HttpServerResponse.stream(events, { headers: sseHeaders }))),
    HttpRouter.post(
      "/actions",
      Effect.flatMap(HttpServerRequest.schemaBodyJson(Tick), (tick) =>
        Effect.map(publish(tick), (id) => HttpServerResponse.unsafeJson({ accepted: true, id }, { status: 202 })))
    )
  )
  let server: http.Server | undefined
  const live = HttpServer.serve(app).pipe(
    Layer.provideMerge(NodeHttpServer.layer(() => server = http.createServer(), { port: 0, host: "127.0.0.1" }))
  )
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Scope.extend(Layer.build(live), scope))
  const address = Context.get(context, HttpServer.HttpServer).address as HttpServer.TcpAddress
  return {
    url: `http://127.0.0.1:${address.port}`,
    send: (i) => Effect.runSync(publish({ _tag: "Tick", i })),
    close: async () => {
      // The SSE streams never end by themselves; the clients have left, this ends any that remain.
      server?.closeAllConnections()
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
}

export type Subject = "store" | "node" | "platform"
const servers: Record<Subject, () => Promise<Server>> = { store: storeServer, node: nodeServer, platform: platformServer }
/** The subjects whose POST intake is measured with the clients reading. */
const intakeWithClients: ReadonlySet<Subject> = new Set(["store", "node"])

// ---- the clients, in a child process ----------------------------------------------------------------

type ToChild =
  | { readonly type: "connect"; readonly url: string; readonly n: number }
  | { readonly type: "acks"; readonly on: boolean }
  | { readonly type: "mark" }
  | { readonly type: "counts" }
  | { readonly type: "close" }
type FromChild =
  | { readonly type: "ready" }
  | { readonly type: "ack"; readonly count: number }
  | { readonly type: "marked" }
  | { readonly type: "counts"; readonly min: number; readonly max: number; readonly gaps: number; readonly framesPerChunk: number }
  | { readonly type: "closed" }
  | { readonly type: "failed"; readonly message: string }

const ACTION = Buffer.from("event: action\n")
const GAP = Buffer.from("event: gap\n")

/** Occurrences of `pattern` in `chunk`, and in `carry` (the previous chunk's tail) joined to it. */
const occurrences = (pattern: Buffer, carry: Buffer, chunk: Buffer) => {
  let found = 0
  for (let at = chunk.indexOf(pattern); at >= 0; at = chunk.indexOf(pattern, at + pattern.length)) found++
  // A match in the join straddles the two: neither part alone is as long as the pattern.
  if (carry.length > 0) {
    const join = Buffer.concat([carry, chunk.subarray(0, pattern.length - 1)])
    for (let at = join.indexOf(pattern); at >= 0; at = join.indexOf(pattern, at + pattern.length)) found++
  }
  return found
}

/**
 * The child: N SSE readers per `connect` (`ready` once every one has seen its `: connected` comment);
 * while acks are on, acks count c once all N have seen c action frames; `counts` reports the least and
 * most action frames a client saw since `mark` (and the gap events seen).
 */
const runClients = () => {
  const send = (message: FromChild) => process.send!(message)
  let requests: Array<http.ClientRequest> = []
  let counts: Array<number> = []
  let marks: Array<number> = []
  let gaps = 0
  /** Chunks with at least one action frame since `mark`, over all clients. */
  let chunks = 0
  let acking = true
  let reached: Array<number> = []
  process.on("message", (message: ToChild) => {
    switch (message.type) {
      case "acks":
        acking = message.on
        return
      case "mark":
        marks = [...counts]
        gaps = 0
        chunks = 0
        send({ type: "marked" })
        return
      case "counts": {
        let min = Infinity
        let max = 0
        let frames = 0
        counts.forEach((count, c) => {
          const seen = count - (marks[c] ?? 0)
          min = Math.min(min, seen)
          max = Math.max(max, seen)
          frames += seen
        })
        send({ type: "counts", min, max, gaps, framesPerChunk: frames / chunks })
        return
      }
      case "close":
        for (const req of requests) req.destroy()
        requests = []
        counts = []
        marks = []
        reached = []
        send({ type: "closed" })
        return
      case "connect":
        break
    }
    const { n, url } = message
    let connected = 0
    let failed = false
    acking = true
    const fail = (error: Error) => {
      if (connected < n && !failed) send({ type: "failed", message: error.message })
      failed = true
    }
    for (let c = 0; c < n; c++) {
      counts[c] = 0
      let before = ""
      let seen = false
      let carry = Buffer.alloc(0)
      const req = http.get(`${url}/events`, { agent: false }, (res) => {
        res.on("data", (data: Buffer) => {
          let chunk = data
          if (!seen) {
            before += chunk.toString("latin1")
            const at = before.indexOf(": connected\n\n")
            if (at < 0) return
            seen = true
            chunk = Buffer.from(before.slice(at + ": connected\n\n".length), "latin1")
            before = ""
            if (++connected === n) send({ type: "ready" })
          }
          const frames = occurrences(ACTION, carry, chunk)
          gaps += occurrences(GAP, carry, chunk)
          const tail = chunk.length >= ACTION.length - 1 ? chunk : Buffer.concat([carry, chunk])
          carry = Buffer.from(tail.subarray(tail.length - (ACTION.length - 1)))
          const from = counts[c]!
          counts[c] = from + frames
          if (frames > 0) chunks++
          if (!acking) return
          for (let count = from + 1; count <= from + frames; count++) {
            reached[count] = (reached[count] ?? 0) + 1
            if (reached[count] === n) send({ type: "ack", count })
          }
        })
      })
      req.on("error", fail)
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
  let failure: Error | undefined
  const failAll = (error: Error) => {
    failure = error
    for (const w of waiters.splice(0)) w({ type: "failed", message: error.message })
  }
  child.on("message", (m: FromChild) => {
    if (m.type === "failed") return failAll(new Error(`SSE clients failed: ${m.message}`))
    const i = waiters.findIndex((w) => w(m))
    if (i >= 0) waiters.splice(i, 1)
  })
  child.on("exit", (code) => failAll(new Error(`SSE clients child exited (${code})`)))
  /** The next message of this type (an ack of this count), or the child's failure. */
  const next = <T extends FromChild["type"]>(type: T, count?: number) =>
    new Promise<FromChild & { type: T }>((resolve, reject) => {
      if (failure !== undefined) return reject(failure)
      waiters.push((m) => {
        if (m.type === "failed") {
          reject(new Error(m.message))
          return true
        }
        if (m.type !== type || (m.type === "ack" && m.count !== count)) return false
        resolve(m as FromChild & { type: T })
        return true
      })
    })
  const ask = <T extends FromChild["type"]>(message: ToChild, answer: T) => {
    const answered = next(answer)
    child.send(message)
    return answered
  }
  return { child, next, ask }
}

const stop = async (child: ReturnType<typeof spawn>) => {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once("exit", resolve))
  child.disconnect()
  await exited
}

const window = (subject: Subject, phase: string, startUs: number) => {
  if (process.env["FANOUT_WINDOWS"] !== undefined) process.stderr.write(`window ${subject} ${phase} ${startUs} ${monotonicUs()}\n`)
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Heap after GC once it has stopped falling: the previous round's server lets its sockets go over a few
 * event-loop turns after it closed (up to about a second at 1,000 clients), and a heap taken before that
 * would count them against the next subject's clients.
 */
const settledHeap = async () => {
  let heap = heapAfterGc()
  for (let i = 0; i < 20; i++) {
    await sleep(50)
    const next = heapAfterGc()
    if (Math.abs(next - heap) < 256 * 1024) return next
    heap = next
  }
  return heap
}

/** A child's CPU time so far (user + system, ms), from `/proc` (NaN where there is none). */
const childCpuMs = (pid: number | undefined): number => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 10 // clock ticks of 10 ms (USER_HZ 100)
  } catch {
    return Number.NaN
  }
}

interface Intake {
  /** POSTs answered 202 per second. */
  readonly perSec: number
  /** Server CPU (this process) per accepted POST, µs. */
  readonly cpuUsPerAction: number
  /** Share of one core each process used during the window: the server, the SSE clients, the load. */
  readonly cores: { readonly server: number; readonly clients: number; readonly load: number }
}

interface Sample {
  readonly cpuUsPerDelivery: number
  readonly deliveriesPerSec: number
  readonly bytesPerClient: number
  /** Wall time of each step of the round, ms. */
  readonly phasesMs: Record<string, number>
  readonly intake0?: Intake
  readonly intake?: Intake & {
    readonly accepted: number
    readonly seenMin: number
    readonly seenMax: number
    readonly gaps: number
    /** Action frames per chunk a client read (over the window): how batched the fan-out was. */
    readonly framesPerChunk: number
  }
}

interface Children {
  readonly clients: ReturnType<typeof spawnClients>
  readonly load: ReturnType<typeof spawnLoad>
}

const intake = async (children: Children, subject: Subject, server: Server, ms: number, phase: string) => {
  const startUs = monotonicUs()
  const cpu = process.cpuUsage()
  const clientsCpu = childCpuMs(children.clients.child.pid)
  const loadCpu = childCpuMs(children.load.child.pid)
  const { completed, elapsedMs } = await children.load.run({ type: "run", url: server.url, ms })
  const used = process.cpuUsage(cpu)
  const wallMs = (monotonicUs() - startUs) / 1000
  window(subject, phase, startUs)
  const cores = {
    server: (used.user + used.system) / 1000 / wallMs,
    clients: (childCpuMs(children.clients.child.pid) - clientsCpu) / wallMs,
    load: (childCpuMs(children.load.child.pid) - loadCpu) / wallMs
  }
  return { perSec: completed / (elapsedMs / 1000), cpuUsPerAction: (used.user + used.system) / completed, cores, completed }
}

/** One round of one subject on a fresh server (see the module comment for its steps). */
const round = async (
  children: Children,
  subject: Subject,
  options: { readonly n: number; readonly k: number; readonly intakeMs: number }
): Promise<Sample> => {
  const { clients, load } = children
  const { intakeMs, k, n } = options
  const phasesMs: Record<string, number> = {}
  let last = performance.now()
  const phase = (name: string) => {
    const now = performance.now()
    phasesMs[name] = Math.round(now - last)
    last = now
  }
  const server = await servers[subject]()
  phase("start")
  try {
    let intake0: Intake | undefined
    if (subject === "store") {
      await load.run({ type: "run", url: server.url, requests: 300 })
      intake0 = await intake(children, subject, server, intakeMs, "intake-idle")
    }
    phase("intake0")

    const before = await settledHeap()
    await clients.ask({ type: "connect", url: server.url, n }, "ready")
    const bytesPerClient = (heapAfterGc() - before) / n
    phase("connect")

    const startUs = monotonicUs()
    const cpu = process.cpuUsage()
    for (let i = 1; i <= k; i++) {
      const acked = clients.next("ack", i)
      server.send(i)
      await acked
    }
    const used = process.cpuUsage(cpu)
    const wallUs = monotonicUs() - startUs
    window(subject, "deliveries", startUs)
    clients.child.send({ type: "acks", on: false } satisfies ToChild)
    phase("deliveries")

    let withClients: Sample["intake"]
    if (intakeWithClients.has(subject)) {
      await clients.ask({ type: "mark" }, "marked")
      const { completed, ...rate } = await intake(children, subject, server, intakeMs, "intake-clients")
      // What is still on its way to the clients: wait (up to 2 s) until every client has it.
      let seen = await clients.ask({ type: "counts" }, "counts")
      for (let waited = 0; seen.min < completed && waited < 2000; waited += 50) {
        await sleep(50)
        seen = await clients.ask({ type: "counts" }, "counts")
      }
      withClients = { ...rate, accepted: completed, seenMin: seen.min, seenMax: seen.max, gaps: seen.gaps, framesPerChunk: seen.framesPerChunk }
    }
    phase("intake")
    await clients.ask({ type: "close" }, "closed")
    await server.close()
    phase("close")
    return {
      cpuUsPerDelivery: (used.user + used.system) / (n * k),
      deliveriesPerSec: (n * k) / (wallUs / 1e6),
      bytesPerClient,
      phasesMs,
      ...(intake0 ? { intake0 } : {}),
      ...(withClients ? { intake: withClients } : {})
    }
  } catch (error) {
    await server.close()
    throw error
  }
}


/** The keys, by their names in `npm run bench`. A subject not measured (`subjects`) gives NaN. */
export interface Fanout {
  readonly sse_fanout_cpu_us_per_delivery: number
  readonly node_sse_cpu_us_per_delivery: number
  readonly platform_sse_cpu_us_per_delivery: number
  /** Median of the per-round ratios store / node of the CPU per delivery. */
  readonly sse_fanout_vs_floor: number
  readonly sse_fanout_deliveries_per_sec: number
  readonly node_sse_deliveries_per_sec: number
  readonly platform_sse_deliveries_per_sec: number
  readonly bytes_per_sse_client: number
  readonly node_sse_bytes_per_client: number
  readonly platform_sse_bytes_per_client: number
  readonly sse_intake_actions_per_sec: number
  readonly sse_intake_actions_per_sec_0: number
  readonly node_sse_intake_actions_per_sec: number
  /** Median of the per-round ratios, store intake with clients / without. */
  readonly sse_intake_vs_idle: number
}

/** Not keys: what to read beside them (per round, in order), and how the run was made. */
export interface FanoutDetails {
  readonly clients: number
  readonly events: number
  readonly intakeSeconds: number
  readonly seconds: number
  readonly rounds: Record<Subject, ReadonlyArray<Sample>>
}

/** How many clients fit under the open-file limit of one process (the server, or the child). */
const clientsThatFit = (wanted: number): number => {
  let limit = Infinity
  try {
    limit = Number(execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim())
  } catch {
    return wanted
  }
  if (!Number.isFinite(limit) || limit >= wanted + 100) return wanted
  const fit = Math.max(10, limit - 100)
  process.stderr.write(`fanout: ulimit -n is ${limit}, below ${wanted} clients + 100: measuring ${fit} clients\n`)
  return fit
}

/**
 * `rounds` alternated rounds (store, node, platform) after one warm-up round each (100 clients, 5
 * events, 0.5 s of intake): N = `clients` connected, K = `events` sent one at a time, `intakeSeconds`
 * of POST load per intake window. `subjects` narrows it (for profiling); the others' keys are then NaN.
 */
export const sseFanout = async (
  options: {
    readonly clients?: number
    readonly events?: number
    readonly rounds?: number
    readonly intakeSeconds?: number
    readonly subjects?: ReadonlyArray<Subject>
  } = {}
): Promise<Fanout & { readonly details: FanoutDetails }> => {
  const started = performance.now()
  const { events: k = 20, intakeSeconds = 3, rounds = 3, subjects = ["store", "node", "platform"] } = options
  const n = clientsThatFit(options.clients ?? 1000)
  const children: Children = { clients: spawnClients(), load: spawnLoad() }
  const samples: Record<Subject, Array<Sample>> = { store: [], node: [], platform: [] }
  try {
    for (const subject of subjects) await round(children, subject, { n: Math.min(n, 100), k: 5, intakeMs: 500 })
    for (let r = 0; r < rounds; r++) {
      for (const subject of subjects) samples[subject].push(await round(children, subject, { n, k, intakeMs: intakeSeconds * 1000 }))
    }
  } finally {
    await Promise.all([stop(children.clients.child), stop(children.load.child)])
  }
  const of = (s: Subject, f: (x: Sample) => number | undefined) => median(samples[s].map(f).filter((x): x is number => x !== undefined))
  const perRound = (f: (x: Sample, i: number) => number | undefined) =>
    median(samples.store.map(f).filter((x): x is number => x !== undefined && !Number.isNaN(x)))
  return {
    sse_fanout_cpu_us_per_delivery: of("store", (x) => x.cpuUsPerDelivery),
    node_sse_cpu_us_per_delivery: of("node", (x) => x.cpuUsPerDelivery),
    platform_sse_cpu_us_per_delivery: of("platform", (x) => x.cpuUsPerDelivery),
    sse_fanout_vs_floor: perRound((x, i) => x.cpuUsPerDelivery / (samples.node[i]?.cpuUsPerDelivery ?? Number.NaN)),
    sse_fanout_deliveries_per_sec: of("store", (x) => x.deliveriesPerSec),
    node_sse_deliveries_per_sec: of("node", (x) => x.deliveriesPerSec),
    platform_sse_deliveries_per_sec: of("platform", (x) => x.deliveriesPerSec),
    bytes_per_sse_client: of("store", (x) => x.bytesPerClient),
    node_sse_bytes_per_client: of("node", (x) => x.bytesPerClient),
    platform_sse_bytes_per_client: of("platform", (x) => x.bytesPerClient),
    sse_intake_actions_per_sec: of("store", (x) => x.intake?.perSec),
    sse_intake_actions_per_sec_0: of("store", (x) => x.intake0?.perSec),
    node_sse_intake_actions_per_sec: of("node", (x) => x.intake?.perSec),
    sse_intake_vs_idle: perRound((x) => x.intake && x.intake0 ? x.intake.perSec / x.intake0.perSec : undefined),
    details: { clients: n, events: k, intakeSeconds, seconds: (performance.now() - started) / 1000, rounds: samples }
  }
}

/** One line per round of what the clients saw during each intake window (stderr). */
export const describeIntake = (details: FanoutDetails): string =>
  (Object.entries(details.rounds) as Array<[Subject, ReadonlyArray<Sample>]>).flatMap(([subject, rounds]) =>
    rounds.flatMap((x, r) =>
      x.intake === undefined ? [] : [
        `${subject} round ${r + 1}: ${Math.round(x.intake.perSec)}/s with ${details.clients} clients` +
        (x.intake0 ? ` (${Math.round(x.intake0.perSec)}/s with none)` : "") +
        `, ${x.intake.accepted} accepted, each client saw ${x.intake.seenMin}..${x.intake.seenMax} of them` +
        (x.intake.gaps > 0 ? `, ${x.intake.gaps} gap events` : "") +
        ` (${x.intake.framesPerChunk.toFixed(2)} frames per chunk read)` +
        `, ${x.intake.cpuUsPerAction.toFixed(0)} µs server CPU per POST; cores used: server ${x.intake.cores.server.toFixed(2)}` +
        ` clients ${x.intake.cores.clients.toFixed(2)} load ${x.intake.cores.load.toFixed(2)}` +
        (x.intake0 ? ` (with none: server ${x.intake0.cores.server.toFixed(2)} load ${x.intake0.cores.load.toFixed(2)})` : "")
      ]
    )
  ).join("\n")

if (process.argv.includes("--clients-child")) {
  runClients()
} else if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1]
  const subjects = arg("subject")?.split(",") as Array<Subject> | undefined
  const result = await sseFanout({
    clients: Number(arg("clients") ?? 1000),
    events: Number(arg("events") ?? 20),
    rounds: Number(arg("rounds") ?? 3),
    intakeSeconds: Number(arg("seconds") ?? 3),
    ...(subjects ? { subjects } : {})
  })
  const { details, ...keys } = result
  process.stderr.write(`${describeIntake(details)}\n(${details.seconds.toFixed(1)} s)\n`)
  console.log(JSON.stringify({ ...keys, details }))
}
