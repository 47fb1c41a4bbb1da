/**
 * The chat example's language models, all behind `@effect/ai`'s `LanguageModel` service, so the chat
 * reducer never knows which one it talks to.
 *
 * - `localModel`: a small offline model. It answers deterministically (the same prompt always streams the
 *   same tokens) with realistic pacing: a pause before the first token, then a token every few tens of
 *   milliseconds. The pauses are `Effect.sleep`, so tests drive them with the `TestClock`.
 * - `fromEnv`: Anthropic when `ANTHROPIC_API_KEY` is set, else OpenAI when `OPENAI_API_KEY` is set, else
 *   the local model. `CHAT_MODEL` overrides the provider's model name; `ANTHROPIC_API_URL` /
 *   `OPENAI_API_URL` point the client at a proxy or gateway (the tests point it at a loopback server).
 */
import { LanguageModel, type Prompt, type Response } from "@effect/ai"
import { AnthropicClient, AnthropicLanguageModel } from "@effect/ai-anthropic"
import { OpenAiClient, OpenAiLanguageModel } from "@effect/ai-openai"
import { FetchHttpClient, type HttpClient } from "@effect/platform"
import { Chunk, Config, Duration, Effect, Layer, Option, Redacted, Stream } from "effect"

// -----------------------------------------------------------------------------
// the local model
// -----------------------------------------------------------------------------

/** How the local model paces its reply. */
export interface Pacing {
  /** Before the first token: the "thinking" pause users see from real providers. */
  readonly firstToken: Duration.DurationInput
  /** Between tokens, before the jitter is added. */
  readonly perToken: Duration.DurationInput
  /** Up to this fraction of `perToken` is added to each pause, derived from the prompt (deterministic). */
  readonly jitter: number
}

export const defaultPacing: Pacing = { firstToken: "400 millis", perToken: "35 millis", jitter: 0.5 }

/** The text of the last user message: what the local model answers. */
export const lastUserText = (prompt: Prompt.Prompt): string => {
  for (let i = prompt.content.length - 1; i >= 0; i--) {
    const message = prompt.content[i]
    if (message.role !== "user") continue
    return message.content.flatMap((part) => (part.type === "text" ? [part.text] : [])).join(" ")
  }
  return ""
}

/** FNV-1a: a stable seed from the prompt, so a reply and its pacing depend on nothing else. */
const hash = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  return h
}

const OPENINGS = [
  "Good question.",
  "Here is how I would think about it.",
  "Let me walk through it step by step.",
  "Short answer first, then the details."
]

const BODY = [
  "A reducer is a pure function: it takes the state and an action, and returns the next state with an effect.",
  "The effect is a value, so a test can look at it before anything runs.",
  "The store runs it, and every action it produces goes back through the same reducer, one at a time.",
  "Streams are first-class: each item becomes an action, and the next item is pulled only when the last one was reduced.",
  "Cancellation is an action too, so pressing Stop is just another state transition.",
  "Timeouts, batching and rate limits come from Effect's own combinators, not from hand-written timers."
]

/** The reply to `question`: deterministic, about 120 words, and it quotes the question back. */
export const replyTo = (question: string): string => {
  const seed = hash(question)
  const opening = OPENINGS[seed % OPENINGS.length]
  const topic = question.trim().length > 0 ? `You asked: "${question.trim().slice(0, 80)}".` : "You asked nothing at all."
  // Rotate the body by the seed so different questions get different orders.
  const body = BODY.map((_, i) => BODY[(i + seed) % BODY.length])
  return [opening, topic, ...body, "That is the whole idea, in a nutshell."].join(" ")
}

/** Splits a reply into tokens the way providers stream them: words with their leading space. */
export const tokenize = (text: string): ReadonlyArray<string> => text.match(/\s*\S+/g) ?? []

const TEXT_ID = "local-text-0"

/** One reply as the encoded stream parts a provider would send: start, deltas, end, finish with usage. */
const replyParts = (prompt: Prompt.Prompt, pacing: Pacing): Stream.Stream<Response.StreamPartEncoded> => {
  const question = lastUserText(prompt)
  const tokens = tokenize(replyTo(question))
  const seed = hash(question)
  const perToken = Duration.toMillis(pacing.perToken)
  const deltas = Stream.fromIterable(tokens).pipe(
    Stream.zipWithIndex,
    // Deterministic jitter, derived from the seed and the token's position.
    Stream.tap(([, i]) => Effect.sleep(Duration.millis(perToken * (1 + pacing.jitter * (((seed >>> (i % 24)) % 100) / 100))))),
    Stream.map(([delta]): Response.StreamPartEncoded => ({ type: "text-delta", id: TEXT_ID, delta }))
  )
  const inputTokens = tokenize(prompt.content.map((m) => JSON.stringify(m.content)).join(" ")).length
  const start = Stream.fromEffect(
    Effect.sleep(pacing.firstToken).pipe(Effect.as<Response.StreamPartEncoded>({ type: "text-start", id: TEXT_ID }))
  )
  return start.pipe(
    Stream.concat(deltas),
    Stream.concat(Stream.make<Array<Response.StreamPartEncoded>>(
      { type: "text-end", id: TEXT_ID },
      {
        type: "finish",
        reason: "stop",
        usage: { inputTokens, outputTokens: tokens.length, totalTokens: inputTokens + tokens.length }
      }
    ))
  )
}

/**
 * The offline model as a `LanguageModel` layer.
 *
 * @example
 * const reply = LanguageModel.streamText({ prompt: "hi" }).pipe(Stream.provideLayer(localModel()))
 */
export const localModel = (pacing: Pacing = defaultPacing): Layer.Layer<LanguageModel.LanguageModel> =>
  Layer.effect(
    LanguageModel.LanguageModel,
    LanguageModel.make({
      streamText: (options) => replyParts(options.prompt, pacing),
      generateText: (options) =>
        Stream.runCollect(replyParts(options.prompt, { firstToken: 0, perToken: 0, jitter: 0 })).pipe(
          Effect.map((parts) => {
            const text = Chunk.toReadonlyArray(parts).flatMap((p) => (p.type === "text-delta" ? [p.delta] : [])).join("")
            const finish = Chunk.toReadonlyArray(parts).filter((p) => p.type === "finish")
            return [{ type: "text", text } as Response.PartEncoded, ...finish]
          })
        )
    })
  )

// -----------------------------------------------------------------------------
// choosing a provider
// -----------------------------------------------------------------------------

/** Which model `fromEnv` picked, for the demo's banner. */
export interface ModelChoice {
  readonly provider: "anthropic" | "openai" | "local"
  readonly model: string
  readonly layer: Layer.Layer<LanguageModel.LanguageModel, unknown>
}

const optionalKey = (name: string) => Config.option(Config.redacted(name)).pipe(Config.map(Option.filter((key) => Redacted.value(key).length > 0)))

const local: ModelChoice = { provider: "local", model: "local-deterministic", layer: localModel() }

/** A hosted provider: its key and URL settings, its default model, and its language-model layer. */
interface Provider {
  readonly provider: "anthropic" | "openai"
  readonly keyVar: string
  readonly urlVar: string
  readonly defaultModel: string
  readonly layer: (
    model: string,
    client: { readonly apiKey: Redacted.Redacted; readonly apiUrl?: string }
  ) => Layer.Layer<LanguageModel.LanguageModel, never, HttpClient.HttpClient>
}

/** In order of preference: the first whose key is set is used. */
const providers: ReadonlyArray<Provider> = [
  {
    provider: "anthropic",
    keyVar: "ANTHROPIC_API_KEY",
    urlVar: "ANTHROPIC_API_URL",
    defaultModel: "claude-sonnet-4-5",
    layer: (model, client) => AnthropicLanguageModel.layer({ model }).pipe(Layer.provide(AnthropicClient.layer(client)))
  },
  {
    provider: "openai",
    keyVar: "OPENAI_API_KEY",
    urlVar: "OPENAI_API_URL",
    defaultModel: "gpt-4o-mini",
    layer: (model, client) => OpenAiLanguageModel.layer({ model }).pipe(Layer.provide(OpenAiClient.layer(client)))
  }
]

/** Picks the provider from the environment (read through Effect's `Config`, so tests can supply it). */
export const fromEnv: Effect.Effect<ModelChoice, never> = Effect.gen(function*() {
  const override = yield* Config.option(Config.string("CHAT_MODEL"))
  for (const provider of providers) {
    const apiKey = yield* optionalKey(provider.keyVar)
    if (Option.isNone(apiKey)) continue
    const model = Option.getOrElse(override, () => provider.defaultModel)
    const apiUrl = Option.getOrUndefined(yield* Config.option(Config.string(provider.urlVar)))
    const layer = provider.layer(model, { apiKey: apiKey.value, ...(apiUrl ? { apiUrl } : {}) }).pipe(
      Layer.provide(FetchHttpClient.layer)
    )
    return { provider: provider.provider, model, layer }
  }
  return local
  // A malformed setting falls back to the local model too: the demo always starts.
}).pipe(Effect.orElseSucceed(() => local))
