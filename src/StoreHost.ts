/**
 * A host of keyed stores: one store per conversation, per session, per agent, made on first use, shared
 * by every caller of the same id, and passivated (closed, its memory released) once idle. With
 * `persistence`, a host journals the actions its Schema marks persistent and snapshots the state, through
 * the `Persistence` service, so a store passivated or lost with its process is restored on its next use.
 *
 * The journal-and-snapshot design follows composable-rust's event-sourced stores; restoring replays the
 * journal through the reducer with its effects discarded, then reduces the host's `restored` action with
 * effects on, so the feature decides what to restart.
 *
 * @since 0.2.0
 */
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Predicate } from "effect/Predicate"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/host.js"
import type { Persistence, PersistenceError } from "./Persistence.js"
import type * as Reducer from "./Reducer.js"
import type * as Store from "./Store.js"
import type { RestoreError, ShutdownTimeoutError, StoreShutdownError, WaitTimeoutError } from "./StoreError.js"

// -------------------------------------------------------------------------------------------------
// models
// -------------------------------------------------------------------------------------------------

/**
 * What a host's operations fail with: the host has shut down, the store's stored state did not restore,
 * or the persistence backend failed.
 *
 * @example
 * ```ts
 * import type { StoreHost } from "composable-effect"
 *
 * const describe = (error: StoreHost.HostError): string => error._tag
 * ```
 * @since 0.2.0
 * @category models
 */
export type HostError = StoreShutdownError | RestoreError | PersistenceError

/**
 * A host of keyed stores. Every operation takes the store's id (a non-empty string of at most 512
 * characters; anything else throws a `RangeError` where called) and activates the store if it is not
 * resident.
 *
 * @example
 * ```ts
 * import { Reducer, StoreHost } from "composable-effect"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const host = yield* StoreHost.make({
 *     name: "counters",
 *     initialState: () => 0,
 *     reducer: Reducer.fromState((n: number, _: "inc") => n + 1)
 *   })
 *   yield* host.send("a", "inc")
 *   return yield* host.state("a") // 1
 * }).pipe(Effect.scoped)
 * ```
 * @since 0.2.0
 * @category models
 */
export interface StoreHost<S, A> {
  /** The host's name: the persistence key of its stores, and the `store` label of their metrics. */
  readonly name: string
  /**
   * The store for `id`, held resident (never passivated) until the scope closes. Sends made on it
   * directly are acknowledged once reduced, whatever the durability: send through the host
   * (`host.send`) for `"sync"`. Do not keep it past the scope: the store may be passivated then.
   */
  get(id: string): Effect.Effect<Store.Store<S, A>, HostError, Scope.Scope>
  /**
   * Sends `action` to the store for `id`. With `durability: "sync"`, it succeeds only once the action (and
   * everything journaled before it) is committed, and fails with `PersistenceError` if that commit failed.
   */
  send(id: string, action: A): Effect.Effect<Store.Task, HostError>
  /** `Store.sendAndWaitFor` on the store for `id`, which stays resident while it waits. */
  sendAndWaitFor(
    id: string,
    action: A,
    predicate: Predicate<A>,
    options: { readonly timeout: Duration.DurationInput }
  ): Effect.Effect<A, HostError | WaitTimeoutError>
  /** The current state of the store for `id`. */
  state(id: string): Effect.Effect<S, HostError>
  /** `Store.subscribe` on the store for `id`, which stays resident while the scope is open. */
  subscribe(id: string, options?: Store.SubscribeOptions): Effect.Effect<Stream.Stream<A>, HostError, Scope.Scope>
  /** `Store.changes` of the store for `id`, which stays resident while the stream runs. */
  changes(id: string): Stream.Stream<S, HostError>
  /** The ids of the stores in memory now. */
  readonly residentIds: Effect.Effect<ReadonlyArray<string>>
  /** The ids of every store the host has: resident ones and, with persistence, the stored ones. */
  readonly ids: Effect.Effect<ReadonlyArray<string>, PersistenceError>
  /**
   * Passivates the store for `id` now if it is idle (a last snapshot is committed first): `true` if it was
   * passivated, `false` if it was not resident or is in use (leased, or with effects running). Fails,
   * leaving it resident, if that commit failed or the state does not encode.
   */
  passivate(id: string): Effect.Effect<boolean, PersistenceError>
  /**
   * Drains every resident store within one timeout (each refuses new sends, and its running effects get
   * the same deadline), writes their last snapshots, and closes them. The host's scope does this too.
   */
  shutdown(options?: { readonly timeout?: Duration.DurationInput }): Effect.Effect<void, ShutdownTimeoutError>
}

/**
 * @example
 * ```ts
 * import { Reducer, type StoreHost } from "composable-effect"
 *
 * const options: StoreHost.Options<number, "inc", never> = {
 *   name: "counters",
 *   initialState: () => 0,
 *   reducer: Reducer.fromState((n: number, _: "inc") => n + 1),
 *   idleTimeout: "1 minute",
 *   maxResident: 10_000
 * }
 * ```
 * @since 0.2.0
 * @category models
 */
export interface Options<S, A, R> {
  /** Names the host's stores in persistence and metrics: a non-empty string. */
  readonly name: string
  /** The state of a store that has nothing stored. */
  readonly initialState: (id: string) => NoInfer<S>
  readonly reducer: Reducer.Reducer<S, A, R>
  /**
   * A store with no running effect, no lease (`get`, `subscribe`, `changes`, a wait) and no use for this
   * long is passivated (within a quarter of it more). Default 5 minutes; `Duration.infinity` never.
   */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /**
   * At most this many stores resident: activating one more first passivates the least recently used idle
   * store. Stores in use are never evicted, so the bound is exceeded while every store is in use. Default
   * unbounded.
   */
  readonly maxResident?: number | undefined
  /** How long `shutdown` (and the host's scope closing) lets running effects finish. Default 10 seconds. */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
  /** Each store's default subscriber buffer size (`Store.Options.subscriberCapacity`). */
  readonly subscriberCapacity?: number | undefined
  /** Each store's default subscriber overflow policy (`Store.Options.subscriberOverflow`). */
  readonly subscriberOverflow?: Store.Overflow | undefined
}

/**
 * How a host persists its stores through the `Persistence` service.
 *
 * - `state`, `actions`: the Schemas snapshots and journal entries are encoded with (JSON text).
 * - `journal`: `"marked"` (default) journals the members of `actions` marked with `Persistence.persisted`;
 *   `"all"` every reduced action.
 * - `durability`: `"group"` (default) acknowledges a send once reduced; its journal entry is committed
 *   with the others queued meanwhile, so a crash loses at most the entries not yet committed (one commit's
 *   worth, a few milliseconds). `"sync"` acknowledges a send only once its entry is committed: a send
 *   costs a commit's latency, and many concurrent sends share one commit.
 * - `snapshotEvery`: a snapshot after this many reduced actions (default 100) or, for a store that
 *   changed, this long after the last one (default 30 seconds); and always when it is passivated. A
 *   snapshot deletes the journal it covers.
 * - `version`: written on every row (default 1). A stored row that does not decode with the Schemas
 *   fails the activation with a `RestoreError` naming the id, the row's version and number: the store
 *   never silently starts over. To migrate, let the Schemas decode the old shape too.
 * - `restored`: an action reduced, with effects on, after a store was restored from something stored.
 *   It is never journaled. (An action, not a function of the id: a store that needs its id keeps it in
 *   its state.)
 *
 * @example
 * ```ts
 * import { Persistence, type StoreHost } from "composable-effect"
 * import { Schema } from "effect"
 *
 * const Action = Schema.Union(
 *   Persistence.persisted(Schema.TaggedStruct("Add", { n: Schema.Number })),
 *   Schema.TaggedStruct("Restored", {})
 * )
 * const options: StoreHost.PersistenceOptions<number, typeof Action.Type, number, typeof Action.Encoded> = {
 *   state: Schema.Number,
 *   actions: Action,
 *   durability: "sync",
 *   restored: { _tag: "Restored" }
 * }
 * ```
 * @since 0.2.0
 * @category models
 */
export interface PersistenceOptions<S, A, SI, AI> {
  readonly state: Schema.Schema<S, SI>
  readonly actions: Schema.Schema<A, AI>
  readonly journal?: "marked" | "all" | undefined
  readonly durability?: "group" | "sync" | undefined
  readonly snapshotEvery?: {
    readonly actions?: number | undefined
    readonly interval?: Duration.DurationInput | undefined
  } | undefined
  readonly version?: number | undefined
  readonly restored?: NoInfer<A> | undefined
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/**
 * Starts a host in the current scope; closing the scope shuts it down (see `StoreHost.shutdown`). With
 * `persistence`, it needs the `Persistence` service. The reducer's services `R` are captured here.
 * Invalid options throw a `RangeError` here.
 *
 * @example
 * ```ts
 * import { Persistence, Reducer, StoreHost } from "composable-effect"
 * import { Effect, Schema } from "effect"
 *
 * const Action = Persistence.persisted(Schema.Literal("inc"))
 * const program = Effect.gen(function*() {
 *   const host = yield* StoreHost.make({
 *     name: "counters",
 *     initialState: () => 0,
 *     reducer: Reducer.fromState((n: number, _: typeof Action.Type) => n + 1),
 *     persistence: { state: Schema.Number, actions: Action }
 *   })
 *   yield* host.send("a", "inc")
 * }).pipe(Effect.scoped, Effect.provide(Persistence.layerMemory))
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const make: {
  <S, A, R, SI, AI>(
    options: Options<S, A, R> & { readonly persistence: PersistenceOptions<S, A, SI, AI> }
  ): Effect.Effect<StoreHost<S, A>, never, Scope.Scope | R | Persistence>
  <S, A, R = never>(options: Options<S, A, R> & { readonly persistence?: undefined }): Effect.Effect<StoreHost<S, A>, never, Scope.Scope | R>
} = internal.make as any

/**
 * A host as a scoped `Layer` behind a service tag.
 *
 * @example
 * ```ts
 * import { Reducer, StoreHost } from "composable-effect"
 * import { Context } from "effect"
 *
 * class Counters extends Context.Tag("Counters")<Counters, StoreHost.StoreHost<number, "inc">>() {}
 * const CountersLive = StoreHost.layer(Counters, {
 *   name: "counters",
 *   initialState: () => 0,
 *   reducer: Reducer.fromState((n: number, _: "inc") => n + 1)
 * })
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const layer: {
  <I, S, A, R, SI, AI>(
    tag: Context.Tag<I, StoreHost<S, A>>,
    options: Options<S, A, R> & { readonly persistence: PersistenceOptions<S, A, SI, AI> }
  ): Layer.Layer<I, never, R | Persistence>
  <I, S, A, R = never>(
    tag: Context.Tag<I, StoreHost<S, A>>,
    options: Options<S, A, R> & { readonly persistence?: undefined }
  ): Layer.Layer<I, never, R>
} = (tag: Context.Tag<any, StoreHost<any, any>>, options: any) => Layer.scoped(tag, make(options))

// -------------------------------------------------------------------------------------------------
// metrics
// -------------------------------------------------------------------------------------------------

/**
 * The metrics every host records, tagged `store_host` with its name: `store_host.resident` (a gauge),
 * `store_host.activated`, `store_host.passivated` and `store_host.restore_failures` (counters).
 *
 * @example
 * ```ts
 * import { StoreHost } from "composable-effect"
 * import { Effect, Metric } from "effect"
 *
 * const resident = Metric.value(Metric.tagged(StoreHost.metrics.resident, "store_host", "chat")).pipe(
 *   Effect.map((state) => state.value)
 * )
 * ```
 * @since 0.2.0
 * @category metrics
 */
export const metrics = internal.hostMetrics
