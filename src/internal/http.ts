import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Socket from "@effect/platform/Socket"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import type { Predicate } from "effect/Predicate"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import type { IncomingMessage, ServerResponse } from "node:http"
import type * as Store from "../Store.js"
import type { WaitTimeoutError } from "../StoreError.js"
import type * as StoreHttp from "../StoreHttp.js"
import { EventLog, type LogEvent, type Resume } from "./eventLog.js"
import {
  admission,
  answerFailure,
  exactLayout,
  guardDefects,
  internal,
  type Layout,
  notFound,
  originPolicy,
  pathOf,
  refuse,
  routes,
  reducerDefect,
  storeFailure,
  type StoreFailure,
  storeShutDown
} from "./httpGuard.js"
import { decodeAction, parseEventId, parseIdempotencyKey, type Refusal, refusal } from "./httpInput.js"
import { readBody } from "./httpBody.js"
import { Idempotency } from "./idempotency.js"
import { writeRefusal } from "./nodeServer.js"
import { actionTag } from "./runner.js"
import { SocketLimit } from "./socketLimit.js"
import { bytes, SseClient, SseClients, sseHead, sseHeaders, sseResponse } from "./sseClient.js"
import { followLog } from "./sseEvents.js"
import { StateFeed } from "./stateFeed.js"
import { actionTags } from "./tags.js"
import { requirePositiveDuration } from "./validate.js"

const defaults = {
  maxBodyBytes: 64 * 1024,
  maxDepth: 32,
  replay: 1000,
  clientBuffer: 1000,
  heartbeat: Duration.seconds(15),
  retry: Duration.seconds(3),
  maxWait: Duration.seconds(30),
  idempotency: { capacity: 10_000, timeToLive: Duration.minutes(10) }
}

/** The options with their defaults, checked: an invalid number is a `RangeError` when the routes are made. */
const resolve = <S, A, I, SI>(options: StoreHttp.Options<S, A, I, SI>) => {
  const count = (name: string, value: number | undefined, fallback: number, min = 1) => {
    const n = value ?? fallback
    if (!Number.isSafeInteger(n) || n < min) throw new RangeError(`StoreHttp: ${name} must be an integer >= ${min}, got ${String(n)}`)
    return n
  }
  const duration = (name: string, value: Duration.DurationInput | undefined, fallback: Duration.Duration) =>
    value === undefined ? fallback : requirePositiveDuration("StoreHttp", name, value)
  const idempotency = options.idempotency === false ? undefined : {
    capacity: count("idempotency.capacity", options.idempotency?.capacity, defaults.idempotency.capacity),
    timeToLive: duration("idempotency.timeToLive", options.idempotency?.timeToLive, defaults.idempotency.timeToLive)
  }
  const maxWait = duration("maxWait", options.maxWait, defaults.maxWait)
  // A key must outlive the longest wait it can answer, or a retry after it expired would send again.
  if (idempotency !== undefined && Duration.lessThan(idempotency.timeToLive, maxWait)) {
    throw new RangeError("StoreHttp: idempotency.timeToLive must be at least maxWait")
  }
  return {
    maxBodyBytes: count("maxBodyBytes", options.maxBodyBytes, defaults.maxBodyBytes),
    maxDepth: count("maxDepth", options.maxDepth, defaults.maxDepth),
    replay: count("replay", options.replay, defaults.replay, 0),
    clientBuffer: count("clientBuffer", options.clientBuffer, defaults.clientBuffer),
    heartbeat: duration("heartbeat", options.heartbeat, defaults.heartbeat),
    retry: duration("retry", options.retry, defaults.retry),
    maxWait,
    idempotency,
    originAllowed: originPolicy(options.allowedOrigins)
  }
}

/** A `POST /actions` answer as data, so a retry with the same `Idempotency-Key` can be given it again. */
interface Reply {
  readonly status: number
  readonly json: string
}

const reply = (status: number, body: unknown): Reply => ({ status, json: JSON.stringify(body) })
const replyRefusal = (r: Refusal, extra?: Record<string, unknown>): Reply =>
  reply(r.status, { error: r.error, message: r.message, ...extra })
const toResponse = (r: Reply) => HttpServerResponse.text(r.json, { status: r.status, contentType: "application/json" })

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** `?waitFor=TagA,TagB&timeoutMs=5000`: each at most once, the timeout positive. */
const WaitQuery = Schema.Struct({
  waitFor: Schema.optional(Schema.String.pipe(Schema.nonEmptyString())),
  timeoutMs: Schema.optional(Schema.NumberFromString.pipe(Schema.positive()))
})

const invalidQuery = refusal(400, "InvalidQuery", "waitFor must be one comma-separated list of tags, timeoutMs a positive number")
const notJson = refusal(415, "UnsupportedMediaType", "the body must be sent as Content-Type: application/json")
const keyReused = refusal(422, "IdempotencyKeyReused", "this Idempotency-Key was used for a different request")
const badKey = refusal(400, "InvalidHeader", "Idempotency-Key must be 1 to 255 visible ASCII characters")

/** The SSE comment a route sends once it is subscribed. */
const connected = ": connected\n\n"


/**
 * The part of a store the routes use. A `Store` is one; a host gives one per store id, so that a send
 * goes through the host (a `durability: "sync"` host answers once the action is committed).
 *
 * @internal
 */
export interface Target<S, A> {
  readonly send: (action: A) => Effect.Effect<unknown, StoreFailure>
  readonly sendAndWaitFor: (
    action: A,
    predicate: Predicate<A>,
    options: { readonly timeout: Duration.DurationInput }
  ) => Effect.Effect<A, StoreFailure | WaitTimeoutError>
  readonly state: Effect.Effect<S, StoreFailure>
}

/** What the routes serve one store with: where they send, its event log and its `/changes` feed. @internal */
export interface Serving<S, A> {
  readonly target: Target<S, A>
  readonly log: EventLog<A>
  readonly feed: StateFeed<S> | undefined
}

/** A request's store, held (a host keeps it resident) until `release`. @internal */
export interface Held<S, A> {
  readonly serving: Serving<S, A>
  readonly release: () => void
}

/**
 * Where the routes find the store a request names, by `K`: nothing for one store, an id for a host.
 *
 * @internal
 */
export interface Source<K, S, A> {
  readonly layout: Layout<K>
  /** The store `key` names, held: activated first if need be, or the refusal saying why it cannot be had. */
  readonly hold: (key: K) => Effect.Effect<Held<S, A>, Refusal>
  /** The serving state of a source's only store, when it has one: nothing to hold, nothing to wait for. */
  readonly fixed: Serving<S, A> | undefined
  /** Names the store among the router's, for what they share (`Idempotency-Key`s). */
  readonly name: (key: K) => string
}

/**
 * Makes a store's serving state in the current scope; `log` gives its event log an epoch and says when
 * it ended (the store shut down or was passivated).
 *
 * @internal
 */
export type MakeServing<S, A> = (
  store: Store.Store<S, A>,
  target: Target<S, A>,
  log?: { readonly epoch: string; readonly onEnd: () => void }
) => Effect.Effect<Serving<S, A>, never, Scope.Scope>

/** A router's stores: given how to serve one, the source of its requests' stores, in the router's scope. @internal */
export type Sourcing<K, S, A> = (make: MakeServing<S, A>) => Effect.Effect<Source<K, S, A>, never, Scope.Scope>

/** One store, served at the routes' own paths. @internal */
export const oneStore = <S, A>(store: Store.Store<S, A>): Sourcing<void, S, A> => (make) =>
  Effect.map(make(store, store), (serving) => {
    const held: Held<S, A> = { serving, release: () => undefined }
    return { layout: exactLayout, hold: () => Effect.succeed(held), fixed: serving, name: () => "" }
  })

/** @internal */
export const router = <S, A, I, SI>(
  store: Store.Store<S, A>,
  options: StoreHttp.Options<S, A, I, SI>
): Effect.Effect<HttpRouter.HttpRouter, never, Scope.Scope> => routerOf(oneStore(store), options)

/** The routes of `sourcing`'s stores, whose clients are let go when the router's scope closes. @internal */
export const routerOf = <K, S, A, I, SI>(
  sourcing: Sourcing<K, S, A>,
  options: StoreHttp.Options<S, A, I, SI>
): Effect.Effect<HttpRouter.HttpRouter, never, Scope.Scope> => {
  const resolved = resolve(options)
  return Effect.flatMap(Deferred.make<void>(), (closing) =>
    Effect.zipLeft(
      Effect.map(routerEndingOn(sourcing, options, closing, resolved), (served) => served.router),
      // The router's scope closing ends its open client streams too.
      Effect.addFinalizer(() => Deferred.succeed(closing, undefined))
    ))
}

/** The routes, and the direct path for SSE requests on a server the caller owns (see `direct`). @internal */
export interface Served {
  readonly router: HttpRouter.HttpRouter
  readonly direct: (req: IncomingMessage, res: ServerResponse) => boolean
}

/**
 * The routes of `sourcing`'s stores, whose SSE and WebSocket clients are let go once `closing`
 * completes: a server that is closing waits for its open responses, and these would otherwise last as
 * long as the stores.
 *
 * @internal
 */
export const routerEndingOn = <K, S, A, I, SI>(
  sourcing: Sourcing<K, S, A>,
  options: StoreHttp.Options<S, A, I, SI>,
  closing: Deferred.Deferred<void>,
  resolved: ReturnType<typeof resolve> = resolve(options)
): Effect.Effect<Served, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { heartbeat, maxBodyBytes, maxWait } = resolved
    // Failures met outside a request's fiber (the direct path) are logged with the app's logger.
    const runtime = yield* Effect.runtime<never>()
    const encodeAction = Schema.encodeEither(options.actions)
    const wire = (action: A): string =>
      Either.match(encodeAction(action), {
        onLeft: () => JSON.stringify({ _tag: actionTag(action), unencodable: true }),
        onRight: (encoded) => JSON.stringify(encoded)
      })
    // One event reaches every client as the same object: encode it once, not once per client.
    const wireOf = (event: LogEvent<A>): string => event.encoded ??= wire(event.action)
    const encodeState = options.state === undefined ? undefined : stateFrame(Schema.encodeEither(options.state))

    /**
     * A store's serving state. The `/changes` feed is conflated: a client that reads slower than the
     * state changes skips to the newest state instead of falling behind, so every frame is a whole,
     * current snapshot.
     */
    const make: MakeServing<S, A> = (store, target, log) =>
      Effect.gen(function*() {
        return {
          target,
          log: yield* EventLog.make(store, { replay: resolved.replay, epoch: log?.epoch, onEnd: log?.onEnd }),
          feed: encodeState === undefined ? undefined : yield* StateFeed.make(store, encodeState)
        }
      })
    const source = yield* sourcing(make)
    // Shared by every store of the router: a key names its store (see `Source.name`).
    const idempotency = resolved.idempotency && (yield* Idempotency.make<Reply>(resolved.idempotency))

    /** The first bytes of every SSE response: how long a client waits before reconnecting (`retry`). */
    const retryField = `retry: ${Duration.toMillis(resolved.retry)}\n`
    // Every SSE client of these routes shares one heartbeat, and ends when the server closes.
    const clients = new SseClients()
    const beat = bytes(": heartbeat\n\n")
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(heartbeat), Effect.sync(() => clients.beat(beat)))))
    yield* Effect.addFinalizer(() => Effect.sync(() => clients.endAll()))
    yield* Effect.forkScoped(Effect.zipRight(Deferred.await(closing), Effect.sync(() => clients.endAll())))

    /**
     * Runs `f` with the store `key` names, held while it runs; a store that cannot be had is answered
     * with `refused`.
     */
    const using = <X, E, R>(key: K, f: (serving: Serving<S, A>) => Effect.Effect<X, E, R>, refused: (r: Refusal) => X): Effect.Effect<X, E, R> =>
      source.fixed !== undefined
        ? f(source.fixed)
        : Effect.acquireUseRelease(
          Effect.either(source.hold(key)),
          (held) => Either.isLeft(held) ? Effect.succeed(refused(held.left)) : f(held.right.serving),
          (held) => Effect.sync(() => Either.isRight(held) && held.right.release())
        )

    const accepts = options.accepts === undefined ? undefined : new Set<string>(options.accepts)
    const knownTags = actionTags(options.actions.ast)
    const decodeText = decodeAction(options.actions, resolved.maxDepth)
    /** Decodes one action and checks that clients may send it (`accepts`). */
    const decode = (text: string): Either.Either<A, Refusal> =>
      Either.flatMap(decodeText(text), (action) =>
        accepts === undefined || accepts.has(actionTag(action))
          ? Either.right(action)
          : Either.left(refusal(403, "NotAccepted", `clients may not send ${actionTag(action)}; they may send ${[...accepts].join(", ")}`)))

    /**
     * Sends an action a client sent (over POST or WebSocket): its event id (`null` from a store that
     * numbers its actions later), or why it was not reduced.
     */
    const sendDecoded = ({ log, target }: Serving<S, A>, action: A): Effect.Effect<Either.Either<number | string | null, Refusal>> =>
      Effect.flatMap(Effect.either(log.idOfSend(action, target.send(action))), (sent): Effect.Effect<Either.Either<number | string | null, Refusal>> => {
        if (Either.isLeft(sent)) return Effect.map(storeFailure(sent.left), Either.left)
        const [id] = sent.right
        if (id !== undefined) return Effect.succeed(Either.right(log.wireId(id)))
        // No id from a store that numbers actions as it reduces them: the reducer threw on this one.
        return Effect.succeed(log.synchronous ? Either.left(reducerDefect) : Either.right(null))
      })

    const tooLarge = refusal(413, "PayloadTooLarge", `the body is larger than ${maxBodyBytes} bytes`)

    /** The body as text: at most `maxBodyBytes`, strict UTF-8. */
    const readText: Effect.Effect<Either.Either<string, Refusal>, never, HttpServerRequest.HttpServerRequest> = Effect.flatMap(
      HttpServerRequest.HttpServerRequest,
      (request) =>
        Effect.map(readBody(request, maxBodyBytes), (read) =>
          Either.isLeft(read)
            ? Either.left(read.left === "TooLarge" ? tooLarge : refusal(400, "MalformedJson", "the body could not be read"))
            : Either.try({
              try: () => utf8.decode(read.right),
              catch: () => refusal(400, "MalformedJson", "the body is not valid UTF-8")
            }))
    )

    /** Sends the action and, with `waitFor`, waits for the first matching action reduced after it. */
    const accept = (serving: Serving<S, A>, action: A, tags: ReadonlyArray<string> | undefined, timeoutMs: number | undefined): Effect.Effect<Reply> => {
      if (tags === undefined) {
        return Effect.map(sendDecoded(serving, action), Either.match({
          onLeft: (e) => replyRefusal(e),
          onRight: (id) => reply(202, { accepted: true, id })
        }))
      }
      const { log, target } = serving
      const timeout = Duration.min(maxWait, Duration.millis(timeoutMs ?? Duration.toMillis(maxWait)))
      const wait = target.sendAndWaitFor(action, (reduced) => tags.includes(actionTag(reduced)), { timeout })
      return Effect.flatMap(log.idOfSend(action, Effect.either(wait)), ([id, result]): Effect.Effect<Reply> =>
        Either.match(result, {
          onRight: (matched) => Effect.succeed({ status: 200, json: wire(matched) }),
          onLeft: (e) =>
            e._tag === "WaitTimeoutError"
              // The action was accepted: its id lets the client find what it did on /events.
              ? Effect.succeed(replyRefusal(refusal(504, "WaitTimeout", e.message), { id: id === undefined ? null : log.wireId(id) }))
              : Effect.map(storeFailure(e), (r) => replyRefusal(r))
        }))
    }

    const post = (key: K) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        // A browser sends text/plain cross-site without a preflight; requiring JSON makes every cross-site
        // POST go through CORS.
        const contentType = request.headers["content-type"]?.split(";")[0]?.trim().toLowerCase()
        if (contentType !== "application/json") return refuse(notJson)
        const idempotencyKey = parseIdempotencyKey(request.headers["idempotency-key"])
        if (idempotencyKey === "invalid") return refuse(badKey)
        const body = yield* readText
        if (Either.isLeft(body)) return refuse(body.left)
        const decoded = decode(body.right)
        if (Either.isLeft(decoded)) return refuse(decoded.left)
        const query = yield* HttpServerRequest.schemaSearchParams(WaitQuery).pipe(Effect.either)
        // A wait the client asked for and we cannot honour is refused before anything is sent.
        if (Either.isLeft(query)) return refuse(invalidQuery)
        const tags = query.right.waitFor?.split(",")
        // A tag no action has (a typo) would wait out the whole timeout: refuse it now, as nothing was sent.
        const unknown = tags === undefined || knownTags === undefined ? [] : tags.filter((tag) => !knownTags.has(tag))
        if (unknown.length > 0) return refuse(refusal(400, "InvalidQuery", "waitFor names a tag no action has"))
        const run = using(key, (serving) => accept(serving, decoded.right, tags, query.right.timeoutMs), replyRefusal)
        if (idempotencyKey === undefined || idempotency === undefined) return toResponse(yield* run)
        const search = request.url.indexOf("?")
        const fingerprint = `${search < 0 ? "" : request.url.slice(search)}\n${body.right}`
        // The store is held (activated, restored) before the key is claimed, so that a store that cannot
        // be had is answered without the key keeping that answer: a retry tries again. The run holds the
        // store itself, as it goes on if the client gives up.
        const once = () => idempotency.once(`${source.name(key)} ${idempotencyKey}`, fingerprint, run, replyRefusal(keyReused))
        return toResponse(yield* using(key, once, replyRefusal))
      })

    /** An `/events` client's starting point: its `Last-Event-ID` (an empty one is none), or `?lastEventId=`. */
    const resumeOf = (log: EventLog<A>, header: string | undefined, url: string): Resume | Refusal => {
      const text = header !== undefined ? header : new URL(url, "http://local").searchParams.get("lastEventId") ?? undefined
      const id = parseEventId(text, log.epoch !== undefined)
      if (id === "invalid") {
        const what = log.epoch === undefined ? "a decimal event id" : "an event id of these routes (<epoch>-<n>)"
        return refusal(400, header !== undefined ? "InvalidHeader" : "InvalidQuery", `Last-Event-ID must be ${what}`)
      }
      return log.resume(id?.n, id?.epoch)
    }

    /**
     * What an SSE request for `route` opens on a store: a client, subscribed (an `/events` client misses
     * nothing reduced after this returns; a `/changes` client gets the current state first, then the
     * `connected` comment, then newer states), the head only, or a refusal.
     */
    const openStream = (
      route: string,
      { feed, log }: Serving<S, A>,
      head: boolean,
      header: string | undefined,
      url: string
    ): SseClient | Refusal | "head" => {
      if (log.ended) return storeShutDown
      if (route === "/changes") {
        if (head) return "head"
        const client: SseClient = clients.add(new SseClient(1, () => feed!.caughtUp(client)))
        feed!.add(client, retryField, connected)
        return client
      }
      const resume = resumeOf(log, header, url)
      if ("status" in resume) return resume
      return head ? "head" : clients.add(followLog(log, resume, { clientBuffer: resolved.clientBuffer, dataOf: wireOf, head: retryField + connected }))
    }

    /** `GET /events` or `GET /changes` through the platform: a client holds its store until it leaves. */
    const stream = (route: "/events" | "/changes") => (key: K) =>
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
        if (route === "/changes" && encodeState === undefined) return Effect.succeed(unpublished)
        // Uninterruptible once held: a client that left meanwhile must not take the hold with it.
        return Effect.uninterruptible(Effect.map(Effect.either(source.hold(key)), (held) => {
          if (Either.isLeft(held)) return refuse(held.left)
          const opened = openStream(route, held.right.serving, request.method === "HEAD", request.headers["last-event-id"] || undefined, request.url)
          if (!(opened instanceof SseClient)) {
            held.right.release()
            return opened === "head" ? sseHead : refuse(opened)
          }
          if (source.fixed === undefined) opened.once("close", held.right.release)
          return sseResponse(opened)
        }))
      })

    const state = (key: K) =>
      options.state === undefined ? Effect.succeed(unpublished) : using(key, ({ target }) =>
        Effect.flatMap(Effect.either(target.state), (current) =>
          Either.isLeft(current)
            ? Effect.map(storeFailure(current.left), (r) => refuse(r))
            : Schema.encode(options.state!)(current.right).pipe(
              Effect.map((encoded) => HttpServerResponse.unsafeJson(encoded)),
              Effect.orElseSucceed(() => unencodable)
            )), refuse)

    const admit = admission({ originAllowed: resolved.originAllowed, allowedHosts: options.allowedHosts })

    /** Streams `client` into `res`, for the direct path. */
    const pipeTo = (res: ServerResponse, client: SseClient, cors: Record<string, string>): void => {
      res.writeHead(200, { ...sseHeaders, ...cors })
      // The client left (or the connection failed): its stream is destroyed, which unsubscribes it.
      res.once("close", () => client.destroy())
      res.on("error", () => client.destroy())
      client.pipe(res)
    }

    /**
     * `GET /events` and `GET /changes` served straight from Node's request event, with the same checks,
     * for a server that `StoreHttp.layer` (or `layerHost`) owns. Through the platform, each open SSE
     * response keeps a handler fiber, a tracer span and Node's `stream.pipeline` for as long as the client
     * listens (about 30 KB, measured); here it is the client's stream piped into the response (about 4 KB
     * over Node's own). For one store, anything else, including every refusal, is left to the routes
     * (false). A host's store may have to be activated first: once the request passed the synchronous
     * checks, it is answered here, its refusals too.
     */
    const direct = (req: IncomingMessage, res: ServerResponse): boolean => {
      if (req.method !== "GET") return false
      const url = req.url ?? ""
      const location = source.layout.locate(pathOf(url))
      if (location === undefined || Either.isLeft(location.key)) return false
      const { key, route } = location
      if (route !== "/events" && (route !== "/changes" || encodeState === undefined)) return false
      const admitted = admit(req.headers.host, req.headers.origin)
      if ("status" in admitted) return false
      const header = req.headers["last-event-id"]
      if (Array.isArray(header)) return false
      const open = (serving: Serving<S, A>) => openStream(route, serving, false, header || undefined, url) as SseClient | Refusal
      if (source.fixed !== undefined) {
        const client = open(source.fixed)
        if (!(client instanceof SseClient)) return false
        pipeTo(res, client, admitted.cors)
        return true
      }
      let gone = false
      res.once("close", () => void (gone = true))
      const answer = Effect.map(Effect.either(source.hold(key.right)), (held): void => {
        if (Either.isLeft(held)) {
          if (!gone) writeRefusal(res, held.left, admitted.cors)
          return
        }
        // The client left while its store was being activated: nothing to stream to.
        if (gone) return held.right.release()
        const client = open(held.right.serving)
        if (!(client instanceof SseClient)) {
          held.right.release()
          return writeRefusal(res, client, admitted.cors)
        }
        client.once("close", held.right.release)
        pipeTo(res, client, admitted.cors)
      })
      Runtime.runFork(runtime)(guardDefects(
        Effect.uninterruptible(answer),
        Effect.sync(() => void (res.headersSent ? res.destroy() : writeRefusal(res, internalRefusal, admitted.cors)))
      ))
      return true
    }

    const socketOf = ({ log, ...serving }: Serving<S, A>) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const ws = yield* HttpServerRequest.upgrade
        const write = yield* ws.writer
        const frame = (r: Refusal) => Effect.ignore(write(JSON.stringify({ type: "error", error: r.error, message: r.message })))
        // Ends the session with 1001 (going away) when the store shuts down; `closing` (the server) does too.
        const ending = yield* Deferred.make<void>()
        // What the store reduced goes out from the log's delivery itself, as the SSE clients' does: no
        // fiber per socket waits for it (see `SocketOut`).
        const out = new SocketOut<A>(
          yield* Effect.runtime<never>(),
          (event) => write(`{"type":"action","id":${JSON.stringify(log.wireId(event.id))},"action":${wireOf(event)}}`),
          resolved.clientBuffer,
          () => Deferred.unsafeDone(ending, Exit.void)
        )
        yield* log.subscribeScoped({ _tag: "Fresh" }, { deliver: ({ events }) => out.deliver(events), end: () => out.end() })
        // Runs before the subscription ends (finalizers run in reverse): nothing is written after this. On the
        // scope itself: `Effect.addFinalizer` would keep a copy of the fiber's refs per socket to run it with.
        yield* Scope.addFinalizer(yield* Effect.scope, Effect.sync(() => out.close()))
        const limit = new SocketLimit(request, maxBodyBytes, (raw) =>
          Effect.runFork(Effect.ignore(write(new Socket.CloseEvent(1009, "message too big"))).pipe(
            // After the close frame is written: end the connection, so a client that keeps sending cannot hold it.
            Effect.zipRight(Effect.sync(() => raw.end()))
          )))
        const tooLargeMessage = refusal(413, "PayloadTooLarge", `a message is larger than ${maxBodyBytes} bytes`)
        const receive = (data: string | Uint8Array): Effect.Effect<void> => {
          // The limit is in bytes, as for HTTP bodies: a string's length counts UTF-16 units, not bytes.
          if ((typeof data === "string" ? Buffer.byteLength(data) : data.byteLength) > maxBodyBytes) return frame(tooLargeMessage)
          // A binary frame is read as UTF-8 JSON too, but strictly: replacing bad bytes would garble the action.
          // A leading BOM is dropped, as the UTF-8 decoder drops it from bodies and binary frames.
          const text = typeof data === "string" ? Either.right(data.replace(/^\ufeff/, "")) : Either.try(() => utf8.decode(data))
          if (Either.isLeft(text)) return frame(refusal(400, "MalformedJson", "a binary message is not valid UTF-8"))
          return Either.match(decode(text.right), {
            onLeft: frame,
            onRight: (action) => Effect.flatMap(sendDecoded({ log, ...serving }, action), Either.match({ onLeft: frame, onRight: () => Effect.void }))
          })
        }
        const session = ws.runRaw(
          // A defect in one message's handling is logged and answered; the socket and the server go on.
          (data) => guardDefects(Effect.suspend(() => receive(data)), frame(internalFrame)),
          {
            onOpen: Effect.sync(() => {
              limit.attach()
              out.open()
            })
          }
        ).pipe(Effect.catchAll(() => Effect.void))
        const goAway = Effect.raceFirst(Deferred.await(ending), Deferred.await(closing)).pipe(
          Effect.zipRight(Effect.ignore(write(new Socket.CloseEvent(1001, "going away")))),
          // The client has a moment to answer the close; then the session ends anyway.
          Effect.zipRight(Effect.sleep(Duration.seconds(1)))
        )
        yield* Effect.raceFirst(session, goAway)
        return HttpServerResponse.empty()
      }).pipe(Effect.scoped, Effect.catchTag("RequestError", () => Effect.succeed(upgradeRequired)))

    /** `GET /ws`: the socket holds its store for as long as it is open. */
    const socket = (key: K) => using(key, socketOf, refuse)

    const router = routes({
      "/actions": { POST: post },
      "/events": { GET: stream("/events") },
      "/state": { GET: state },
      "/changes": { GET: stream("/changes") },
      "/ws": { GET: socket }
    }, { originAllowed: resolved.originAllowed, allowedHosts: options.allowedHosts }, source.layout)
    return { router, direct }
  })

/**
 * What a WebSocket session writes of the store's events. Each delivery is written at once, by one
 * short-lived fiber (the platform's socket writes through an effect, which is synchronous once the socket
 * is open), instead of being queued for a writer fiber that each socket would keep waiting between
 * events (about 8 KB a socket). Until the socket is open, at most `buffer` events wait (newer ones are
 * dropped while it is that far behind). A write that fails, or the store's end once what came before it
 * is written, calls `ended`.
 *
 * @internal
 */
export class SocketOut<A> {
  private waiting: Array<LogEvent<A>> | undefined = []
  private endWaiting = false
  private closed = false
  /** Writes that did not complete at once (the socket closed under them): interrupted with the session. */
  private stalled: Set<Fiber.RuntimeFiber<void>> | undefined = undefined

  constructor(
    private readonly runtime: Runtime.Runtime<never>,
    private readonly writeEvent: (event: LogEvent<A>) => Effect.Effect<void, Socket.SocketError>,
    private readonly buffer: number,
    private readonly ended: () => void
  ) {}

  deliver(events: ReadonlyArray<LogEvent<A>>): void {
    if (this.closed) return
    const waiting = this.waiting
    if (waiting === undefined) return this.write(events)
    for (const event of events) if (waiting.length < this.buffer) waiting.push(event)
  }

  /** The store shut down: nothing follows the events delivered before. */
  end(): void {
    if (this.waiting === undefined) this.ended()
    else this.endWaiting = true
  }

  /** The socket is open: what waited goes out, in order, then the end if it came meanwhile. */
  open(): void {
    const waiting = this.waiting
    this.waiting = undefined
    if (waiting !== undefined && waiting.length > 0) this.write(waiting)
    if (this.endWaiting) this.ended()
  }

  /** The session is over. */
  close(): void {
    this.closed = true
    if (this.stalled !== undefined) for (const fiber of this.stalled) fiber.unsafeInterruptAsFork(FiberId.none)
  }

  private write(events: ReadonlyArray<LogEvent<A>>): void {
    const fiber = Runtime.runFork(this.runtime)(
      Effect.catchAll(Effect.forEach(events, this.writeEvent, { discard: true }), () => Effect.sync(this.ended))
    )
    if (fiber.unsafePoll() !== null) return
    const stalled = this.stalled ??= new Set()
    stalled.add(fiber)
    fiber.addObserver(() => stalled.delete(fiber))
  }
}

const unpublished = refuse(refusal(404, "NotFound", "this store does not publish its state"))
const unencodable = refuse(refusal(500, "UnencodableState", "the state does not match its schema"))
const upgradeRequired = refuse(refusal(426, "UpgradeRequired", "GET /ws is a WebSocket endpoint: connect with a WebSocket client"))

/** A state's `/changes` frame, or an `error` frame if it does not match its schema. */
const stateFrame = <S>(encode: (state: S) => Either.Either<unknown, unknown>) => (state: S): string =>
  Either.match(encode(state), {
    onLeft: () => `event: error\ndata: ${JSON.stringify({ error: "UnencodableState" })}\n\n`,
    onRight: (encoded) => `event: state\ndata: ${JSON.stringify(encoded)}\n\n`
  })

const internalFrame = refusal(500, "Internal", "the message could not be handled (the server logged why)")
const internalRefusal = refusal(500, "Internal", "the request failed (the server logged why)")

/** Turns unknown routes and uncaught failures into JSON errors; a failure is logged with its cause. @internal */
export const withJsonErrors = <E, R>(router: HttpRouter.HttpRouter<E, R>) =>
  router.pipe(
    HttpRouter.catchAllCause(answerFailure(Effect.succeed(internal))),
    Effect.catchTag("RouteNotFound", () => Effect.succeed(notFound))
  )
