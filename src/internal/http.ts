import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Store from "../Store.js"
import type * as StoreHttp from "../StoreHttp.js"
import { EventLog, type LogEvent } from "./eventLog.js"
import { actionTag } from "./runner.js"
import { actionTags } from "./tags.js"

const defaults = {
  maxBodyBytes: 64 * 1024,
  replay: 1000,
  clientBuffer: 1000,
  heartbeat: Duration.seconds(15),
  maxWait: Duration.seconds(30)
}

/** The JSON error body of every refusal. */
const refuse = (status: number, error: StoreHttp.ErrorCode, message: string) =>
  HttpServerResponse.unsafeJson({ error, message }, { status })

interface Refusal {
  readonly error: StoreHttp.ErrorCode
  readonly message: string
}

/** Parses and decodes one action from JSON text; the reducer never sees what fails here. */
const decodeAction = <A, I>(schema: Schema.Schema<A, I>, text: string): Either.Either<A, Refusal> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    return Either.left({ error: "MalformedJson", message: `the body is not JSON: ${(cause as Error).message}` })
  }
  return Either.mapLeft(
    Schema.decodeUnknownEither(schema)(json),
    (issue): Refusal => ({ error: "InvalidAction", message: ParseResult.TreeFormatter.formatErrorSync(issue) })
  )
}

const encoder = new TextEncoder()
const utf8 = new TextDecoder("utf-8", { fatal: true })

/** Past this many bytes an oversized body is no longer read and discarded: the connection is dropped. */
const DISCARD_LIMIT = 16 * 1024 * 1024

/** `?waitFor=TagA,TagB&timeoutMs=5000`: each at most once, the timeout positive. */
const WaitQuery = Schema.Struct({
  waitFor: Schema.optional(Schema.String.pipe(Schema.nonEmptyString())),
  timeoutMs: Schema.optional(Schema.NumberFromString.pipe(Schema.positive()))
})

/** What a client is told when the reducer threw on its action. */
const reducerDefect = "the reducer threw on this action, so it was not reduced (the store logged why)"

/** The SSE comment a route sends once it is subscribed. */
const connected = ": connected\n\n"

/** @internal */
export const router = <S, A, I, SI>(
  store: Store.Store<S, A>,
  options: StoreHttp.Options<S, A, I, SI>
): Effect.Effect<HttpRouter.HttpRouter, never, Scope.Scope> =>
  Effect.flatMap(Deferred.make<void>(), (closing) =>
    Effect.zipLeft(
      routerEndingOn(store, options, closing),
      // The router's scope closing ends its open client streams too.
      Effect.addFinalizer(() => Deferred.succeed(closing, undefined))
    ))

/**
 * The routes, whose SSE and WebSocket clients are let go once `closing` completes: a server that is
 * closing waits for its open responses, and these would otherwise last as long as the store.
 *
 * @internal
 */
export const routerEndingOn = <S, A, I, SI>(
  store: Store.Store<S, A>,
  options: StoreHttp.Options<S, A, I, SI>,
  closing: Deferred.Deferred<void>
): Effect.Effect<HttpRouter.HttpRouter, never, Scope.Scope> =>
  Effect.gen(function*() {
    const maxBodyBytes = options.maxBodyBytes ?? defaults.maxBodyBytes
    const heartbeat = options.heartbeat ?? defaults.heartbeat
    const maxWait = Duration.decode(options.maxWait ?? defaults.maxWait)
    const log = yield* EventLog.make(store, {
      replay: options.replay ?? defaults.replay,
      clientBuffer: options.clientBuffer ?? defaults.clientBuffer
    })
    const encodeAction = Schema.encodeEither(options.actions)
    const wire = (action: A): string =>
      Either.match(encodeAction(action), {
        onLeft: () => JSON.stringify({ _tag: actionTag(action), unencodable: true }),
        onRight: (encoded) => JSON.stringify(encoded)
      })
    // One event reaches every client as the same object: encode it once, not once per client.
    const wireOf = (event: LogEvent<A>): string => event.encoded ??= wire(event.action)

    /**
     * An SSE response: the frames, with heartbeat comments between. Each route sends the `connected`
     * comment once its subscription exists, so a client that has seen it misses nothing after it.
     */
    const sse = <E>(frames: Stream.Stream<string, E>) => {
      const beats = Stream.tick(heartbeat).pipe(Stream.drop(1), Stream.as(": heartbeat\n\n"))
      const body = Stream.merge(frames, beats, { haltStrategy: "left" }).pipe(Stream.interruptWhen(Deferred.await(closing)))
      return HttpServerResponse.stream(Stream.map(body, (text) => encoder.encode(text)), {
        contentType: "text/event-stream",
        headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
      })
    }

    const accepts = options.accepts === undefined ? undefined : new Set<string>(options.accepts)
    const knownTags = actionTags(options.actions.ast)
    /** Decodes one action and checks that clients may send it (`accepts`). */
    const decode = (text: string): Either.Either<A, Refusal & { readonly status: number }> =>
      Either.flatMap(
        Either.mapLeft(decodeAction(options.actions, text), (e) => ({ status: 400, ...e })),
        (action) =>
          accepts === undefined || accepts.has(actionTag(action))
            ? Either.right(action)
            : Either.left({
              status: 403,
              error: "NotAccepted" as const,
              message: `clients may not send ${actionTag(action)}; they may send ${[...accepts].join(", ")}`
            })
      )

    /**
     * Sends an action a client sent (over POST or WebSocket): its event id (`null` from a store that
     * numbers its actions later), or why it was not reduced.
     */
    const sendDecoded = (action: A): Effect.Effect<Either.Either<number | null, Refusal & { readonly status: number }>> =>
      Effect.map(Effect.either(log.idOfSend(action, store.send(action))), (sent) => {
        if (Either.isLeft(sent)) return Either.left({ status: 503, error: "StoreShutdown" as const, message: sent.left.message })
        if (sent.right !== undefined) return Either.right(sent.right)
        // No id from a store that numbers actions as it reduces them: the reducer threw on this one.
        return log.synchronous
          ? Either.left({ status: 500, error: "ReducerDefect" as const, message: reducerDefect })
          : Either.right(null)
      })

    /** Reads the body with its size bounded, then decodes it. */
    const tooLarge = { status: 413, error: "PayloadTooLarge" as const, message: `the body is larger than ${maxBodyBytes} bytes` }

    /**
     * Reads the body counting raw bytes, then decodes it. An oversized body is read to its end (up to a
     * hard cap) and discarded, so the client gets its 413 instead of a dropped connection.
     */
    const readAction: Effect.Effect<
      Either.Either<A, Refusal & { readonly status: number }>,
      never,
      HttpServerRequest.HttpServerRequest
    > = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const declared = Number(request.headers["content-length"] ?? Number.NaN)
      if (declared > maxBodyBytes) return Either.left(tooLarge)
      const chunks: Array<Uint8Array> = []
      let size = 0
      const read = yield* Stream.runForEachWhile(request.stream, (chunk) =>
        Effect.sync(() => {
          size += chunk.byteLength
          if (size <= maxBodyBytes) chunks.push(chunk)
          return size <= Math.max(maxBodyBytes, DISCARD_LIMIT)
        })).pipe(Effect.either)
      if (Either.isLeft(read)) {
        return Either.left({ status: 400, error: "MalformedJson" as const, message: "the body could not be read" })
      }
      if (size > maxBodyBytes) return Either.left(tooLarge)
      let text: string
      try {
        text = utf8.decode(Buffer.concat(chunks))
      } catch {
        return Either.left({ status: 400, error: "MalformedJson" as const, message: "the body is not valid UTF-8" })
      }
      return decode(text)
    })

    const post = Effect.gen(function*() {
      const decoded = yield* readAction
      if (Either.isLeft(decoded)) return refuse(decoded.left.status, decoded.left.error, decoded.left.message)
      const action = decoded.right
      const query = yield* HttpServerRequest.schemaSearchParams(WaitQuery).pipe(Effect.either)
      // A wait the client asked for and we cannot honour is refused before anything is sent.
      if (Either.isLeft(query)) {
        return refuse(400, "InvalidQuery", "waitFor must be one comma-separated list of tags, timeoutMs a positive number")
      }
      const params = query.right
      if (params.waitFor !== undefined) {
        const tags = params.waitFor.split(",")
        // A tag no action has (a typo) would wait out the whole timeout: refuse it now, as nothing was sent.
        const unknown = knownTags === undefined ? [] : tags.filter((tag) => !knownTags.has(tag))
        if (unknown.length > 0) return refuse(400, "InvalidQuery", `waitFor names no action's tag: ${unknown.join(", ")}`)
        const timeout = Duration.min(maxWait, Duration.millis(params.timeoutMs ?? Duration.toMillis(maxWait)))
        return yield* store.sendAndWaitFor(action, (reduced) => tags.includes(actionTag(reduced)), { timeout }).pipe(
          Effect.map((reply) => HttpServerResponse.text(wire(reply), { contentType: "application/json" })),
          Effect.catchTags({
            WaitTimeoutError: (e) => Effect.succeed(refuse(504, "WaitTimeout", e.message)),
            StoreShutdownError: (e) => Effect.succeed(refuse(503, "StoreShutdown", e.message))
          })
        )
      }
      // Accepted: answer with the action's event id, the one SSE clients see it under.
      return Either.match(yield* sendDecoded(action), {
        onLeft: (e) => refuse(e.status, e.error, e.message),
        onRight: (id) => HttpServerResponse.unsafeJson({ accepted: true, id }, { status: 202 })
      })
    })

    const events = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const query = new URL(request.url, "http://local").searchParams
      const resume = log.resume(parseId(request.headers["last-event-id"] ?? query.get("lastEventId") ?? undefined))
      const body = Stream.unwrapScoped(Effect.map(log.subscribe(resume), (items) => {
        let expected = resume._tag === "Replay" ? resume.after + 1 : undefined
        const frames = Stream.map(items, (event: LogEvent<A>) => {
          // A gap: events older than the replay buffer, or dropped because this client was too slow.
          const gap = expected !== undefined && event.id > expected
            ? `event: gap\ndata: ${JSON.stringify({ from: expected, to: event.id - 1 })}\n\n`
            : ""
          expected = event.id + 1
          return `${gap}id: ${event.id}\nevent: action\ndata: ${wireOf(event)}\n\n`
        })
        // An id this log never gave (it restarted): say so, so the client can reload its state.
        const reset = resume._tag === "Unknown"
          ? `event: reset\ndata: ${JSON.stringify({ latest: resume.latest })}\n\n`
          : ""
        return Stream.concat(Stream.succeed(connected + reset), frames)
      }))
      return sse(body)
    })

    const unpublished = refuse(404, "NotFound", "this store does not publish its state")
    const unencodable = refuse(500, "UnencodableState", "the state does not match its schema")

    const state = Effect.gen(function*() {
      if (options.state === undefined) return unpublished
      const current = yield* store.state
      return yield* Schema.encode(options.state)(current).pipe(
        Effect.map((encoded) => HttpServerResponse.unsafeJson(encoded)),
        Effect.orElseSucceed(() => unencodable)
      )
    })

    /**
     * The state as Server-Sent Events: the current state, then every new one. Conflated: a client that
     * reads slower than the state changes skips to the newest state instead of falling behind, so every
     * frame is a whole, current snapshot.
     */
    const changes = Effect.sync(() => {
      if (options.state === undefined) return unpublished
      const encode = Schema.encodeEither(options.state)
      const frames = store.changes.pipe(
        Stream.buffer({ capacity: 1, strategy: "sliding" }),
        Stream.map((current) =>
          Either.match(encode(current), {
            onLeft: () => `event: error\ndata: ${JSON.stringify({ error: "UnencodableState" })}\n\n`,
            onRight: (encoded) => `event: state\ndata: ${JSON.stringify(encoded)}\n\n`
          })
        ),
        // `changes` subscribes lazily; its first frame (the current state) proves the subscription.
        Stream.mapAccum(false, (announced, frame) => [true, announced ? frame : frame + connected])
      )
      return sse(frames)
    })

    const socket = Effect.gen(function*() {
      const ws = yield* HttpServerRequest.upgrade
      const write = yield* ws.writer
      const frame = (body: unknown) => write(JSON.stringify(body))
      const outgoing = yield* log.subscribe({ _tag: "Fresh" })
      yield* Stream.runForEach(outgoing, (event) => write(`{"type":"action","id":${event.id},"action":${wireOf(event)}}`)).pipe(
        Effect.ignore,
        Effect.forkScoped
      )
      yield* ws.runRaw((data): Effect.Effect<void, never> => {
        // The limit is in bytes, as for HTTP bodies: a string's length counts UTF-16 units, not bytes.
        if ((typeof data === "string" ? Buffer.byteLength(data) : data.byteLength) > maxBodyBytes) {
          return Effect.ignore(frame({ type: "error", error: "PayloadTooLarge", message: `a message is larger than ${maxBodyBytes} bytes` }))
        }
        // A binary frame is read as UTF-8 JSON too, but strictly: replacing bad bytes would garble the action.
        const text = typeof data === "string" ? Either.right(data) : Either.try(() => utf8.decode(data))
        if (Either.isLeft(text)) {
          return Effect.ignore(frame({ type: "error", error: "MalformedJson", message: "a binary message is not valid UTF-8" }))
        }
        return Either.match(decode(text.right), {
          onLeft: (e) => frame({ type: "error", error: e.error, message: e.message }),
          onRight: (action) =>
            Effect.flatMap(sendDecoded(action), Either.match({
              onLeft: (e) => frame({ type: "error", error: e.error, message: e.message }),
              onRight: () => Effect.void
            }))
        }).pipe(Effect.ignore)
      }).pipe(Effect.catchAll(() => Effect.void), Effect.raceFirst(Deferred.await(closing)))
      return HttpServerResponse.empty()
    }).pipe(Effect.scoped)

    return HttpRouter.empty.pipe(
      HttpRouter.post("/actions", Effect.catchAll(post, () => Effect.succeed(refuse(400, "MalformedJson", "the request could not be read")))),
      HttpRouter.get("/events", events),
      HttpRouter.get("/state", state),
      HttpRouter.get("/changes", changes),
      HttpRouter.get("/ws", Effect.catchAll(socket, () => Effect.succeed(refuse(426, "UpgradeRequired", "GET /ws is a WebSocket endpoint: connect with a WebSocket client"))))
    )
  })

const parseId = (header: string | undefined): number | undefined => {
  if (header === undefined) return undefined
  const id = Number(header)
  return Number.isInteger(id) && id >= 0 ? id : undefined
}

/** Turns unknown routes and uncaught failures into JSON errors. @internal */
export const withJsonErrors = <E, R>(router: HttpRouter.HttpRouter<E, R>) =>
  router.pipe(
    HttpRouter.catchAllCause(() => Effect.succeed(refuse(500, "Internal", "the request failed"))),
    Effect.catchTag("RouteNotFound", (e) => Effect.succeed(refuse(404, "NotFound", `no route for ${e.request.method} ${e.request.url}`)))
  )
