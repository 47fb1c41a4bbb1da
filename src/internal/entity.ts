import * as ClusterSchema from "@effect/cluster/ClusterSchema"
import * as Entity from "@effect/cluster/Entity"
import type * as Sharding from "@effect/cluster/Sharding"
import * as Rpc from "@effect/rpc/Rpc"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import type { Predicate } from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Persistence } from "../Persistence.js"
import type * as Store from "../Store.js"
import { WaitTimeoutError } from "../StoreError.js"
import type * as StoreEntity from "../StoreEntity.js"
import { type HostImpl, make as makeHost, type Position } from "./host.js"
import { overflows } from "./hub.js"
import { requireDuration, requireOneOf, requirePositive } from "./validate.js"

// -------------------------------------------------------------------------------------------------
// errors
// -------------------------------------------------------------------------------------------------

/**
 * What a store's runner answers when the store cannot do what was asked: sent over the cluster, so a
 * Schema; its message names the store and the reason, never the action or the stored data.
 *
 * @internal
 */
export class EntityStoreError extends Schema.TaggedError<EntityStoreError>()("EntityStoreError", {
  entityType: Schema.String,
  id: Schema.String,
  reason: Schema.Literal("RestoreFailed", "PersistenceUnavailable", "ShutDown", "ReducerDefect", "Defect")
}) {
  override get message(): string {
    return `store "${this.entityType}/${this.id}": ${storeReasons[this.reason]}`
  }
}

const storeReasons: Record<EntityStoreError["reason"], string> = {
  RestoreFailed: "its stored state does not restore",
  PersistenceUnavailable: "its persistence is unavailable",
  ShutDown: "its runner is shutting down",
  ReducerDefect: "the reducer threw on the action, so it was not reduced (the runner logged why)",
  Defect: "it failed unexpectedly (the runner logged why)"
}

/**
 * A handler's defects (an `initialState` that throws, say) answered as an `EntityStoreError`, logged:
 * left to the cluster, a defect restarts the entity, again and again, and its runner cannot shut down.
 */
const guarded = (entityType: string, id: string) => {
  const defect = new EntityStoreError({ entityType, id, reason: "Defect" })
  const report = (cause: Cause.Cause<unknown>) => Effect.logError(`store "${entityType}/${id}" failed`, cause)
  return {
    effect: <B>(effect: Effect.Effect<B, EntityStoreError>): Effect.Effect<B, EntityStoreError> =>
      Effect.catchAllDefect(effect, (d) => Effect.zipRight(report(Cause.die(d)), Effect.fail(defect))),
    stream: <B>(stream: Stream.Stream<B, EntityStoreError>): Stream.Stream<B, EntityStoreError> =>
      // Failures and interruptions pass as they are; a cause with a defect in it is reported.
      Stream.catchAllCause(stream, (cause) =>
        Cause.isDie(cause) ? Stream.fromEffect(Effect.zipRight(report(cause), Effect.fail(defect))) : Stream.failCause(cause))
  }
}

/** The host's failures as the runner sends them. */
const toEntityError = (entityType: string, id: string) => (error: { readonly _tag: string }): EntityStoreError =>
  new EntityStoreError({
    entityType,
    id,
    reason: error._tag === "RestoreError" ? "RestoreFailed" : error._tag === "PersistenceError" ? "PersistenceUnavailable" : "ShutDown"
  })

/** @internal */
export class EntityUnreachableError extends Schema.TaggedError<EntityUnreachableError>()("EntityUnreachableError", {
  entityType: Schema.String,
  id: Schema.String,
  reason: Schema.Literal("MailboxFull", "StorageUnavailable", "Timeout", "Moved", "Busy")
}) {
  override get message(): string {
    const what = this.reason === "MailboxFull"
      ? "its mailbox is full"
      : this.reason === "StorageUnavailable"
      ? "the cluster's message storage is unavailable"
      : this.reason === "Timeout"
      ? "no answer in time"
      : this.reason === "Moved"
      ? "it moved to another runner while waiting"
      : "the request is being processed already"
    return `store "${this.entityType}/${this.id}" not reachable: ${what}`
  }
}

// -------------------------------------------------------------------------------------------------
// protocol
// -------------------------------------------------------------------------------------------------

const PositionSchema = Schema.Struct({ epoch: Schema.String, position: Schema.Number })

const SubscribeOptions = Schema.Struct({
  capacity: Schema.optional(Schema.Int.pipe(Schema.positive())),
  overflow: Schema.optional(Schema.Literal(...overflows))
})

/** Most actions a `sendAndWaitFor` watch keeps for its client before it drops the oldest. */
const WATCH_BUFFER = 4096

/** The messages of a store entity: its actions and state in the Schemas given. @internal */
export const protocol = <S, SI, A, AI>(state: Schema.Schema<S, SI>, actions: Schema.Schema<A, AI>) => {
  const failure = EntityStoreError
  return [
    // Stored in the cluster's message storage before it is acknowledged: delivered until answered.
    Rpc.make("Send", { payload: { action: actions }, success: PositionSchema, error: failure })
      .annotate(ClusterSchema.Persisted, true),
    Rpc.make("State", { success: state, error: failure }),
    Rpc.make("Subscribe", {
      payload: { options: SubscribeOptions },
      success: Schema.Union(Schema.TaggedStruct("Subscribed", {}), Schema.TaggedStruct("Action", { action: actions })),
      error: failure,
      stream: true
    }),
    Rpc.make("Changes", { success: state, error: failure, stream: true }),
    Rpc.make("Watch", {
      success: Schema.Union(
        Schema.TaggedStruct("Watching", { epoch: Schema.String, position: Schema.Number }),
        Schema.TaggedStruct("Reduced", { position: Schema.Number, action: actions })
      ),
      error: failure,
      stream: true
    })
  ] as const
}

type Protocol<S, A> = ReturnType<typeof protocol<S, any, A, any>>[number]

/** @internal */
export interface StoreEntityImpl<S, A> extends StoreEntity.StoreEntity<S, A> {
  readonly entity: Entity.Entity<string, Protocol<S, A>>
}

/** @internal */
export const make = <S, SI, A, AI>(
  type: string,
  schemas: { readonly state: Schema.Schema<S, SI>; readonly actions: Schema.Schema<A, AI> }
): StoreEntity.StoreEntity<S, A> => {
  if (typeof type !== "string" || type.length === 0) throw new RangeError("StoreEntity.make: type must be a non-empty string")
  const entity = Entity.make(type, protocol(schemas.state, schemas.actions))
  const impl: StoreEntityImpl<S, A> = { type, state: schemas.state, actions: schemas.actions, entity: entity as any }
  return impl
}

// -------------------------------------------------------------------------------------------------
// the runner's side
// -------------------------------------------------------------------------------------------------

/** How often a store entity looks whether its store runs effects, to keep the entity alive for them. */
const keepAliveCheck = (maxIdleTime: number): Duration.Duration =>
  Duration.millis(Math.max(100, Math.min(maxIdleTime / 2, 30_000)))

/** @internal */
export const layer = <S, A, R, SI, AI>(
  self: StoreEntity.StoreEntity<S, A>,
  options: StoreEntity.Options<S, A, R, SI, AI>
): Layer.Layer<never, never, Sharding.Sharding | Persistence | R> => {
  const { entity, type } = self as StoreEntityImpl<S, A>
  const where = "StoreEntity.layer"
  const maxIdleTime = Duration.toMillis(requireDuration(where, "maxIdleTime", options.maxIdleTime ?? Duration.minutes(1)))
  const releaseTimeout = requireDuration(where, "shutdownTimeout", options.shutdownTimeout ?? Duration.seconds(10))
  if (options.mailboxCapacity !== undefined) requirePositive(where, "mailboxCapacity", options.mailboxCapacity, true)
  // Made here, not when the layer is built: the host's options are checked where this is called.
  const makeStores = makeHost<S, A, R, SI, AI>({
    name: type,
    initialState: options.initialState,
    reducer: options.reducer,
    // The cluster passivates: the host keeps a store until its entity is released.
    idleTimeout: Duration.infinity,
    shutdownTimeout: releaseTimeout,
    subscriberCapacity: options.subscriberCapacity,
    subscriberOverflow: options.subscriberOverflow,
    persistence: { ...options.persistence, state: self.state as Schema.Schema<S, SI>, actions: self.actions as Schema.Schema<A, AI> }
  })
  return Layer.unwrapScoped(Effect.gen(function*() {
    const host = (yield* makeStores) as HostImpl<S, A, R>
    // Completed when this runner begins to stop: its streams to clients end then, so the cluster, which
    // waits for the requests still running before it lets a store go, does not wait its whole
    // `entityTerminationTimeout` for subscriptions that would last as long as the store.
    const stopping = yield* Deferred.make<void>()
    const untilStopping = <B, E>(stream: Stream.Stream<B, E>) => Stream.interruptWhenDeferred(stream, stopping)
    return Layer.scopedDiscard(Effect.addFinalizer(() => Deferred.succeed(stopping, undefined))).pipe(Layer.provideMerge(entity.toLayer(
      Effect.gen(function*() {
        const address = yield* Entity.CurrentAddress
        const id = address.entityId
        const failed = toEntityError(type, id)
        const guard = guarded(type, id)
        const notReduced = new EntityStoreError({ entityType: type, id, reason: "ReducerDefect" })
        // Moved, passivated or shut down: nothing of the store may stay running here.
        yield* Effect.addFinalizer(() => host.release(id, releaseTimeout))
        yield* keepAliveWhileRunning(host, id, keepAliveCheck(maxIdleTime))
        const streamed = <B>(stream: Stream.Stream<B, { readonly _tag: string }>) =>
          guard.stream(untilStopping(Stream.mapError(stream, failed)))
        return entity.of({
          Send: (request: { readonly payload: { readonly action: A }; readonly requestId: bigint }) =>
            guard.effect(Effect.mapError(host.sendOnce(id, request.payload.action, String(request.requestId)), failed).pipe(
              // Not broadcast: the reducer threw (the store logged it), so nothing was reduced or journaled.
              Effect.filterOrFail((sent) => sent.position >= 0, () => notReduced)
            )),
          State: () => guard.effect(Effect.mapError(host.state(id), failed)),
          Subscribe: (request: { readonly payload: { readonly options: typeof SubscribeOptions.Type } }) =>
            streamed(Stream.unwrapScoped(Effect.map(host.subscribe(id, definedOnly(request.payload.options)), (actions) =>
              Stream.concat(
                Stream.succeed({ _tag: "Subscribed" as const }),
                Stream.map(actions, (action) => ({ _tag: "Action" as const, action }))
              )))),
          Changes: () => streamed(host.changes(id)),
          Watch: () => streamed(watch(host, id))
        } as any)
      }) as any,
      {
        maxIdleTime: Duration.millis(maxIdleTime),
        // Subscriptions are requests that last: one at a time would hold every send behind them.
        concurrency: "unbounded",
        mailboxCapacity: options.mailboxCapacity
      }
    ) as unknown as Layer.Layer<never, never, Sharding.Sharding>))
  })) as Layer.Layer<never, never, Sharding.Sharding | Persistence | R>
}

/** Subscribe options without the keys a Schema decoded as absent. */
const definedOnly = (options: typeof SubscribeOptions.Type): Store.SubscribeOptions => ({
  ...(options.capacity === undefined ? {} : { capacity: options.capacity }),
  ...(options.overflow === undefined ? {} : { overflow: options.overflow })
})

/**
 * Keeps the entity alive while its store runs effects (a model's reply streaming in, say), which the
 * cluster cannot see: it would passivate an entity no message reached for `maxIdleTime`. The cluster's
 * keep-alive is a persisted message, so a store whose runner dies mid-effect is activated again on
 * another one, where its `restored` action restarts what it was doing.
 */
const keepAliveWhileRunning = <S, A, R>(host: HostImpl<S, A, R>, id: string, every: Duration.Duration) => {
  let alive = false
  const check = Effect.suspend(() => {
    const running = host.runningEffects(id) > 0
    if (running === alive) return Effect.void
    alive = running
    return Entity.keepAlive(running)
  })
  return Effect.forkScoped(Effect.repeat(check, Schedule.spaced(every)))
}

/**
 * Every action the store reduces from now on, with its position, after a first `Watching` with the
 * current one: what a client's `sendAndWaitFor` compares its send's position with.
 */
const watch = <S, A, R>(host: HostImpl<S, A, R>, id: string) =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const store = yield* host.lease(id)
    return Stream.asyncPush<{ readonly _tag: "Watching"; readonly epoch: string; readonly position: number } | {
      readonly _tag: "Reduced"
      readonly position: number
      readonly action: A
    }>((emit) =>
      Effect.gen(function*() {
        const at = host.positionOf(id)!
        emit.single({ _tag: "Watching", epoch: at.epoch, position: at.position })
        yield* store.actions.listen(
          (action) => emit.single({ _tag: "Reduced", position: host.positionOf(id)?.position ?? -1, action }),
          () => emit.end()
        )
      }), { bufferSize: WATCH_BUFFER, strategy: "sliding" })
  }))

// -------------------------------------------------------------------------------------------------
// the client's side
// -------------------------------------------------------------------------------------------------

type ClientError = EntityStoreError | EntityUnreachableError

/** The cluster client's own failures, as this library's. */
const fromCluster = (entityType: string, id: string) => (error: { readonly _tag: string }): ClientError => {
  if (error._tag === "EntityStoreError") return error as EntityStoreError
  const reason = error._tag === "MailboxFull"
    ? "MailboxFull"
    : error._tag === "AlreadyProcessingMessage"
    ? "Busy"
    : "StorageUnavailable"
  return new EntityUnreachableError({ entityType, id, reason })
}

/** @internal */
export const client = <S, A>(
  self: StoreEntity.StoreEntity<S, A>,
  options?: StoreEntity.ClientOptions
): Effect.Effect<(id: string) => StoreEntity.Client<S, A>, never, Sharding.Sharding> => {
  const { entity, type } = self as StoreEntityImpl<S, A>
  const timeout = requireDuration("StoreEntity.client", "timeout", options?.timeout ?? Duration.seconds(30))
  const reconnect = options?.reconnect ?? Schedule.exponential("100 millis", 2).pipe(
    Schedule.either(Schedule.spaced("5 seconds")),
    Schedule.intersect(Schedule.recurs(20))
  )
  return Effect.map(entity.client, (make) => (id: string): StoreEntity.Client<S, A> => {
    // The cluster's entity ids are trimmed: one with spaces around it would fail every send as malformed.
    if (typeof id !== "string" || id.length === 0 || id.length > 512 || id.trim() !== id) {
      throw new RangeError(
        "StoreEntity.client: a store id must be a non-empty string of at most 512 characters, without spaces around it"
      )
    }
    const rpc = make(id) as any
    const wrap = fromCluster(type, id)
    const timedOut = () => new EntityUnreachableError({ entityType: type, id, reason: "Timeout" })
    const call = <B>(effect: Effect.Effect<B, any>): Effect.Effect<B, ClientError> =>
      effect.pipe(Effect.mapError(wrap), Effect.timeoutFail({ duration: timeout, onTimeout: timedOut }))
    /** A stream that, cut off by the runner going away, is opened again where the store is now. */
    const lasting = <B>(open: () => Stream.Stream<B, any>): Stream.Stream<B, ClientError> =>
      Stream.suspend(open).pipe(Stream.mapError(wrap), Stream.retry(Schedule.whileInput(reconnect, isLost)))
    // An action the Schema cannot encode is a bug the types let through (a cast): a defect, as for a
    // local store, but one that names the store, not the action (the ParseError quotes it).
    const unencodable = new TypeError(`store "${type}/${id}": the action does not encode with the entity's action Schema`)
    const send = (action: A) =>
      call(rpc.Send({ action }) as Effect.Effect<Position, any>).pipe(
        Effect.catchSomeDefect((defect) => ParseResult.isParseError(defect) ? Option.some(Effect.die(unencodable)) : Option.none())
      )
    return {
      id,
      send: (action) => Effect.asVoid(send(action)),
      state: call(rpc.State() as Effect.Effect<S, any>),
      changes: lasting(() => rpc.Changes() as Stream.Stream<S, any>),
      subscribe: (subscribeOptions) => {
        // Checked where called, as `Store.subscribe` does.
        if (subscribeOptions?.capacity !== undefined) requirePositive("StoreEntity client subscribe", "capacity", subscribeOptions.capacity, true)
        if (subscribeOptions?.overflow !== undefined) requireOneOf("StoreEntity client subscribe", "overflow", subscribeOptions.overflow, overflows)
        return Effect.map(
          opened(() => rpc.Subscribe({ options: subscribeOptions ?? {} }) as Stream.Stream<SubscribeEvent<A>, any>, "Subscribed", wrap, timeout, timedOut),
          ({ closed, rest }) =>
            Stream.filterMap(
              Stream.concat(rest, lasting(() => Stream.drop(rpc.Subscribe({ options: subscribeOptions ?? {} }), 1))),
              (event: SubscribeEvent<A>) => event._tag === "Action" ? Option.some(event.action) : Option.none()
            ).pipe(Stream.interruptWhenDeferred(closed))
        )
      },
      // One implementation for both overloads: a refinement is a predicate.
      sendAndWaitFor: ((action: A, predicate: Predicate<A>, waitOptions: { readonly timeout: Duration.DurationInput }) =>
        sendAndWaitFor(rpc, send, action, predicate, { ...waitOptions, type, id, wrap, timedOut, connect: timeout })) as StoreEntity.Client<
          S,
          A
        >["sendAndWaitFor"]
    }
  })
}

type SubscribeEvent<A> = { readonly _tag: "Subscribed" } | { readonly _tag: "Action"; readonly action: A }
type WatchEvent<A> = { readonly _tag: "Watching"; readonly epoch: string; readonly position: number } | {
  readonly _tag: "Reduced"
  readonly position: number
  readonly action: A
}

/** Whether a stream's failure is its runner going away (worth opening it again), not the store's answer. */
const isLost = (error: ClientError): boolean => error._tag === "EntityUnreachableError"

/**
 * Opens a stream in the current scope and waits (within `timeout`) for its first element, the server's
 * word that it is listening: only then is an action sent after it sure to be seen.
 */
const opened = <E extends { readonly _tag: string }>(
  open: () => Stream.Stream<E, any>,
  first: string,
  wrap: (error: any) => ClientError,
  timeout: Duration.Duration,
  timedOut: () => EntityUnreachableError
): Effect.Effect<
  { readonly head: E; readonly rest: Stream.Stream<E, ClientError>; readonly closed: Deferred.Deferred<void> },
  ClientError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const pull = yield* Stream.toPull(Stream.mapError(Stream.suspend(open), wrap))
    const next = Effect.catchAll(pull, Option.match({ onNone: () => Effect.succeed(Chunk.empty<E>()), onSome: Effect.fail }))
    const chunk = yield* next.pipe(Effect.timeoutFail({ duration: timeout, onTimeout: timedOut }))
    if (Chunk.isEmpty(chunk)) return yield* Effect.die(new Error("the store's stream ended before it started"))
    const head = Chunk.unsafeHead(chunk)
    if (head._tag !== first) return yield* Effect.die(new Error(`expected ${first} first`))
    // The pull belongs to this scope: once it closes, the stream ends (as a local subscription's does)
    // instead of pulling from a closed one, which would wait forever.
    const closed = yield* Deferred.make<void>()
    yield* Effect.addFinalizer(() => Deferred.succeed(closed, undefined))
    const rest = Stream.concat(Stream.fromChunk(Chunk.drop(chunk, 1)), Stream.repeatEffectChunkOption(pull))
    return { head, rest, closed }
  })

const sendAndWaitFor = <A>(
  rpc: any,
  send: (action: A) => Effect.Effect<Position, ClientError>,
  action: A,
  predicate: Predicate<A>,
  options: {
    readonly timeout: Duration.DurationInput
    readonly type: string
    readonly id: string
    readonly wrap: (error: any) => ClientError
    readonly timedOut: () => EntityUnreachableError
    readonly connect: Duration.Duration
  }
): Effect.Effect<A, ClientError | WaitTimeoutError> => {
  requireDuration("StoreEntity.client sendAndWaitFor", "timeout", options.timeout)
  return Effect.scoped(Effect.gen(function*() {
    const { head, rest } = yield* opened(() => rpc.Watch() as Stream.Stream<WatchEvent<A>, any>, "Watching", options.wrap, options.connect, options.timedOut)
    const watching = head as Extract<WatchEvent<A>, { _tag: "Watching" }>
    // Read while the send is under way, so the runner's buffer never fills waiting for it.
    const events = yield* Stream.toPull(Stream.buffer(rest, { capacity: "unbounded" }))
    const sent = yield* send(action)
    if (sent.epoch !== watching.epoch) {
      return yield* new EntityUnreachableError({ entityType: options.type, id: options.id, reason: "Moved" })
    }
    const match = Effect.gen(function*() {
      while (true) {
        const chunk = yield* Effect.catchAll(events, Option.match({
          onNone: () => Effect.fail(new EntityUnreachableError({ entityType: options.type, id: options.id, reason: "Moved" })),
          onSome: (error: ClientError) => Effect.fail(error)
        }))
        for (const event of chunk) {
          if (event._tag === "Reduced" && event.position > sent.position && predicate(event.action)) return event.action
        }
      }
    })
    return yield* match.pipe(Effect.timeoutFail({
      duration: options.timeout,
      onTimeout: () => new WaitTimeoutError({ label: `${options.type}/${options.id}`, action, timeout: options.timeout })
    }))
  }))
}
