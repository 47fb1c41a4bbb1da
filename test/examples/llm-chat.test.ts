/**
 * The chat feature told as TestStore stories on the TestClock: the reply streams token by token, Stop
 * cancels it, a silent model times out, a provider error becomes an action, and the provider is chosen by
 * environment variables. Then the conversation persisted in a `StoreHost`: what the journal keeps rebuilds
 * it, and a reply cut off by a restart ends as interrupted.
 */
import { AiError, LanguageModel, type Prompt } from "@effect/ai"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Layer, Schema, Stream, TestClock } from "effect"
import { Action, Actions, initialState, MAX_MESSAGES, persistence, reducer, type State } from "../../examples/llm-chat.js"
import { fromEnv, localModel, type Pacing, replyTo, tokenize } from "../../examples/local-model.js"
import { Persistence, StoreHost, TestStore } from "../../src/index.js"

/** Jitter-free pacing, so the test knows when each token is due. */
const pacing: Pacing = { firstToken: "400 millis", perToken: "30 millis", jitter: 0 }
const QUESTION = "What does Stop do?"
const tokens = tokenize(replyTo(QUESTION))

const asked = (question: string): State => ({
  messages: [
    { role: "user", text: question, status: "done" },
    { role: "assistant", text: "", status: "streaming" }
  ],
  replying: true,
  outputTokens: 0
})

/** The state after the assistant's reply has grown by `delta`. */
const appended = (delta: string) => (s: State): State => {
  const last = s.messages.at(-1)!
  return { ...s, messages: [...s.messages.slice(0, -1), { ...last, text: last.text + delta }] }
}

/** The reply ends with `status`. */
const ended = (status: State["messages"][number]["status"], outputTokens = 0, error?: string) => (s: State): State => {
  const last = s.messages.at(-1)!
  return {
    ...s,
    messages: [...s.messages.slice(0, -1), { ...last, status, ...(error === undefined ? {} : { error }) }],
    replying: false,
    outputTokens: s.outputTokens + outputTokens
  }
}

const chatStore = TestStore.make({ initialState, reducer })

/** Moves the clock to each token of a reply just started (after the first-token pause) and receives it. */
const receiveTokens = (store: TestStore.TestStore<State, Action>, deltas: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    yield* TestClock.adjust(pacing.firstToken)
    for (const delta of deltas) {
      yield* TestClock.adjust(pacing.perToken)
      yield* store.receive(Actions.Token(delta), appended(delta))
    }
  })

describe("examples/llm-chat", () => {
  it.scoped("streams the reply token by token as actions, then Finished with the token count", () =>
    Effect.gen(function*() {
      const store = yield* chatStore
      yield* store.send(Actions.Ask(QUESTION), asked(QUESTION))
      yield* receiveTokens(store, tokens)
      yield* store.receive(Actions.Finished("stop", tokens.length, replyTo(QUESTION)), ended("done", tokens.length))
      expect((yield* store.state).messages[1].text).toBe(replyTo(QUESTION))
      yield* store.finish()
    }).pipe(Effect.provide(localModel(pacing))))

  it.scoped("Stop cancels the reply: no token arrives after it and nothing is left running", () =>
    Effect.gen(function*() {
      const store = yield* chatStore
      yield* store.send(Actions.Ask(QUESTION), asked(QUESTION))
      yield* receiveTokens(store, tokens.slice(0, 3))
      yield* store.send(Actions.Stop, ended("stopped"))
      yield* TestClock.adjust("1 minute")
      expect(yield* store.received).toEqual([])
      expect((yield* store.state).messages[1].text).toBe(tokens.slice(0, 3).join(""))
      // A second Stop (a double click) changes nothing.
      yield* store.send(Actions.Stop)
      yield* store.finish()
    }).pipe(Effect.provide(localModel(pacing))))

  it.scoped("asking again while a reply streams stops the first reply and starts a new one", () =>
    Effect.gen(function*() {
      const store = yield* chatStore
      yield* store.send(Actions.Ask(QUESTION), asked(QUESTION))
      yield* TestClock.adjust(Duration.sum(pacing.firstToken, pacing.perToken))
      yield* store.receive(Actions.Token(tokens[0]), appended(tokens[0]))
      yield* store.send(Actions.Ask("And then?"), (s) => ({
        ...ended("stopped")(s),
        messages: [
          ...ended("stopped")(s).messages,
          { role: "user", text: "And then?", status: "done" },
          { role: "assistant", text: "", status: "streaming" }
        ],
        replying: true
      }))
      // Only the new reply's tokens arrive: the first reply was cancelled in flight.
      const second = tokenize(replyTo("And then?"))
      yield* receiveTokens(store, second)
      yield* store.receive(Actions.Finished("stop", second.length, replyTo("And then?")), ended("done", second.length))
      yield* store.finish()
    }).pipe(Effect.provide(localModel(pacing))))

  it.scoped("a model that stays silent for the idle timeout ends the reply with TimedOut", () =>
    Effect.gen(function*() {
      const store = yield* chatStore
      yield* store.send(Actions.Ask(QUESTION), asked(QUESTION))
      yield* TestClock.adjust("10 seconds")
      yield* store.receive(Actions.TimedOut, ended("timedOut"))
      yield* store.finish()
    }).pipe(Effect.provide(localModel({ ...pacing, firstToken: "1 hour" }))))

  it.scoped("a provider error becomes a Failed action with its message", () =>
    Effect.gen(function*() {
      const quota = new AiError.UnknownError({ module: "Test", method: "streamText", description: "quota exceeded" })
      const failing = Layer.effect(
        LanguageModel.LanguageModel,
        LanguageModel.make({ generateText: () => Effect.fail(quota), streamText: () => Stream.fail(quota) })
      )
      expect(quota.message).toContain("quota exceeded")
      const store = yield* chatStore.pipe(Effect.provide(failing))
      yield* store.send(Actions.Ask(QUESTION), asked(QUESTION))
      yield* store.receive(Actions.Failed(quota.message), ended("failed", 0, quota.message))
      yield* store.finish()
    }))

  it("refuses empty and oversized prompts before they reach the reducer", () => {
    const decode = Schema.decodeUnknownEither(Action)
    expect(Either.isLeft(decode({ _tag: "Ask", prompt: "   " }))).toBe(true)
    expect(Either.isLeft(decode({ _tag: "Ask", prompt: "x".repeat(2001) }))).toBe(true)
    expect(decode({ _tag: "Ask", prompt: "  hi  " })).toEqual(Either.right({ _tag: "Ask", prompt: "hi" }))
  })

  it.effect("picks the provider from the environment: Anthropic, then OpenAI, else the local model", () =>
    Effect.gen(function*() {
      const withEnv = (entries: ReadonlyArray<readonly [string, string]>) =>
        fromEnv.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries))))
      expect((yield* withEnv([])).provider).toBe("local")
      expect((yield* withEnv([["OPENAI_API_KEY", "sk-test"]])).provider).toBe("openai")
      const both = yield* withEnv([["OPENAI_API_KEY", "sk-test"], ["ANTHROPIC_API_KEY", "key"], ["CHAT_MODEL", "m"]])
      expect([both.provider, both.model]).toEqual(["anthropic", "m"])
      expect((yield* withEnv([["OPENAI_API_KEY", ""]])).provider).toBe("local")
    }))

  it.scoped("a provider stream that closes without a finish part still ends the reply", () =>
    Effect.gen(function*() {
      const abrupt = Layer.effect(
        LanguageModel.LanguageModel,
        LanguageModel.make({
          generateText: () => Effect.succeed([]),
          streamText: () => Stream.make({ type: "text-delta", id: "t", delta: "Hi" } as const)
        })
      )
      const store = yield* chatStore.pipe(Effect.provide(abrupt))
      yield* store.send(Actions.Ask(QUESTION), asked(QUESTION))
      yield* store.receive(Actions.Token("Hi"), appended("Hi"))
      yield* store.receive(Actions.Finished("other", 0, "Hi"), ended("done"))
      yield* store.finish()
    }))

  it.scoped("the model is sent the latest turns without replies that never got a token", () =>
    Effect.gen(function*() {
      const prompts: Array<ReadonlyArray<string>> = []
      const recording = Layer.effect(
        LanguageModel.LanguageModel,
        LanguageModel.make({
          generateText: () => Effect.succeed([]),
          streamText: (options) => {
            prompts.push(options.prompt.content.map((m: Prompt.Message) => `${m.role}:${JSON.stringify(m.content)}`))
            return Stream.never
          }
        })
      )
      const store = yield* TestStore.make({ initialState, reducer, exhaustivity: "non-exhaustive" }).pipe(Effect.provide(recording))
      yield* store.send(Actions.Ask("first"))
      yield* TestClock.adjust("1 millis") // the reply's stream starts, and stays silent
      yield* store.send(Actions.Stop)
      yield* store.send(Actions.Ask("second"))
      yield* TestClock.adjust("1 millis")
      expect(prompts).toHaveLength(2)
      // The stopped, empty reply to "first" is not sent: providers refuse empty assistant turns.
      expect(prompts[1].map((m) => m.split(":")[0])).toEqual(["user", "user"])
      yield* store.skipInFlightEffects({ interrupt: true })
    }))

  it("the conversation kept in the state is bounded", () => {
    let state = initialState
    for (let i = 0; i < 3 * MAX_MESSAGES; i++) {
      state = reducer(state, Actions.Ask(`question ${i}`))[0]
      state = reducer(state, Actions.Finished("stop", 1, `answer ${i}`))[0]
    }
    expect(state.messages).toHaveLength(MAX_MESSAGES)
    expect(state.messages.at(-2)).toEqual({ role: "user", text: `question ${3 * MAX_MESSAGES - 1}`, status: "done" })
    expect(state.outputTokens).toBe(3 * MAX_MESSAGES)
  })

  it.scoped("Restored ends a reply a restart cut off as interrupted, keeps its text, and asks nothing again", () =>
    Effect.gen(function*() {
      const cutOff: State = appended("A partial")(asked(QUESTION))
      const store = yield* TestStore.make({ initialState: cutOff, reducer })
      yield* store.send(Actions.Restored, ended("interrupted"))
      expect((yield* store.state).messages[1]).toEqual({ role: "assistant", text: "A partial", status: "interrupted" })
      // A conversation restored at rest stays as it was.
      yield* store.send(Actions.Restored)
      // Exhaustive: no reply effect was started, nothing else arrives.
      yield* store.finish()
    }).pipe(Effect.provide(localModel(pacing))))

  it("the journal keeps questions and how replies ended, never tokens", () => {
    const members: ReadonlyArray<Schema.Schema.AnyNoContext> = Action.members
    const journaled = (action: Action) =>
      members.some((member) => member.ast.annotations[Persistence.PersistedId] === true && Schema.is(member)(action))
    expect([Actions.Ask("hi"), Actions.Finished("stop", 1, "x"), Actions.Stop, Actions.TimedOut, Actions.Failed("e")].every(journaled)).toBe(true)
    expect(journaled(Actions.Token("x"))).toBe(false)
    expect(journaled(Actions.Restored)).toBe(false)
  })

  /** A host of conversations as the web demo makes it, on `persistence` (with `durability` as given). */
  const conversations = (durability: "group" | "sync", model: Layer.Layer<LanguageModel.LanguageModel>) =>
    StoreHost.make({
      name: "chat",
      initialState: () => initialState,
      reducer,
      // A test host left running with a silent reply would otherwise wait 10 seconds at the end.
      shutdownTimeout: "10 millis",
      persistence: { ...persistence, durability }
    }).pipe(Effect.provide(model))

  it.live("a finished conversation comes back from what was committed, with the whole reply though tokens are not journaled", () =>
    Effect.gen(function*() {
      const store = Persistence.Persistence
      // "sync": the wait below ends once the Finished is committed, so nothing is still in flight.
      const before = yield* conversations("sync", localModel({ firstToken: 0, perToken: 0, jitter: 0 }))
      yield* before.sendAndWaitFor("c1", Actions.Ask(QUESTION), (a) => a._tag === "Finished", { timeout: "10 seconds" })
      const live = yield* before.state("c1")
      expect(live.messages.map((m) => [m.role, m.text, m.status])).toEqual([
        ["user", QUESTION, "done"],
        ["assistant", replyTo(QUESTION), "done"]
      ])
      // What a crash now would leave: the first host never wrote its last snapshot. The reply is longer
      // than a snapshot's 100 actions, so a snapshot caught it mid-stream; the Finished after it is the
      // only row that has the rest.
      const stored = yield* Effect.flatMap(store, (p) => p.load({ host: "chat", id: "c1" }))
      const tags = stored.journal.map((entry) => JSON.parse(entry.action)._tag)
      expect(tags).toEqual(["Finished"])
      expect(tokens.length).toBeGreaterThan(100)
      // A second host on the same storage restores it: the snapshot, then the Finished replayed.
      const after = yield* conversations("group", localModel(pacing))
      expect(yield* after.state("c1")).toEqual(live)
      expect(yield* after.ids).toEqual(["c1"])
    }).pipe(Effect.scoped, Effect.provide(Persistence.layerMemory)))

  it.live("a reply cut off mid-stream is restored as interrupted, with nothing streaming", () =>
    Effect.gen(function*() {
      const silent = localModel({ ...pacing, firstToken: "1 hour" })
      const before = yield* conversations("sync", silent)
      yield* before.send("c1", Actions.Ask(QUESTION))
      expect((yield* before.state("c1")).replying).toBe(true)
      // Restored from the journal (the Ask) by a host that never saw the reply start.
      const after = yield* conversations("group", silent)
      const restored = yield* after.state("c1")
      expect(restored).toEqual(ended("interrupted")(asked(QUESTION)))
      // It can be asked again at once.
      yield* after.send("c1", Actions.Ask("And then?"))
      expect((yield* after.state("c1")).messages.map((m) => m.status)).toEqual(["done", "interrupted", "done", "streaming"])
    }).pipe(Effect.scoped, Effect.provide(Persistence.layerMemory)))
})
