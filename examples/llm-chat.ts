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
 * A conversation can outlive its process: the web demo keeps each one in a `StoreHost` persisted to
 * SQLite (`persistence` below). The actions that say what was asked and how each reply ended are marked
 * `Persistence.persisted` and journaled; tokens are not, so `Finished` carries the whole reply's text.
 *
 * Run it in a terminal with `npm run demo:chat -- "your question"`.
 */
import { LanguageModel, type Response } from "@effect/ai"
import { Effect, Option, Schema, Stream } from "effect"
import { pathToFileURL } from "node:url"
import { Fx, Persistence, Reducer, Store, type StoreHost } from "../src/index.js"
import { fromEnv } from "./local-model.js"

// -----------------------------------------------------------------------------
// model (Schemas, so the same types cross HTTP in the web demo)
// -----------------------------------------------------------------------------

export const Message = Schema.Struct({
  role: Schema.Literal("user", "assistant"),
  text: Schema.String,
  /** `interrupted`: the process stopped mid-reply, and the conversation was restored without it (`Restored`). */
  status: Schema.Literal("streaming", "done", "stopped", "timedOut", "failed", "interrupted"),
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

/**
 * The journal (see `persistence`) keeps the question and every reply's end: replayed through the reducer
 * after a restart, they rebuild each message and how it ended. Tokens stay out of it (a reply would be
 * a hundred rows); `Finished` carries the reply's `text`, so replaying it restores the whole reply, and
 * what an unfinished reply had streamed survives only as far as the last snapshot has it.
 */
export const Action = Schema.Union(
  Persistence.persisted(Schema.TaggedStruct("Ask", { prompt: Prompt })),
  Schema.TaggedStruct("Token", { delta: Schema.String }),
  Persistence.persisted(Schema.TaggedStruct("Finished", { reason: Schema.String, outputTokens: Schema.Number, text: Schema.String })),
  Persistence.persisted(Schema.TaggedStruct("Stop", {})),
  Persistence.persisted(Schema.TaggedStruct("TimedOut", {})),
  Persistence.persisted(Schema.TaggedStruct("Failed", { error: Schema.String })),
  /** Reduced once a conversation was restored from storage (never journaled, never sent by clients). */
  Schema.TaggedStruct("Restored", {})
)
export type Action = typeof Action.Type

/** Action constructors, so reducers and tests read as `Action.Ask("hi")`, not object literals. */
export const Actions = {
  Ask: (prompt: string): Action => ({ _tag: "Ask", prompt }),
  Token: (delta: string): Action => ({ _tag: "Token", delta }),
  /** The reply ended: `text` is all of it, the concatenation of its tokens. */
  Finished: (reason: string, outputTokens: number, text: string): Action => ({ _tag: "Finished", reason, outputTokens, text }),
  Stop: { _tag: "Stop" } as Action,
  TimedOut: { _tag: "TimedOut" } as Action,
  Failed: (error: string): Action => ({ _tag: "Failed", error }),
  Restored: { _tag: "Restored" } as Action
}

export const initialState: State = { messages: [], replying: false, outputTokens: 0 }

// -----------------------------------------------------------------------------
// the reply effect
// -----------------------------------------------------------------------------

/** The reply's cancellation id: one reply at a time per store. */
export const REPLY = "chat/reply"

/** A reply that produces no token for this long ends with `TimedOut`. */
export const IDLE_TIMEOUT = "10 seconds"

/**
 * The stream parts the chat cares about: text deltas and the finish; the rest (metadata...) are skipped.
 * `text` is the reply so far, which the finish carries.
 */
const toAction = (part: Response.StreamPart<{}>, text: string): Option.Option<Action> => {
  switch (part.type) {
    case "text-delta":
      return Option.some(Actions.Token(part.delta))
    case "finish":
      return Option.some(Actions.Finished(part.reason, part.usage.outputTokens ?? 0, text))
    default:
      return Option.none()
  }
}

/** Messages the state keeps (the oldest go first): a conversation must not grow without bound. */
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
    // Per run of the stream: the text streamed so far, and whether the provider sent its finish.
    let text = ""
    let finished = false
    return LanguageModel.streamText({ prompt: promptOf(history) }).pipe(
      Stream.filterMap((part) => {
        if (part.type === "text-delta") text += part.delta
        return toAction(part, text)
      }),
      Stream.map((action) => {
        if (action._tag === "Finished") finished = true
        return action
      }),
      Stream.concat(Stream.suspend(() => (finished ? Stream.empty : Stream.make(Actions.Finished("other", 0, text)))))
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
      case "Finished": {
        if (!state.replying) return [state, Fx.none]
        // The reply's text is the action's, not the tokens': live they are the same, and replayed from
        // the journal (which has no tokens) this is the only copy.
        const done = endReply(updateReply(state, (m) => ({ ...m, text: action.text })), "done")
        return [{ ...done, outputTokens: state.outputTokens + action.outputTokens }, Fx.none]
      }
      case "Stop":
        // Stop with nothing streaming changes nothing (a double click, a late request).
        return state.replying ? [endReply(state, "stopped"), Fx.cancel(REPLY)] : [state, Fx.none]
      case "TimedOut":
        return [endReply(state, "timedOut"), Fx.none]
      case "Failed":
        return [endReply(state, "failed", action.error), Fx.none]
      case "Restored":
        // Restored from storage (after a restart, or once passivated) with a reply that never ended: its
        // stream died with the old process. It ends as `interrupted`, keeping what the last snapshot had
        // streamed, rather than asking the model again: a restore happens on any use of the conversation
        // (a reload, a `GET /state`), and re-asking there would spend the provider's quota on a reply
        // nobody asked for now, and replace a text the user may have read. Asking again is one click.
        return state.replying ? [endReply(state, "interrupted"), Fx.none] : [state, Fx.none]
    }
  }
)

/**
 * How a `StoreHost` of conversations persists them: the state and the actions through their Schemas
 * (the journal keeps the members marked above), and `Restored` reduced after a restore.
 */
export const persistence: StoreHost.PersistenceOptions<State, Action, typeof State.Encoded, typeof Action.Encoded> = {
  state: State,
  actions: Action,
  restored: Actions.Restored
}

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
