/**
 * `post_per_sec`: `POST /actions` throughput of a StoreHttp server, beside `platform_post_per_sec`, a bare
 * `@effect/platform` server whose one route decodes the same Schema from the JSON body and answers 202
 * (no store, none of StoreHttp's checks), in the same run.
 *
 * The server (either subject) runs in this process; the load runs in a child process, so its CPU is not
 * counted against the server: 10 concurrent loops over one keep-alive `http.Agent` (`maxSockets: 10`),
 * each sending `{"_tag":"Tick","i":n}` as `application/json` and waiting for the answer before the next.
 * Every answer must be 202, or the run fails. Each round starts a fresh server, warms it up with a few
 * hundred requests, then loads it for a fixed time; the sample is completed requests / elapsed time (as
 * the child measures it). Subjects alternate (store, platform, store, platform, ...) and the medians are
 * reported, with the median of the pairwise ratios store / platform.
 *
 * Alone: `node --import tsx bench/post.ts [--subject=store|platform] [--rounds=5] [--seconds=2]`. With
 * `POST_WINDOWS` set it prints `window <subject> <start> <end>` (µs, the monotonic clock V8's profiler
 * uses) for each measured round, so a `--cpu-prof` profile can be cut to the measured windows.
 */
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Exit, Layer, Schema, Scope } from "effect"
import { spawn } from "node:child_process"
import * as http from "node:http"
import { fileURLToPath } from "node:url"
import { Reducer, Store } from "../src/index.js"
import * as StoreHttp from "../src/StoreHttp.js"
import { median, monotonicUs } from "./harness.js"

const Tick = Schema.TaggedStruct("Tick", { i: Schema.Number })
type Tick = typeof Tick.Type

class Ticks extends Context.Tag("bench/post/Ticks")<Ticks, Store.Store<number, Tick>>() {}

const CONCURRENCY = 10
const WARMUP_REQUESTS = 300

/** A subject: a server on loopback, answering `POST /actions`. */
interface Server {
  readonly url: string
  readonly close: () => Promise<void>
}

const serve = async <E>(live: Layer.Layer<HttpServer.HttpServer, E>, close?: () => Promise<void>): Promise<Server> => {
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Scope.extend(Layer.build(live), scope))
  const address = Context.get(context, HttpServer.HttpServer).address as HttpServer.TcpAddress
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await close?.()
    }
  }
}

/** StoreHttp with default options over a one-action counter store: `202 { accepted, id }`. */
const storeServer = () =>
  serve(Layer.provideMerge(
    StoreHttp.layer(Ticks, { actions: Tick, port: 0, host: "127.0.0.1" }),
    Store.layer(Ticks, { initialState: 0, reducer: Reducer.fromState((n: number, _: Tick) => n + 1), label: "bench-post" })
  ))

/** The floor: `HttpRouter` + `NodeHttpServer`, one route decoding the body with the same Schema. */
const platformServer = () => {
  let id = 0
  const app = HttpRouter.empty.pipe(
    HttpRouter.post(
      "/actions",
      Effect.map(
        HttpServerRequest.schemaBodyJson(Tick),
        () => HttpServerResponse.unsafeJson({ accepted: true, id: ++id }, { status: 202 })
      )
    )
  )
  return serve(
    HttpServer.serve(app).pipe(Layer.provideMerge(NodeHttpServer.layer(http.createServer, { port: 0, host: "127.0.0.1" })))
  )
}

export type Subject = "store" | "platform"
const servers: Record<Subject, () => Promise<Server>> = { store: storeServer, platform: platformServer }

// ---- the load, in a child process -----------------------------------------------------------------

/** A run the load child does: `requests` POSTs, or POSTs for `ms`. */
export type ToChild = { readonly type: "run"; readonly url: string; readonly requests?: number; readonly ms?: number }
export type FromChild =
  | { readonly type: "done"; readonly completed: number; readonly elapsedMs: number }
  | { readonly type: "failed"; readonly message: string }

/**
 * The child: per `run`, `CONCURRENCY` keep-alive loops until `requests` have been sent or `ms` have
 * passed (a loop starts no request after that); reports the completed requests and the elapsed time.
 */
const runLoad = () => {
  const send = (message: FromChild) => process.send!(message)
  const post = (agent: http.Agent, url: URL, body: string) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(url, {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) }
      }, (res) => {
        if (res.statusCode !== 202) {
          let text = ""
          res.setEncoding("utf8")
          res.on("data", (chunk: string) => text += chunk)
          res.on("end", () => reject(new Error(`expected 202, got ${res.statusCode}: ${text.slice(0, 200)}`)))
          return
        }
        res.resume()
        res.on("end", resolve)
        res.on("error", reject)
      })
      req.on("error", reject)
      req.end(body)
    })
  process.on("message", async (message: ToChild) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY })
    const url = new URL("/actions", message.url)
    let sent = 0
    let completed = 0
    const started = performance.now()
    const deadline = message.ms === undefined ? Infinity : started + message.ms
    const more = () => (message.requests === undefined || sent < message.requests) && performance.now() < deadline
    const loop = async () => {
      while (more()) {
        const i = ++sent
        await post(agent, url, `{"_tag":"Tick","i":${i}}`)
        completed++
      }
    }
    try {
      await Promise.all(Array.from({ length: CONCURRENCY }, loop))
      send({ type: "done", completed, elapsedMs: performance.now() - started })
    } catch (error) {
      send({ type: "failed", message: error instanceof Error ? error.message : String(error) })
    } finally {
      agent.destroy()
    }
  })
  process.on("disconnect", () => process.exit(0))
}

// ---- the parent ----------------------------------------------------------------------------------------

/** The load child (this file, `--load-child`): `run` sends it a run and resolves with what it did. */
export const spawnLoad = () => {
  // Not `fork`'s default execArgv: a `--cpu-prof` of this process must not profile the child too.
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--load-child"], {
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
  let waiting: { resolve: (m: FromChild & { type: "done" }) => void; reject: (e: Error) => void } | undefined
  child.on("message", (m: FromChild) => {
    const w = waiting
    waiting = undefined
    if (m.type === "done") w?.resolve(m)
    else w?.reject(new Error(`POST load failed: ${m.message}`))
  })
  child.on("exit", (code) => waiting?.reject(new Error(`POST load child exited (${code})`)))
  const run = (message: ToChild) =>
    new Promise<FromChild & { type: "done" }>((resolve, reject) => {
      waiting = { resolve, reject }
      child.send(message)
    })
  return { child, run }
}


/** One round of one subject: a fresh server, warmed up, then loaded for `ms`. */
const round = async (load: ReturnType<typeof spawnLoad>, subject: Subject, ms: number) => {
  const server = await servers[subject]()
  try {
    await load.run({ type: "run", url: server.url, requests: WARMUP_REQUESTS })
    ;(globalThis as { gc?: () => void }).gc?.()
    const startUs = monotonicUs()
    const cpu = process.cpuUsage()
    const { completed, elapsedMs } = await load.run({ type: "run", url: server.url, ms })
    const used = process.cpuUsage(cpu)
    if (process.env["POST_WINDOWS"] !== undefined) process.stderr.write(`window ${subject} ${startUs} ${monotonicUs()}\n`)
    return { perSec: completed / (elapsedMs / 1000), cpuUsPerRequest: (used.user + used.system) / completed }
  } finally {
    await server.close()
  }
}


export interface Post {
  /** StoreHttp: median requests per second. */
  readonly perSec: number
  /** The bare `@effect/platform` server, same load, same run. */
  readonly platformPerSec: number
  /** Median of the per-round ratios store / platform (rounds alternate the subjects). */
  readonly ratio: number
  /** Server CPU (this process, user + system) per request, medians: not keys, to read beside the rates. */
  readonly cpuUsPerRequest: number
  readonly platformCpuUsPerRequest: number
}

/**
 * `rounds` alternated pairs (store then platform), each round `seconds` of load after its warm-up.
 * `subjects` narrows it to one subject (for profiling); the other's numbers are then NaN.
 */
export const postThroughput = async (
  options: { readonly rounds?: number; readonly seconds?: number; readonly subjects?: ReadonlyArray<Subject> } = {}
): Promise<Post> => {
  const { rounds = 5, seconds = 2, subjects = ["store", "platform"] } = options
  const load = spawnLoad()
  const samples: Record<Subject, Array<{ perSec: number; cpuUsPerRequest: number }>> = { store: [], platform: [] }
  try {
    for (let r = 0; r < rounds; r++) {
      for (const subject of subjects) samples[subject].push(await round(load, subject, seconds * 1000))
    }
  } finally {
    load.child.disconnect()
    await new Promise((resolve) => load.child.exitCode !== null ? resolve(undefined) : load.child.once("exit", resolve))
  }
  const rate = (s: Subject) => median(samples[s].map((x) => x.perSec))
  const cpu = (s: Subject) => median(samples[s].map((x) => x.cpuUsPerRequest))
  return {
    perSec: rate("store"),
    platformPerSec: rate("platform"),
    ratio: median(samples.store.map((x, i) => x.perSec / (samples.platform[i]?.perSec ?? Number.NaN))),
    cpuUsPerRequest: cpu("store"),
    platformCpuUsPerRequest: cpu("platform")
  }
}

if (process.argv.includes("--load-child")) {
  runLoad()
} else if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1]
  const subject = arg("subject") as Subject | undefined
  const started = performance.now()
  const result = await postThroughput({
    rounds: Number(arg("rounds") ?? 5),
    seconds: Number(arg("seconds") ?? 2),
    ...(subject ? { subjects: [subject] } : {})
  })
  console.log(`post_per_sec ${Math.round(result.perSec)} (${result.cpuUsPerRequest.toFixed(0)} µs CPU per request)`)
  console.log(`platform_post_per_sec ${Math.round(result.platformPerSec)} (${result.platformCpuUsPerRequest.toFixed(0)} µs CPU per request)`)
  console.log(`post_vs_platform ${result.ratio.toFixed(2)}  (${((performance.now() - started) / 1000).toFixed(1)} s)`)
  console.log(JSON.stringify(result))
}
