/**
 * Keyed stores as `@effect/cluster` entities: one store per id, living on whichever runner owns the id's
 * shard, moved when runners come and go, reached from any runner by a client with a store's surface.
 *
 * Each runner keeps its stores in a `StoreHost` persisted through `Persistence`: an entity activated on a
 * runner restores its store from the journal and snapshot, and the cluster passivating, moving or shutting
 * it down releases it (its effects stop, its last snapshot is written). Sends are persisted messages: the
 * cluster stores each in its message storage before acknowledging it and delivers it until answered, and
 * the store journals each with the message's id, so one delivered again after a crash is reduced once.
 *
 * It is on its own entry point, `composable-effect/cluster` (it needs `@effect/cluster` and
 * `@effect/rpc`): `import { StoreEntity } from "composable-effect/cluster"`.
 *
 * @since 0.2.0
 */
import type * as Sharding from "@effect/cluster/Sharding"
import type * as HttpRouter from "@effect/platform/HttpRouter"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type { Predicate, Refinement } from "effect/Predicate"
import type * as Schedule from "effect/Schedule"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/entity.js"
import * as entityHttp from "./internal/entityHttp.js"
import type { Persistence } from "./Persistence.js"
import type * as Store from "./Store.js"
import type { WaitTimeoutError } from "./StoreError.js"
import type * as StoreHost from "./StoreHost.js"
import type * as StoreHttp from "./StoreHttp.js"

// -------------------------------------------------------------------------------------------------
// models
// -------------------------------------------------------------------------------------------------

/**
 * A store declared as an entity type: its name and the Schemas its actions and state cross the cluster
 * in. Made once and shared by the runners (`layer`) and the clients (`client`).
 *
 * @example
 * ```ts
 * import { StoreEntity } from "composable-effect/cluster"
 * import { Schema } from "effect"
 *
 * const Counter: StoreEntity.StoreEntity<number, { readonly _tag: "Add"; readonly n: number }> = StoreEntity.make("Counter", {
 *   state: Schema.Number,
 *   actions: Schema.TaggedStruct("Add", { n: Schema.Number })
 * })
 * ```
 * @since 0.2.0
 * @category models
 */
export interface StoreEntity<S, A> {
  /** The entity type: the cluster's name for these stores, and their host name in `Persistence`. */
  readonly type: string
  readonly state: Schema.Schema<S, any>
  readonly actions: Schema.Schema<A, any>
}

/**
 * How a runner runs the stores of an entity type: a `StoreHost`'s options, with the cluster deciding
 * residency.
 *
 * - `maxIdleTime`: an entity no message reached for this long, whose store runs no effect, is passivated
 *   (default 1 minute; the cluster looks every `maxIdleTime`, at least 5 seconds apart, so a shorter one
 *   passivates after 5 to 10 seconds). A store with effects running is kept alive by the cluster's keep-alive, which is
 *   itself persisted: if its runner dies, the store is activated again elsewhere and its `restored`
 *   action reduced.
 * - `shutdownTimeout`: how long a released store's effects get to end (default 10 seconds).
 * - `mailboxCapacity`: most requests queued for one store (the cluster's default 4,096).
 * - `persistence`: as for a host, without `durability`: a send is answered only once committed.
 *
 * @example
 * ```ts
 * import { Reducer } from "composable-effect"
 * import type { StoreEntity } from "composable-effect/cluster"
 * import { Schema } from "effect"
 *
 * const options: StoreEntity.Options<number, "inc", never, number, "inc"> = {
 *   initialState: () => 0,
 *   reducer: Reducer.fromState((n: number, _: "inc") => n + 1),
 *   maxIdleTime: "5 minutes",
 *   persistence: { journal: "all" }
 * }
 * ```
 * @since 0.2.0
 * @category models
 */
export interface Options<S, A, R, SI, AI> {
  readonly initialState: (id: string) => NoInfer<S>
  readonly reducer: StoreHost.Options<S, A, R>["reducer"]
  readonly maxIdleTime?: Duration.DurationInput | undefined
  readonly shutdownTimeout?: Duration.DurationInput | undefined
  readonly mailboxCapacity?: number | undefined
  readonly subscriberCapacity?: number | undefined
  readonly subscriberOverflow?: Store.Overflow | undefined
  readonly persistence?: Omit<StoreHost.PersistenceOptions<S, A, SI, AI>, "state" | "actions" | "durability"> | undefined
}

/**
 * How a client reaches stores: `timeout` bounds every request and the opening of every stream (default
 * 30 seconds); `reconnect` is how often and how long a `subscribe` or `changes` stream cut off by its
 * runner going away is opened again, where the store is then (default: backing off from 100 ms to 5 s,
 * 20 times).
 *
 * @example
 * ```ts
 * import type { StoreEntity } from "composable-effect/cluster"
 * import { Schedule } from "effect"
 *
 * const options: StoreEntity.ClientOptions = { timeout: "5 seconds", reconnect: Schedule.spaced("1 second") }
 * ```
 * @since 0.2.0
 * @category models
 */
export interface ClientOptions {
  readonly timeout?: Duration.DurationInput | undefined
  readonly reconnect?: Schedule.Schedule<unknown, ClientError> | undefined
}

/**
 * What a client's requests fail with: the store's runner could not do it (`EntityStoreError`), or the
 * store could not be reached (`EntityUnreachableError`).
 *
 * @example
 * ```ts
 * import type { StoreEntity } from "composable-effect/cluster"
 *
 * const retryable = (error: StoreEntity.ClientError): boolean => error._tag === "EntityUnreachableError"
 * ```
 * @since 0.2.0
 * @category models
 */
export type ClientError = EntityStoreError | EntityUnreachableError

/**
 * One store, wherever it runs: the surface of a local store, over the cluster.
 *
 * - `send` succeeds once the action is reduced and journaled; it is reduced once, even if the request is
 *   delivered again after a crash. A `Timeout` leaves it unknown whether it was: it may still be.
 * - `subscribe` is listening once its effect succeeds: what is sent after is seen. If its runner goes
 *   away, it is opened again where the store is then (actions reduced meanwhile are not replayed).
 * - `changes` gives the state now, then each change; after a reconnect, the state then.
 *
 * @example
 * ```ts
 * import { Persistence } from "composable-effect"
 * import { StoreEntity } from "composable-effect/cluster"
 * import { Effect, Schema } from "effect"
 *
 * const Counter = StoreEntity.make("Counter", { state: Schema.Number, actions: Persistence.persisted(Schema.Literal("inc")) })
 * const program = Effect.gen(function*() {
 *   const counters = yield* StoreEntity.client(Counter)
 *   const counter = counters("counter-1")
 *   yield* counter.send("inc")
 *   return yield* counter.state
 * })
 * ```
 * @since 0.2.0
 * @category models
 */
export interface Client<S, A> {
  readonly id: string
  send(action: A): Effect.Effect<void, ClientError>
  sendAndWaitFor<B extends A>(
    action: A,
    predicate: Refinement<A, B>,
    options: { readonly timeout: Duration.DurationInput }
  ): Effect.Effect<B, ClientError | WaitTimeoutError>
  sendAndWaitFor(
    action: A,
    predicate: Predicate<A>,
    options: { readonly timeout: Duration.DurationInput }
  ): Effect.Effect<A, ClientError | WaitTimeoutError>
  readonly state: Effect.Effect<S, ClientError>
  subscribe(options?: Store.SubscribeOptions): Effect.Effect<Stream.Stream<A, ClientError>, ClientError, Scope.Scope>
  readonly changes: Stream.Stream<S, ClientError>
}

// -------------------------------------------------------------------------------------------------
// errors
// -------------------------------------------------------------------------------------------------

/**
 * The store's runner could not do what was asked: its stored state does not restore (`RestoreFailed`),
 * its persistence is down (`PersistenceUnavailable`), the runner is shutting down (`ShutDown`), the
 * reducer threw on the action so it was not reduced (`ReducerDefect`), or the store failed unexpectedly
 * (`Defect`: an `initialState` that throws, say; logged on the runner).
 *
 * @example
 * ```ts
 * import { StoreEntity } from "composable-effect/cluster"
 *
 * const error = new StoreEntity.EntityStoreError({ entityType: "Chat", id: "c1", reason: "RestoreFailed" })
 * error.message // 'store "Chat/c1": its stored state does not restore'
 * ```
 * @since 0.2.0
 * @category errors
 */
export const EntityStoreError = internal.EntityStoreError

/**
 * @since 0.2.0
 * @category errors
 */
export type EntityStoreError = internal.EntityStoreError

/**
 * The store could not be reached: its mailbox is full, the cluster's message storage is down, no answer
 * came within the client's timeout, or it moved while a `sendAndWaitFor` watched it.
 *
 * @example
 * ```ts
 * import { StoreEntity } from "composable-effect/cluster"
 *
 * const error = new StoreEntity.EntityUnreachableError({ entityType: "Chat", id: "c1", reason: "Timeout" })
 * error.message // 'store "Chat/c1" not reachable: no answer in time'
 * ```
 * @since 0.2.0
 * @category errors
 */
export const EntityUnreachableError = internal.EntityUnreachableError

/**
 * @since 0.2.0
 * @category errors
 */
export type EntityUnreachableError = internal.EntityUnreachableError

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/**
 * Declares a store entity type. `type` must be a non-empty string (a `RangeError` otherwise).
 *
 * @example
 * ```ts
 * import { Persistence } from "composable-effect"
 * import { StoreEntity } from "composable-effect/cluster"
 * import { Schema } from "effect"
 *
 * const Action = Schema.Union(
 *   Persistence.persisted(Schema.TaggedStruct("Ask", { question: Schema.String })),
 *   Schema.TaggedStruct("Token", { text: Schema.String })
 * )
 * const Chat = StoreEntity.make("Chat", { state: Schema.Array(Schema.String), actions: Action })
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const make: <S, SI, A, AI>(
  type: string,
  schemas: { readonly state: Schema.Schema<S, SI>; readonly actions: Schema.Schema<A, AI> }
) => StoreEntity<S, A> = internal.make

/**
 * Runs the stores of `entity` on this runner: registers the entity with `Sharding`, its stores kept in
 * a host persisted through `Persistence`. Invalid options throw a `RangeError` here.
 *
 * @example
 * ```ts
 * import { Persistence, Reducer } from "composable-effect"
 * import { StoreEntity } from "composable-effect/cluster"
 * import { Schema } from "effect"
 *
 * const Counter = StoreEntity.make("Counter", { state: Schema.Number, actions: Persistence.persisted(Schema.Literal("inc")) })
 * const CounterLive = StoreEntity.layer(Counter, {
 *   initialState: () => 0,
 *   reducer: Reducer.fromState((n: number, _: "inc") => n + 1)
 * })
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const layer: <S, A, R, SI, AI>(
  entity: StoreEntity<S, A>,
  options: Options<S, A, R, SI, AI>
) => Layer.Layer<never, never, Sharding.Sharding | Persistence | R> = internal.layer

/**
 * Makes clients: `(id) => Client`, each reaching the store for `id` wherever it runs. An id must be a
 * non-empty string of at most 512 characters (a `RangeError` otherwise).
 *
 * @example
 * ```ts
 * import { Persistence } from "composable-effect"
 * import { StoreEntity } from "composable-effect/cluster"
 * import { Effect, Schema } from "effect"
 *
 * const Counter = StoreEntity.make("Counter", { state: Schema.Number, actions: Persistence.persisted(Schema.Literal("inc")) })
 * const program = Effect.gen(function*() {
 *   const counters = yield* StoreEntity.client(Counter, { timeout: "5 seconds" })
 *   yield* counters("a").send("inc")
 * })
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const client: <S, A>(
  entity: StoreEntity<S, A>,
  options?: ClientOptions
) => Effect.Effect<(id: string) => Client<S, A>, never, Sharding.Sharding> = internal.client

// -------------------------------------------------------------------------------------------------
// routes
// -------------------------------------------------------------------------------------------------

/**
 * The HTTP, SSE and WebSocket routes of `StoreHttp`, for the stores of `entity` wherever they run, under a
 * segment naming each (`POST /:id/actions`, `GET /:id/events`, ...), as `StoreHttp.hostRouter` serves a
 * host's: mount it on every runner's server, and a request reaching any of them reaches its store. The
 * routes reach each store through its client (`options.client`), with one subscription and one `changes`
 * stream per store while it has requests or clients, kept 30 seconds after the last. Errors answer as a
 * host's do, and a store the cluster cannot reach in time answers `503 StoreUnreachable`.
 *
 * @example
 * ```ts
 * import { Persistence } from "composable-effect"
 * import { StoreEntity } from "composable-effect/cluster"
 * import { HttpRouter } from "@effect/platform"
 * import { Effect, Schema } from "effect"
 *
 * const Counter = StoreEntity.make("Counter", { state: Schema.Number, actions: Persistence.persisted(Schema.Literal("inc")) })
 * const routes = Effect.map(
 *   StoreEntity.httpRouter(Counter, { actions: Schema.Literal("inc"), state: Schema.Number }),
 *   (counters) => HttpRouter.empty.pipe(HttpRouter.mount("/counters", counters)) // POST /counters/a/actions
 * )
 * ```
 * @since 0.2.0
 * @category routes
 */
export const httpRouter: <S, A, I, SI>(
  entity: StoreEntity<S, A>,
  options: StoreHttp.Options<S, A, I, SI> & { readonly client?: ClientOptions | undefined }
) => Effect.Effect<HttpRouter.HttpRouter, never, Scope.Scope | Sharding.Sharding> = entityHttp.httpRouter
