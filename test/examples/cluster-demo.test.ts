/**
 * The cluster demo end to end (examples/web-demo/cluster.ts): its primary process with two workers on
 * one loopback port, each a runner of `@effect/cluster`, the local model, and SQLite files in a temporary
 * directory. A conversation is asked on one worker and watched from the other; its runner is SIGKILLed
 * mid-reply; the primary forks it again; the watcher's stream carries on; SIGTERM stops everything with
 * exit code 0, and a second start finds the conversation as it was.
 *
 * Node's cluster module hands each new connection to the next worker, so the test pins a connection
 * (a keep-alive agent with one socket) to learn which worker it reached (`GET /api/where/:id`).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import * as http from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { State } from "../../examples/llm-chat.js"
import * as Chromium from "../setup/chromium.js"

Chromium.warnIfMissing("the cluster demo's browser step")

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "cluster-demo-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

interface Answer {
  readonly status: number
  readonly body: any
}

/** One request over `agent` (a fresh connection when undefined), its answer parsed as JSON. */
const request = (
  base: string,
  path: string,
  options: { readonly agent?: http.Agent; readonly post?: unknown; readonly headers?: Record<string, string> } = {}
) =>
  Effect.async<Answer, Error>((resume) => {
    const body = options.post === undefined ? undefined : JSON.stringify(options.post)
    const req = http.request(`${base}${path}`, {
      method: body === undefined ? "GET" : "POST",
      agent: options.agent ?? false,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...options.headers },
      timeout: 30_000
    }, (response) => {
      let text = ""
      response.setEncoding("utf8")
      response.on("data", (chunk) => (text += chunk))
      response.on("end", () => {
        try {
          resume(Effect.succeed({ status: response.statusCode ?? 0, body: JSON.parse(text) }))
        } catch {
          resume(Effect.fail(new Error(`not JSON (${response.statusCode}): ${text.slice(0, 200)}`)))
        }
      })
    })
    req.on("error", (error) => resume(Effect.fail(error)))
    req.on("timeout", () => req.destroy(new Error("no answer in 30 s")))
    req.end(body)
  })

/** Retries `effect` every 200 ms until it succeeds, for at most `seconds`. */
const eventually = <A, E, R>(seconds: number, effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo(`${seconds} seconds`))),
    Effect.timeout(`${seconds + 31} seconds`)
  )

/** A `changes` stream read over `agent`: every state it delivered, and whether it ended. */
const watch = (base: string, path: string, agent: http.Agent) =>
  Effect.async<{ readonly states: Array<State>; ended: boolean; readonly close: () => void }, Error>((resume) => {
    const req = http.get(`${base}${path}`, { agent }, (response) => {
      if (response.statusCode !== 200) return resume(Effect.fail(new Error(`changes answered ${response.statusCode}`)))
      const feed = { states: [] as Array<State>, ended: false, close: () => req.destroy() }
      let buffer = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => {
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = block.split("\n").find((line) => line.startsWith("data: "))
          if (block.includes("event: state") && data !== undefined) feed.states.push(JSON.parse(data.slice(6)))
        }
      })
      response.on("end", () => (feed.ended = true))
      response.on("error", () => (feed.ended = true))
      resume(Effect.succeed(feed))
    })
    req.on("error", (error) => resume(Effect.fail(error)))
  })

interface Demo {
  readonly child: ChildProcess
  readonly url: string
  readonly output: () => string
  /** `signals` (SIGTERM by default) to the primary, one after another; its exit code, within 40 s. */
  readonly stop: (...signals: ReadonlyArray<NodeJS.Signals>) => Effect.Effect<number | null, Error>
}

/**
 * `node --import tsx examples/web-demo/cluster.ts` on a free port with `env` over the defaults, for the
 * scope (SIGKILLed with its workers at its end): what it printed, and its exit code (within `seconds`).
 */
const spawnDemo = (dir: string, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, ["--import", "tsx", "examples/web-demo/cluster.ts"], {
          env: { ...process.env, PORT: "0", DEMO_DB: join(dir, "chat.db"), WORKERS: "2", ANTHROPIC_API_KEY: "", OPENAI_API_KEY: "", ...env },
          stdio: ["ignore", "pipe", "pipe"],
          // Its own process group: the workers are SIGKILLed with it at the end, whatever happened.
          detached: true
        })
      ),
      (child) =>
        Effect.sync(() => {
          try {
            process.kill(-child.pid!, "SIGKILL")
          } catch {
            // Already gone.
          }
        })
    )
    let output = ""
    child.stdout!.on("data", (chunk) => (output += chunk))
    child.stderr!.on("data", (chunk) => (output += chunk))
    const exited = (seconds: number) =>
      Effect.async<number | null>((resume) => {
        if (child.exitCode !== null) return resume(Effect.succeed(child.exitCode))
        child.on("exit", (code) => resume(Effect.succeed(code)))
      }).pipe(Effect.timeoutFail({ duration: `${seconds} seconds`, onTimeout: () => new Error(`still running:\n${output}`) }))
    return { child, output: () => output, exited }
  })

/** The demo started (its URL printed), for the scope. */
const start = (dir: string) =>
  Effect.gen(function*() {
    const { child, exited, output } = yield* spawnDemo(dir)
    const url = yield* Effect.async<string>((resume) => {
      const look = () => {
        const found = /cluster demo: (http:\/\/\S+)/.exec(output())
        if (found) resume(Effect.succeed(found[1]!))
      }
      child.stdout!.on("data", look)
      look()
    }).pipe(Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error(`no URL printed:\n${output()}`) }))
    const stop = (...signals: ReadonlyArray<NodeJS.Signals>) =>
      Effect.suspend(() => {
        for (const signal of signals.length === 0 ? ["SIGTERM" as const] : signals) child.kill(signal)
        return exited(40)
      })
    const demo: Demo = { child, url, output, stop }
    return demo
  })
interface Where {
  readonly worker: number
  readonly pid: number
  readonly holds: boolean
}

/** A connection pinned to one worker, and what that worker says of conversation `id`. */
const pinned = (url: string, id: string) =>
  Effect.gen(function*() {
    const agent = yield* Effect.acquireRelease(
      Effect.sync(() => new http.Agent({ keepAlive: true, maxSockets: 1 })),
      (agent) => Effect.sync(() => agent.destroy())
    )
    const where = (yield* request(url, `/api/where/${id}`, { agent })).body as Where
    return { agent, where }
  })

describe("examples/web-demo/cluster.ts", () => {
  it.live("two workers behind one port run each conversation on one runner; a killed runner is forked again and its conversation carries on", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const demo = yield* start(dir)
      const { url } = demo
      expect(demo.output()).toContain("2 workers, model: local/local-deterministic")
      expect(url).toMatch(/^http:\/\/localhost:\d+$/)

      // New connections go to one worker, then the other.
      const workers = new Set<number>()
      for (let i = 0; i < 20 && workers.size < 2; i++) workers.add((yield* request(url, "/api/info")).body.worker)
      expect([...workers].sort()).toEqual([1, 2])

      // A connection to the conversation's runner, and one to the other worker, once the shards have
      // settled (the first runner up may hold every shard until the second joins).
      const id = "c-cluster-demo"
      const [owner, other] = yield* eventually(
        30,
        Effect.gen(function*() {
          const pins = [yield* pinned(url, id)]
          const holding = () => new Set(pins.filter((p) => p.where.holds).map((p) => p.where.worker))
          const notHolding = () => new Set(pins.filter((p) => !p.where.holds).map((p) => p.where.worker))
          while (pins.length < 12 && (holding().size === 0 || notHolding().size === 0)) pins.push(yield* pinned(url, id))
          // Settled: one worker says it runs the conversation, and the other says it does not.
          const [runs, runsNot] = [[...holding()], [...notHolding()]]
          if (runs.length !== 1 || runsNot.length !== 1 || runs[0] === runsNot[0]) return yield* Effect.fail("not settled")
          const found = [pins.find((p) => p.where.holds)!, pins.find((p) => !p.where.holds)!] as const
          // And still so 3 s later: a shard being handed over is held by its old runner until it lets go.
          yield* Effect.sleep("3 seconds")
          for (const pin of found) {
            const now = (yield* request(url, `/api/where/${id}`, { agent: pin.agent })).body as Where
            if (now.holds !== pin.where.holds) return yield* Effect.fail("not settled")
          }
          return found
        })
      )
      expect(owner.where.worker).not.toBe(other.where.worker)

      // Watched from the worker that does not run it; asked over any connection.
      const feed = yield* watch(url, `/chat/${id}/changes`, other.agent)
      const asked = yield* request(url, `/chat/${id}/actions`, { post: { _tag: "Ask", prompt: "What is a reducer?" } })
      expect(asked.status).toBe(202)
      const last = () => feed.states.at(-1)?.messages.at(-1)
      yield* eventually(20, Effect.suspend(() => last()?.status === "streaming" && last()!.text.length > 0 ? Effect.void : Effect.fail("no tokens yet")))

      // The finder takes the chat's ids and host names only.
      expect((yield* request(url, "/api/where/%3Cx%3E")).body.error).toBe("InvalidId")
      expect((yield* request(url, `/api/where/${id}`, { headers: { host: "rebound.example" } })).status).toBe(403)

      // Its runner dies mid-reply.
      expect((yield* request(url, `/api/where/${id}`, { agent: owner.agent })).body).toEqual({ ...owner.where, holds: true })
      process.kill(owner.where.pid, "SIGKILL")
      // The watcher's stream carries on: the conversation comes back on a runner, restored from its
      // journal, the cut-off reply marked interrupted (the chat's `Restored`), the question kept.
      yield* eventually(40, Effect.suspend(() => last()?.status === "interrupted" ? Effect.void : Effect.fail("not restored yet"))).pipe(
        Effect.tapError(() =>
          Effect.flatMap(Effect.either(request(url, `/chat/${id}/state`)), (now) =>
            Effect.sync(() =>
              console.error(
                `the watcher saw ${JSON.stringify(last())} (its stream ${feed.ended ? "ended" : "open"}); ` +
                  `the state is ${JSON.stringify(now)}\n${demo.output()}`
              )
            )))
      )
      expect(feed.ended).toBe(false)
      expect(feed.states.at(-1)!.messages.map((m) => [m.role, m.status])).toEqual([["user", "done"], ["assistant", "interrupted"]])
      expect(feed.states.at(-1)!.replying).toBe(false)

      // The primary forked the dead worker again, under the same number.
      yield* eventually(30, Effect.gen(function*() {
        const info = (yield* request(url, "/api/info")).body
        return info.worker === owner.where.worker && info.pid !== owner.where.pid ? Effect.void : yield* Effect.fail("not back yet")
      }))

      // The conversation goes on.
      const again = yield* request(url, `/chat/${id}/actions?waitFor=Finished&timeoutMs=20000`, { post: { _tag: "Ask", prompt: "And now?" } })
      expect([again.status, again.body._tag]).toEqual([200, "Finished"])
      yield* eventually(10, Effect.suspend(() => last()?.status === "done" ? Effect.void : Effect.fail("not done yet")))
      const done = ["user", "done"]
      expect(feed.states.at(-1)!.messages.map((m) => [m.role, m.status])).toEqual([done, ["assistant", "interrupted"], done, ["assistant", "done"]])

      // SIGTERM: the workers stop gracefully, the primary after them, exit code 0; the watcher's stream ends.
      expect(yield* demo.stop(), demo.output()).toBe(0)
      yield* eventually(5, Effect.suspend(() => feed.ended ? Effect.void : Effect.fail("still open")))
      expect(demo.output()).toContain(`worker ${owner.where.worker} (pid ${owner.where.pid}) ended (SIGKILL); forking it again`)

      // Started again on the same files: the conversation is listed, as it was.
      const restarted = yield* start(dir)
      expect((yield* request(restarted.url, "/api/conversations")).body).toEqual([id])
      const state = (yield* request(restarted.url, `/chat/${id}/state`)).body as State
      expect(state.messages.map((m) => m.status)).toEqual(["done", "interrupted", "done", "done"])

      // The page, in Chromium: it names the worker that served it, has no agents, and a question asked
      // there is answered through whichever worker its connections reach.
      if (Chromium.hasChromium) {
        const browser = yield* Chromium.browser
        const page = yield* Effect.promise(() => browser.newPage())
        const errors: Array<string> = []
        page.on("pageerror", (error) => errors.push(error.message))
        yield* Effect.promise(async () => {
          await page.goto(`${restarted.url}/#${id}`)
          await page.locator("#connection[data-connected=true]").waitFor()
          await page.locator(".message.assistant[data-status=interrupted]").waitFor()
          await page.fill("#prompt", "One more?")
          await page.click("#send")
          await page.locator(".message.assistant[data-status=done]").nth(1).waitFor({ timeout: 20_000 })
        })
        expect(yield* Effect.promise(() => page.locator("#model").textContent())).toMatch(/page from worker [12] of 2 \(pid \d+\)/)
        expect(yield* Effect.promise(() => page.locator("section.agents").count())).toBe(0)
        expect(yield* Effect.promise(() => page.locator(".message").count())).toBe(6)
        expect(errors).toEqual([])
      }
      // Ctrl-C under a wrapper (tsx, npm) signals the primary twice: the second must not cut the stop short.
      expect(yield* restarted.stop("SIGINT", "SIGINT"), restarted.output()).toBe(0)
      expect(restarted.output()).not.toContain("did not stop")
    }).pipe(Effect.scoped), 240_000)

  it.live("a worker that cannot start ends the demo with exit code 1 and a message naming the setting, instead of being forked again and again", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const demo = yield* spawnDemo(dir, { DEMO_DB: join(dir, "no-such-dir", "chat.db") })
      const code = yield* demo.exited(60)
      const output = demo.output()
      expect(code, output).toBe(1)
      expect(output).toContain("(DEMO_DB)")
      expect(output).toContain("could not start")
      expect(output).not.toContain("forking it again")
    }).pipe(Effect.scoped), 90_000)
})
