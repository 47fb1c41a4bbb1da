/**
 * LLM token streaming, the first of composable-rust's five stream use cases, as a chat feature.
 *
 * `Ask` starts a reply: the reducer returns an `Fx` that streams the model's tokens back as `Token`
 * actions, ends with `Finished`, and turns a provider error into `Failed`. The reply is cancellable:
 * `Stop` cancels it by id, and a new `Ask` replaces one still running (`cancelInFlight`). A model that goes
 * silent for `IDLE_TIMEOUT` ends the reply with `TimedOut`.
 *
 * The model is `@effect/ai`'s `LanguageModel` service: the offline local model by default, a real
 * provider when an API key is set (see `local-model.ts`).
 *
 * Run it in a terminal with `npm run demo:chat -- "your question"`.
 */
import { LanguageModel, type Response } from "@effect/ai"
import { Effect, Option, Schema, Stream } from "effect"
import { pathToFileURL } from "node:url"
import { Fx, Reducer, Store } from "../src/index.js"
import { fromEnv } from "./local-model.js"

// -----------------------------------------------------------------------------
// model (Schemas, so the same types cross HTTP in the web demo)
// -----------------------------------------------------------------------------

export const Message = Schema.Struct({
  role: Schema.Literal("user", "assistant"),
  text: Schema.String,
  status: Schema.Literal("streaming", "done", "stopped", "timedOut", "failed"),
  error: Schema.optional(Schema.String)
})
export type Message = typeof Message.Type

export const State = Schema.Struct({
  messages: Schema.Array(Message),
  /** True while a reply streams in: the Stop button's state. */
  replying: Schema.Boolean,
  /** Output tokens of every finished reply, as the provider reported them. */
  outputTokens: Schema.Number
})
export type State = typeof State.Type

/** A question: trimmed, not empty, at most 2,000 characters. Anything else is refused before the reducer. */
export const Prompt = Schema.Trim.pipe(Schema.nonEmptyString(), Schema.maxLength(2000))

export const Action = Schema.Union(
  Schema.TaggedStruct("Ask", { prompt: Prompt }),
  Schema.TaggedStruct("Token", { delta: Schema.String }),
  Schema.TaggedStruct("Finished", { reason: Schema.String, outputTokens: Schema.Number }),
  Schema.TaggedStruct("Stop", {}),
  Schema.TaggedStruct("TimedOut", {}),
  Schema.TaggedStruct("Failed", { error: Schema.String })
)
export type Action = typeof Action.Type

/** Action constructors, so reducers and tests read as `Action.Ask("hi")`, not object literals. */
export const Actions = {
  Ask: (prompt: string): Action => ({ _tag: "Ask", prompt }),
  Token: (delta: string): Action => ({ _tag: "Token", delta }),
  Finished: (reason: string, outputTokens: number): Action => ({ _tag: "Finished", reason, outputTokens }),
  Stop: { _tag: "Stop" } as Action,
  TimedOut: { _tag: "TimedOut" } as Action,
  Failed: (error: string): Action => ({ _tag: "Failed", error })
}

export const initialState: State = { messages: [], replying: false, outputTokens: 0 }

// -----------------------------------------------------------------------------
// the reply effect
// -----------------------------------------------------------------------------

/** The reply's cancellation id: one reply at a time per store. */
export const REPLY = "chat/reply"

/** A reply that produces no token for this long ends with `TimedOut`. */
export const IDLE_TIMEOUT = "10 seconds"

/** The stream parts the chat cares about: text deltas and the finish; the rest (metadata...) are skipped. */
const toAction = (part: Response.StreamPart<{}>): Option.Option<Action> => {
  switch (part.type) {
    case "text-delta":
      return Option.some(Actions.Token(part.delta))
    case "finish":
      return Option.some(Actions.Finished(part.reason, part.usage.outputTokens ?? 0))
    default:
      return Option.none()
  }
}

/** Messages the state keeps (the oldest go first): one shared store must not grow without bound. */
export const MAX_MESSAGES = 40

/** Messages sent to the model: the latest turns, without replies that never got a token. */
export const CONTEXT_MESSAGES = 12

const promptOf = (history: ReadonlyArray<Message>) =>
  history.filter((m) => m.text.length > 0).slice(-CONTEXT_MESSAGES).map((m) => ({ role: m.role, content: m.text }))

/**
 * Streams the model's answer to the conversation so far. A provider that closes its stream without a
 * finish part still ends the reply: a `Finished` with reason `"other"` is added at the end.
 */
const reply = (history: ReadonlyArray<Message>): Fx.Fx<Action, LanguageModel.LanguageModel> => {
  const actions = Stream.suspend(() => {
    let finished = false
    return LanguageModel.streamText({ prompt: promptOf(history) }).pipe(
      Stream.filterMap(toAction),
      Stream.map((action) => {
        if (action._tag === "Finished") finished = true
        return action
      }),
      Stream.concat(Stream.suspend(() => (finished ? Stream.empty : Stream.make(Actions.Finished("other", 0)))))
    )
  })
  return Fx.attemptStream(actions, { onItem: (action) => action, onFailure: (error) => Actions.Failed(error.message) }).pipe(
    Fx.idleTimeout(IDLE_TIMEOUT, { onTimeout: Actions.TimedOut }),
    Fx.cancellable(REPLY, { cancelInFlight: true })
  )
}

// -----------------------------------------------------------------------------
// reducer
// -----------------------------------------------------------------------------

/** Updates the reply being streamed (the last message), if there is one. */
const updateReply = (state: State, f: (reply: Message) => Message): State => {
  const last = state.messages.at(-1)
  if (!state.replying || last === undefined || last.role !== "assistant") return state
  return { ...state, messages: [...state.messages.slice(0, -1), f(last)] }
}

/** Ends the reply being streamed with `status`; the store is no longer replying. */
const endReply = (state: State, status: Message["status"], error?: string): State => ({
  ...updateReply(state, (m) => (error === undefined ? { ...m, status } : { ...m, status, error })),
  replying: false
})

export const reducer = Reducer.make(
  (state: State, action: Action): readonly [State, Fx.Fx<Action, LanguageModel.LanguageModel>] => {
    switch (action._tag) {
      case "Ask": {
        // Asking while a reply streams stops that reply first; `cancelInFlight` cancels its effect.
        const settled = state.replying ? endReply(state, "stopped") : state
        const history = [...settled.messages, { role: "user", text: action.prompt, status: "done" } as const]
        const next: State = {
          ...settled,
          messages: [...history, { role: "assistant", text: "", status: "streaming" } as const].slice(-MAX_MESSAGES),
          replying: true
        }
        return [next, reply(history)]
      }
      case "Token":
        return [updateReply(state, (m) => ({ ...m, text: m.text + action.delta })), Fx.none]
      case "Finished":
        if (!state.replying) return [state, Fx.none]
        return [{ ...endReply(state, "done"), outputTokens: state.outputTokens + action.outputTokens }, Fx.none]
      case "Stop":
        // Stop with nothing streaming changes nothing (a double click, a late request).
        return state.replying ? [endReply(state, "stopped"), Fx.cancel(REPLY)] : [state, Fx.none]
      case "TimedOut":
        return [endReply(state, "timedOut"), Fx.none]
      case "Failed":
        return [endReply(state, "failed", action.error), Fx.none]
    }
  }
)

// -----------------------------------------------------------------------------
// terminal program
// -----------------------------------------------------------------------------

/** Asks one question and writes the tokens as they arrive; returns the final state. */
export const ask = (question: string, write: (text: string) => void) =>
  Effect.gen(function*() {
    const store = yield* Store.make({ initialState, reducer, label: "llm-chat" })
    // Subscribed before the question is sent, and backpressured: the terminal sees every token.
    const actions = yield* store.subscribe({ overflow: "backpressure" })
    yield* actions.pipe(
      Stream.runForEach((action) => Effect.sync(() => action._tag === "Token" && write(action.delta))),
      Effect.forkScoped
    )
    const task = yield* store.send(Actions.Ask(question))
    yield* task.finish
    return yield* store.state
  }).pipe(Effect.scoped)

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const question = process.argv.slice(2).join(" ") || "What is a reducer?"
  Effect.gen(function*() {
    const choice = yield* fromEnv
    process.stdout.write(`[${choice.provider}: ${choice.model}]\n`)
    const state = yield* ask(question, (text) => process.stdout.write(text)).pipe(Effect.provide(choice.layer))
    const last = state.messages.at(-1)
    process.stdout.write(`\n[${last?.status ?? "no reply"}${last?.error ? `: ${last.error}` : ""}]\n`)
  }).pipe(Effect.runPromise).catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
