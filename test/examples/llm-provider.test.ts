/**
 * The chat reducer against a real provider client: `@effect/ai-anthropic` chosen by `fromEnv` from the
 * environment, talking HTTP to a loopback server that speaks Anthropic's Messages streaming protocol
 * (Server-Sent Events). Checks what the client sends, that tokens become actions, that Stop closes the
 * provider's connection, and that an API error becomes a `Failed` action.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, ConfigProvider, Deferred, Effect, Exit, Layer, Stream } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Actions, initialState, reducer } from "../../examples/llm-chat.js"
import { fromEnv } from "../../examples/local-model.js"
import { Store } from "../../src/index.js"

const TOKENS = ["Reducers", " are", " pure", " functions", "."]

const frame = (data: Record<string, unknown>) => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`

/** What the fake provider saw of one request. */
interface Seen {
  readonly headers: IncomingMessage["headers"]
  readonly path: string | undefined
  readonly body: { model: string; stream: boolean; messages: Array<{ role: string; content: unknown }> }
}

/**
 * A loopback stand-in for api.anthropic.com. `mode` picks the behaviour: a whole reply, a reply that
 * stalls after two tokens (until the client hangs up), or an overloaded error.
 */
const fakeAnthropic = (mode: "reply" | "stall" | "overloaded") =>
  Effect.gen(function*() {
    const seen: Array<Seen> = []
    const hungUp = yield* Deferred.make<void>()
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let raw = ""
      req.on("data", (chunk) => (raw += chunk))
      req.on("end", () => {
        seen.push({ headers: req.headers, path: req.url, body: JSON.parse(raw) })
        if (mode === "overloaded") {
          res.writeHead(529, { "content-type": "application/json" })
          res.end(JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }))
          return
        }
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.on("close", () => Deferred.unsafeDone(hungUp, Exit.void))
        res.write(frame({
          type: "message_start",
          message: {
            id: "msg_test",
            type: "message",
            role: "assistant",
            content: [],
            model: "claude-test",
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: 12, output_tokens: 1 }
          }
        }))
        res.write(frame({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }))
        res.write(frame({ type: "ping" }))
        const tokens = mode === "stall" ? TOKENS.slice(0, 2) : TOKENS
        for (const text of tokens) res.write(frame({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text } }))
        if (mode === "stall") return // keeps the response open: a model still "thinking"
        res.write(frame({ type: "content_block_stop", index: 0 }))
        res.write(frame({ type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: TOKENS.length } }))
        res.end(frame({ type: "message_stop" }))
      })
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
      () =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    return { url, seen, hungUp }
  })

/** A chat store on the provider `fromEnv` picks when the environment holds an Anthropic key and URL. */
const chatOn = (url: string) =>
  Effect.gen(function*() {
    const choice = yield* fromEnv.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(
      new Map([["ANTHROPIC_API_KEY", "test-key"], ["ANTHROPIC_API_URL", url], ["CHAT_MODEL", "claude-test"]])
    )))
    expect(choice.provider).toBe("anthropic")
    const services = yield* Layer.build(choice.layer)
    return yield* Store.make({ initialState, reducer, label: "llm-provider-test" }).pipe(Effect.provide(services))
  })

describe("examples/llm-chat on @effect/ai-anthropic (loopback provider)", () => {
  it.live("streams the provider's tokens as actions and records its token count", () =>
    Effect.gen(function*() {
      const provider = yield* fakeAnthropic("reply")
      const store = yield* chatOn(provider.url)
      const actions = yield* store.subscribe({ overflow: "unbounded" })
      const task = yield* store.send(Actions.Ask("What is a reducer?"))
      yield* task.finish
      const state = yield* store.state
      expect(state.messages[1]).toEqual({ role: "assistant", text: TOKENS.join(""), status: "done" })
      expect(state.outputTokens).toBe(TOKENS.length)
      yield* store.shutdown()
      const reduced = Chunk.toReadonlyArray(yield* Stream.runCollect(actions))
      expect(reduced).toEqual([
        Actions.Ask("What is a reducer?"),
        ...TOKENS.map(Actions.Token),
        Actions.Finished("stop", TOKENS.length, TOKENS.join(""))
      ])
      // What the client sent: the key, the model, streaming on, and the conversation.
      const [request] = provider.seen
      expect(request.path).toBe("/v1/messages")
      expect(request.headers["x-api-key"]).toBe("test-key")
      expect(request.body).toMatchObject({ model: "claude-test", stream: true })
      expect(JSON.stringify(request.body.messages)).toContain("What is a reducer?")
    }).pipe(Effect.scoped))

  it.live("Stop cancels the reply and closes the provider's connection", () =>
    Effect.gen(function*() {
      const provider = yield* fakeAnthropic("stall")
      const store = yield* chatOn(provider.url)
      yield* store.sendAndWaitFor(Actions.Ask("Tell me everything"), (a) => a._tag === "Token" && a.delta === TOKENS[1], {
        timeout: "5 seconds"
      })
      yield* store.send(Actions.Stop)
      yield* Deferred.await(provider.hungUp).pipe(Effect.timeout("5 seconds"))
      const state = yield* store.state
      expect(state.replying).toBe(false)
      expect(state.messages[1]).toEqual({ role: "assistant", text: TOKENS.slice(0, 2).join(""), status: "stopped" })
    }).pipe(Effect.scoped))

  it.live("a provider error (529 overloaded) becomes a Failed action", () =>
    Effect.gen(function*() {
      const provider = yield* fakeAnthropic("overloaded")
      const store = yield* chatOn(provider.url)
      const failed = yield* store.sendAndWaitFor(Actions.Ask("Hello?"), (a) => a._tag === "Failed", { timeout: "5 seconds" })
      expect(failed._tag).toBe("Failed")
      const reply = (yield* store.state).messages[1]
      expect(reply.status).toBe("failed")
      expect(reply.error).toMatch(/529/)
    }).pipe(Effect.scoped))
})
