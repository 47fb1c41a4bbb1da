/**
 * The live demo end to end: the server on a loopback port, then the page driven in real headless
 * Chromium (Debian's `chromium` with `playwright-core`): ask, see tokens arrive, press Stop, see the
 * stream end; run the agents. The screenshot lands in `artifacts/web-demo.png`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { existsSync, mkdirSync } from "node:fs"
import * as http from "node:http"
import { chromium } from "playwright-core"
import { localModel } from "../../examples/local-model.js"
import { serve } from "../../examples/web-demo/server.js"

const CHROMIUM = "/usr/bin/chromium"
const hasChromium = existsSync(CHROMIUM)
if (!hasChromium) {
  console.warn(
    `web-demo browser test skipped: ${CHROMIUM} not found. Install it with \`npm run install:browser\` ` +
      "(Debian's chromium package: apt-get install chromium)."
  )
}

/** The demo on a free loopback port, with the local model at its usual, realistic pace. */
const demo = serve({
  port: 0,
  host: "127.0.0.1",
  model: { provider: "local", model: "local-deterministic", layer: localModel() }
})

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
      expect((yield* postAction(`${url}/chat/actions`, { _tag: "Token", delta: "forged" })).status).toBe(403)
      expect((yield* postAction(`${url}/agents/actions`, { _tag: "Finished", agent: "coder" })).status).toBe(403)
      expect((yield* postAction(`${url}/chat/actions`, { _tag: "Ask", prompt: "" })).body).toMatchObject({ error: "InvalidAction" })
      const twins = [{ name: "a", steps: 1, pace: 10 }, { name: "a", steps: 1, pace: 10 }]
      const duplicate = yield* postAction(`${url}/agents/actions`, { _tag: "Start", agents: twins })
      expect(duplicate.status).toBe(400)
      expect(JSON.stringify(duplicate.body)).toContain("agent names must be unique")
      expect((yield* json(`${url}/chat/state`)).body).toEqual({ messages: [], replying: false, outputTokens: 0 })
    }).pipe(Effect.scoped))

  it.live("a page on another site cannot drive the stores, nor a domain rebound to loopback", () =>
    Effect.gen(function*() {
      const { url } = yield* demo
      const ask = JSON.stringify({ _tag: "Ask", prompt: "spend my API key" })
      const foreign = yield* json(`${url}/chat/actions`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: "https://evil.example" },
        body: ask
      })
      expect([foreign.status, foreign.body.error]).toEqual([403, "ForbiddenOrigin"])
      // What a cross-site form or a no-preflight fetch can send.
      const plain = yield* json(`${url}/chat/actions`, { method: "POST", headers: { "content-type": "text/plain" }, body: ask })
      expect([plain.status, plain.body.error]).toEqual([415, "UnsupportedMediaType"])
      // DNS rebinding: the Host is the attacker's name, and so is the Origin, so they look same-origin.
      const { port } = new URL(url)
      const rebound = yield* Effect.promise(() =>
        new Promise<number>((resolve, reject) => {
          const req = http.request(
            { host: "127.0.0.1", port, method: "POST", path: "/chat/actions", headers: { host: `evil.example:${port}`, origin: `http://evil.example:${port}`, "content-type": "application/json" } },
            (res) => (res.resume(), resolve(res.statusCode!))
          )
          req.on("error", reject)
          req.end(ask)
        })
      )
      expect(rebound).toBe(403)
      expect((yield* json(`${url}/chat/state`)).body).toEqual({ messages: [], replying: false, outputTokens: 0 })
    }).pipe(Effect.scoped))

  it.live.skipIf(!hasChromium)("in Chromium: tokens stream in, Stop ends the reply, the agents run to the end", () =>
    Effect.gen(function*() {
      const { url } = yield* demo
      const browser = yield* Effect.acquireRelease(
        Effect.promise(() =>
          chromium.launch({
            executablePath: CHROMIUM,
            args: [
              "--headless",
              "--no-sandbox",
              "--disable-gpu",
              "--disable-quic",
              "--no-first-run",
              "--disable-background-networking",
              "--disable-component-update",
              "--disable-sync"
            ]
          })
        ),
        (browser) => Effect.promise(() => browser.close())
      )
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

      // The server agrees: the reply is stopped and holds exactly what the page shows, a part of the answer.
      const shown = yield* Effect.promise(() => page.locator(".message.assistant p").last().textContent())
      const state = (yield* json(`${url}/chat/state`)).body as { replying: boolean; messages: Array<{ text: string; status: string }> }
      expect(state.replying).toBe(false)
      expect(state.messages.at(-1)).toMatchObject({ status: "stopped", text: shown })
      expect(shown!.split(" ").length).toBeGreaterThanOrEqual(6)
      expect(yield* Effect.promise(() => page.isDisabled("#stop"))).toBe(true)

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

  it.live("the npm start program prints its URL, serves the page, and on Ctrl-C ends its clients' streams and exits 0", () =>
    Effect.gen(function*() {
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(process.execPath, ["--import", "tsx", "examples/web-demo/server.ts"], {
            env: { ...process.env, PORT: "0", ANTHROPIC_API_KEY: "", OPENAI_API_KEY: "" },
            stdio: ["ignore", "pipe", "pipe"]
          })
        ),
        (child) => Effect.sync(() => child.kill("SIGKILL"))
      )
      let output = ""
      child.stderr.on("data", (chunk) => (output += chunk))
      const url = yield* Effect.async<string>((resume) => {
        child.stdout.on("data", (chunk) => {
          output += chunk
          const found = /demo: (http:\/\/\S+)/.exec(output)
          if (found) resume(Effect.succeed(found[1]))
        })
      }).pipe(Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error(`no URL printed:\n${output}`) }))
      expect(output).toContain("Ctrl-C to quit")
      expect(output).toContain("local/local-deterministic")
      expect(url).toMatch(/^http:\/\/localhost:\d+$/) // it listens on loopback only
      const page = yield* Effect.promise(() => fetch(`${url}/`).then((r) => r.status))
      expect(page).toBe(200)
      // Clients that hold the server open: an action stream, and a request waiting for an action that never
      // comes. The stream shows the waiting request's action once the wait is registered.
      const events = (yield* Effect.promise(() => fetch(`${url}/chat/events`))).body!.getReader()
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
      const waiting = yield* Effect.fork(postAction(`${url}/chat/actions?waitFor=Finished&timeoutMs=30000`, { _tag: "Stop" }))
      yield* readUntil((text) => text.includes(`"_tag":"Stop"`))
      const exit = yield* Effect.async<number | null>((resume) => {
        child.on("exit", (code) => resume(Effect.succeed(code)))
        child.kill("SIGINT")
      }).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error(`still running:\n${output}`) }))
      expect(exit, output).toBe(0)
      expect((yield* readUntil(() => false)).ended).toBe(true)
      expect((yield* waiting.await.pipe(Effect.flatten)).body).toMatchObject({ error: "StoreShutdown" })
    }).pipe(Effect.scoped))
})
