/**
 * The live demo end to end: the server on a loopback port, then the page driven in real headless
 * Chromium (Debian's `chromium` with `playwright-core`): ask, see tokens arrive, press Stop, see the
 * stream end; start another conversation and come back; run the agents. The screenshot lands in
 * `artifacts/web-demo.png`. Conversations are kept in SQLite: a server started again on the same file
 * lists them with their messages. Every server here, and the `npm start` child, gets a database file of
 * its own in a temporary directory, never one in the repository.
 */
import { LanguageModel, type Response } from "@effect/ai"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import * as http from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { State } from "../../examples/llm-chat.js"
import { lastUserText, localModel, type ModelChoice, replyTo, tokenize } from "../../examples/local-model.js"
import { serve } from "../../examples/web-demo/server.js"
import * as Chromium from "../setup/chromium.js"

Chromium.warnIfMissing("web-demo browser test")

/** A temporary directory for the scope: removed when it closes, after what was opened in it (opened later). */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "web-demo-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const local: ModelChoice = { provider: "local", model: "local-deterministic", layer: localModel() }

/** The demo on a free loopback port, with `model` (the local one at its usual, realistic pace), on `database`. */
const serveOn = (database: string, model: ModelChoice = local) => serve({ port: 0, host: "127.0.0.1", model, database })

/** The demo on a database of its own, for the scope. */
const demo = Effect.flatMap(tempDir, (dir) => serveOn(join(dir, "demo.db")))

/**
 * A model that answers at once, with the local model's words, except the question "stall": one token,
 * then silence, as a provider that is still thinking when the server stops.
 */
const scripted: ModelChoice = {
  provider: "local",
  model: "scripted",
  layer: Layer.effect(
    LanguageModel.LanguageModel,
    LanguageModel.make({
      generateText: () => Effect.succeed([]),
      streamText: (options) => {
        const question = lastUserText(options.prompt)
        if (question === "stall") {
          return Stream.concat(Stream.make<Array<Response.StreamPartEncoded>>({ type: "text-delta", id: "t", delta: "Half" }), Stream.never)
        }
        const tokens = tokenize(replyTo(question))
        return Stream.make<Array<Response.StreamPartEncoded>>(
          ...tokens.map((delta): Response.StreamPartEncoded => ({ type: "text-delta", id: "t", delta })),
          { type: "finish", reason: "stop", usage: { inputTokens: 1, outputTokens: tokens.length, totalTokens: tokens.length + 1 } }
        )
      }
    })
  )
}

const EMPTY = { messages: [], replying: false, outputTokens: 0 }

const json = (url: string, init?: RequestInit) =>
  Effect.promise(() => fetch(url, init).then(async (r) => ({ status: r.status, body: await r.json() })))

const postAction = (url: string, action: unknown) =>
  json(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(action) })

describe("examples/web-demo", () => {
  it.live("serves the page, its script and both stores; clients cannot forge tokens or progress", () =>
    Effect.gen(function*() {
      const { url } = yield* demo
      const page = yield* Effect.promise(() => fetch(`${url}/`).then(async (r) => ({ type: r.headers.get("content-type"), text: await r.text() })))
      expect(page.type).toContain("text/html")
      expect(page.text).toContain('<script type="module" src="/app.js">')
      const script = yield* Effect.promise(() => fetch(`${url}/app.js`).then((r) => r.headers.get("content-type")))
      expect(script).toContain("javascript")
      expect((yield* json(`${url}/api/info`)).body).toEqual({ provider: "local", model: "local-deterministic" })
      // A fresh database: no conversation yet.
      expect((yield* json(`${url}/api/conversations`)).body).toEqual([])
      expect((yield* postAction(`${url}/chat/a1/actions`, { _tag: "Token", delta: "forged" })).status).toBe(403)
      expect((yield* postAction(`${url}/chat/a1/actions`, { _tag: "Restored" })).status).toBe(403)
      expect((yield* postAction(`${url}/agents/actions`, { _tag: "Finished", agent: "coder" })).status).toBe(403)
      expect((yield* postAction(`${url}/chat/a1/actions`, { _tag: "Ask", prompt: "" })).body).toMatchObject({ error: "InvalidAction" })
      // Conversation ids follow the host routes' rules.
      const badId = yield* postAction(`${url}/chat/a%2Fb/actions`, { _tag: "Ask", prompt: "hi" })
      expect([badId.status, badId.body.error]).toEqual([400, "InvalidId"])
      const twins = [{ name: "a", steps: 1, pace: 10 }, { name: "a", steps: 1, pace: 10 }]
      const duplicate = yield* postAction(`${url}/agents/actions`, { _tag: "Start", agents: twins })
      expect(duplicate.status).toBe(400)
      expect(JSON.stringify(duplicate.body)).toContain("agent names must be unique")
      expect((yield* json(`${url}/chat/a1/state`)).body).toEqual(EMPTY)
      // Conversations are separate stores: one's question is not in another.
      const asked = yield* postAction(`${url}/chat/a2/actions`, { _tag: "Ask", prompt: "Only in a2?" })
      expect(asked.status).toBe(202)
      expect((yield* json(`${url}/chat/a2/state`)).body.messages[0]).toEqual({ role: "user", text: "Only in a2?", status: "done" })
      expect((yield* json(`${url}/chat/a1/state`)).body).toEqual(EMPTY)
      expect((yield* json(`${url}/api/conversations`)).body).toEqual(["a1", "a2"])
    }).pipe(Effect.scoped))

  it.live("a page on another site cannot drive the stores, nor a domain rebound to loopback", () =>
    Effect.gen(function*() {
      const { url } = yield* demo
      const ask = JSON.stringify({ _tag: "Ask", prompt: "spend my API key" })
      const foreign = yield* json(`${url}/chat/a1/actions`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: "https://evil.example" },
        body: ask
      })
      expect([foreign.status, foreign.body.error]).toEqual([403, "ForbiddenOrigin"])
      // What a cross-site form or a no-preflight fetch can send.
      const plain = yield* json(`${url}/chat/a1/actions`, { method: "POST", headers: { "content-type": "text/plain" }, body: ask })
      expect([plain.status, plain.body.error]).toEqual([415, "UnsupportedMediaType"])
      // DNS rebinding: the Host is the attacker's name, and so is the Origin, so they look same-origin.
      const { port } = new URL(url)
      const rebound = (method: string, path: string, body?: string) =>
        Effect.promise(() =>
          new Promise<number>((resolve, reject) => {
            const req = http.request(
              { host: "127.0.0.1", port, method, path, headers: { host: `evil.example:${port}`, origin: `http://evil.example:${port}`, "content-type": "application/json" } },
              (res) => (res.resume(), resolve(res.statusCode!))
            )
            req.on("error", reject)
            req.end(body)
          })
        )
      expect(yield* rebound("POST", "/chat/a1/actions", ask)).toBe(403)
      // Nor can it read which conversations there are, or one of them.
      expect(yield* rebound("GET", "/api/conversations")).toBe(403)
      expect(yield* rebound("GET", "/chat/a1/state")).toBe(403)
      expect((yield* json(`${url}/chat/a1/state`)).body).toEqual(EMPTY)
    }).pipe(Effect.scoped))

  it.live.skipIf(!Chromium.hasChromium)("in Chromium: tokens stream in, Stop ends the reply, conversations switch, the agents run to the end", () =>
    Effect.gen(function*() {
      const { url } = yield* demo
      const browser = yield* Chromium.browser
      const page = yield* Effect.promise(() => browser.newPage({ viewport: { width: 1200, height: 760 } }))
      const errors: Array<string> = []
      page.on("pageerror", (error) => errors.push(error.message))

      yield* Effect.promise(async () => {
        await page.goto(url)
        await page.locator("#connection[data-connected=true]").waitFor()
        await page.fill("#prompt", "How does cancellation work?")
        await page.click("#send")
        // Tokens arrive one by one: wait for a few words, while the reply is still streaming.
        const reply = page.locator(".message.assistant").last()
        await page.waitForFunction(() => {
          const last = Array.from(document.querySelectorAll<HTMLElement>(".message.assistant")).at(-1)
          return last?.dataset.status === "streaming" && (last.querySelector("p")?.textContent ?? "").split(" ").length >= 6
        })
        await page.click("#stop")
        await reply.locator("xpath=self::*[@data-status='stopped']").waitFor()
      })

      // The page made up the conversation's id (the database was empty) and shows it in its URL.
      const first = decodeURIComponent(new URL(page.url()).hash.slice(1))
      expect(first).toMatch(/^c-[0-9a-z]{9}-[0-9a-f]{12}$/)
      // The server agrees: the reply is stopped and holds exactly what the page shows, a part of the answer.
      const shown = yield* Effect.promise(() => page.locator(".message.assistant p").last().textContent())
      const state = (yield* json(`${url}/chat/${first}/state`)).body as State
      expect(state.replying).toBe(false)
      expect(state.messages.at(-1)).toMatchObject({ status: "stopped", text: shown })
      expect(shown!.split(" ").length).toBeGreaterThanOrEqual(6)
      expect(yield* Effect.promise(() => page.isDisabled("#stop"))).toBe(true)
      expect((yield* json(`${url}/api/conversations`)).body).toEqual([first])

      // A new conversation starts empty under a new id; the first one is a click away, as it was.
      const second = yield* Effect.promise(async () => {
        await page.click("#new-chat")
        await page.waitForFunction((first) => !location.hash.includes(first), first)
        await page.locator("#chat-empty:not([hidden])").waitFor()
        await page.locator("#conversations button").nth(1).waitFor()
        return decodeURIComponent(new URL(page.url()).hash.slice(1))
      })
      expect(second).not.toBe(first)
      expect(yield* Effect.promise(() => page.locator(".message").count())).toBe(0)
      expect(yield* Effect.promise(() => page.locator("#conversations button[aria-current=true]").getAttribute("data-id"))).toBe(second)
      yield* Effect.promise(async () => {
        await page.click(`#conversations button[data-id="${first}"]`)
        await page.locator(".message.assistant[data-status=stopped]").waitFor()
      })
      expect(yield* Effect.promise(() => page.locator(".message.assistant p").last().textContent())).toBe(shown)
      expect(yield* Effect.promise(() => page.locator(".message").count())).toBe(2)

      yield* Effect.promise(async () => {
        await page.click("#run")
        await page.waitForFunction(() => document.querySelector("#phase")?.textContent === "done", undefined, { timeout: 20_000 })
      })
      const statuses = yield* Effect.promise(() => page.locator(".agent").evaluateAll((items) => items.map((item) => (item as HTMLElement).dataset.status)))
      expect(statuses).toEqual(["finished", "finished", "finished", "finished"])

      mkdirSync("artifacts", { recursive: true })
      yield* Effect.promise(() => page.screenshot({ path: "artifacts/web-demo.png" }))
      expect(errors).toEqual([])
    }).pipe(Effect.scoped), 60_000)

  it.live("a conversation survives a restart of the server: listed again, with its messages; one cut off mid-reply ends as interrupted", () =>
    Effect.gen(function*() {
      const database = join(yield* tempDir, "demo.db")
      const before = yield* Effect.gen(function*() {
        const { url } = yield* serveOn(database, scripted)
        const finished = yield* postAction(`${url}/chat/A/actions?waitFor=Finished&timeoutMs=10000`, { _tag: "Ask", prompt: "Remember me?" })
        // The answer to a wait is the action waited for.
        expect([finished.status, finished.body._tag]).toEqual([200, "Finished"])
        const a = (yield* json(`${url}/chat/A/state`)).body as State
        expect(a.messages).toEqual([
          { role: "user", text: "Remember me?", status: "done" },
          { role: "assistant", text: replyTo("Remember me?"), status: "done" }
        ])
        // B's reply is still streaming when the server stops: the shutdown gives it DRAIN, then cuts it off.
        const token = yield* postAction(`${url}/chat/B/actions?waitFor=Token&timeoutMs=10000`, { _tag: "Ask", prompt: "stall" })
        expect(token.body).toEqual({ _tag: "Token", delta: "Half" })
        expect((yield* json(`${url}/chat/B/state`)).body.replying).toBe(true)
        return a
      }).pipe(Effect.scoped)

      // Another server on the same file, as `npm start` run again.
      const { url } = yield* serveOn(database, scripted)
      expect((yield* json(`${url}/api/conversations`)).body).toEqual(["A", "B"])
      expect((yield* json(`${url}/chat/A/state`)).body).toEqual(before)
      expect((yield* json(`${url}/chat/B/state`)).body).toEqual({
        messages: [{ role: "user", text: "stall", status: "done" }, { role: "assistant", text: "Half", status: "interrupted" }],
        replying: false,
        outputTokens: 0
      })
      // The restored conversation goes on: asked again, it answers.
      const again = yield* postAction(`${url}/chat/B/actions?waitFor=Finished&timeoutMs=10000`, { _tag: "Ask", prompt: "And now?" })
      expect([again.status, again.body._tag]).toEqual([200, "Finished"])
      expect(((yield* json(`${url}/chat/B/state`)).body as State).messages.map((m) => m.status)).toEqual(["done", "interrupted", "done", "done"])
    }).pipe(Effect.scoped), 30_000)

  it.live("the npm start program prints its URL, serves the page, and on Ctrl-C ends its clients' streams and exits 0; run again, it lists the conversation", () =>
    Effect.gen(function*() {
      // DEMO_DB in a temporary directory: the test never writes a database into the repository.
      const database = join(yield* tempDir, "npm-start.db")
      const start = Effect.gen(function*() {
        const child = yield* Effect.acquireRelease(
          Effect.sync(() =>
            spawn(process.execPath, ["--import", "tsx", "examples/web-demo/server.ts"], {
              env: { ...process.env, PORT: "0", DEMO_DB: database, ANTHROPIC_API_KEY: "", OPENAI_API_KEY: "" },
              stdio: ["ignore", "pipe", "pipe"]
            })
          ),
          (child) => Effect.sync(() => child.kill("SIGKILL"))
        )
        const run = { child, output: "" }
        child.stderr.on("data", (chunk) => (run.output += chunk))
        const url = yield* Effect.async<string>((resume) => {
          child.stdout.on("data", (chunk) => {
            run.output += chunk
            const found = /demo: (http:\/\/\S+)/.exec(run.output)
            if (found) resume(Effect.succeed(found[1]))
          })
        }).pipe(Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error(`no URL printed:\n${run.output}`) }))
        const exit = Effect.async<number | null>((resume) => {
          child.on("exit", (code) => resume(Effect.succeed(code)))
          child.kill("SIGINT")
        }).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error(`still running:\n${run.output}`) }))
        return { ...run, url, exit }
      })
      const { url, exit: interrupt, ...run } = yield* start
      const output = () => run.output
      expect(output()).toContain("Ctrl-C to quit")
      expect(output()).toContain("local/local-deterministic")
      expect(output()).toContain(`conversations in ${database}`)
      expect(url).toMatch(/^http:\/\/localhost:\d+$/) // it listens on loopback only
      const page = yield* Effect.promise(() => fetch(`${url}/`).then((r) => r.status))
      expect(page).toBe(200)
      // Clients that hold the server open: an action stream, and a request waiting for an action that never
      // comes. The stream shows the waiting request's action once the wait is registered.
      const events = (yield* Effect.promise(() => fetch(`${url}/chat/c1/events`))).body!.getReader()
      const readUntil = (done: (text: string) => boolean) =>
        Effect.promise(async () => {
          let text = ""
          while (!done(text)) {
            const chunk = await events.read()
            if (chunk.done) return { text, ended: true }
            text += new TextDecoder().decode(chunk.value)
          }
          return { text, ended: false }
        })
      yield* readUntil((text) => text.includes(": connected"))
      const waiting = yield* Effect.fork(postAction(`${url}/chat/c1/actions?waitFor=Finished&timeoutMs=30000`, { _tag: "Stop" }))
      yield* readUntil((text) => text.includes(`"_tag":"Stop"`))
      const exit = yield* interrupt
      expect(exit, output()).toBe(0)
      expect((yield* readUntil(() => false)).ended).toBe(true)
      expect((yield* waiting.await.pipe(Effect.flatten)).body).toMatchObject({ error: "StoreShutdown" })
      expect(existsSync(database)).toBe(true)

      // Started again on the same DEMO_DB: the conversation the Stop went to is kept.
      const restarted = yield* start
      expect((yield* json(`${restarted.url}/api/conversations`)).body).toEqual(["c1"])
      expect((yield* restarted.exit), restarted.output).toBe(0)
    }).pipe(Effect.scoped), 60_000)
})
