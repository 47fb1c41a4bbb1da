/**
 * A `Store` holds state, reduces actions strictly one at a time in arrival order, runs the effects the
 * reducer returns in fibers that live in the store's `Scope`, and broadcasts every reduced action to its
 * subscribers.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Predicate, Refinement } from "effect/Predicate"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/store.js"
import type * as Reducer from "./Reducer.js"
import type { ShutdownTimeoutError, StoreShutdownError, WaitTimeoutError } from "./StoreError.js"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * What a feature needs of a store: its state, its changes and a way to send actions. A `Store` is a view
 * of itself; `scope` narrows a view to a child feature, for UI layers and for handing a feature only what
 * it needs.
 *
 * @example
 * ```ts
 * import { Reducer, Store } from "composable-effect"
 * import { Effect } from "effect"
 *
 * type App = { readonly counter: number }
 * type AppAction = { readonly _tag: "Counter"; readonly action: "inc" }
 * const program = Effect.gen(function*() {
 *   const store = yield* Store.make({
 *     initialState: { counter: 0 },
 *     reducer: Reducer.fromState((s: App, _: AppAction) => ({ counter: s.counter + 1 }))
 *   })
 *   const counter: Store.View<number, "inc"> = store.scope({
 *     state: (s) => s.counter,
 *     action: (action: "inc") => ({ _tag: "Counter", action }) as const
 *   })
 *   yield* counter.send("inc")
 *   return yield* counter.state // 1
 * }).pipe(Effect.scoped)
 * ```
 * @since 0.1.0
 * @category models
 */
export interface View<in out S, in out A> {
  /** The current (projected) state. */
  readonly state: Effect.Effect<S>
  /** The current state, then each change: by reference for a store, by Effect equality for a scoped view. */
  readonly changes: Stream.Stream<S>
  /** Sends an action (embedded into the parent's actions for a scoped view). */
  send(action: A): Effect.Effect<Task, StoreShutdownError>
  /** A child view: `state` projects the child state, `action` embeds a child action into this view's. */
  scope<C, CA>(options: { readonly state: (state: S) => C; readonly action: (action: CA) => A }): View<C, CA>
}

/**
 * A running store.
 *
 * @example
 * ```ts
 * import { Fx, Reducer, Store } from "composable-effect"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* Store.make({ initialState: 0, reducer: Reducer.fromState((n: number, _: "inc") => n + 1) })
 *   yield* store.send("inc")
 *   return yield* store.state // 1
 * }).pipe(Effect.scoped)
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Store<in out S, in out A> extends View<S, A> {
  /** The label that tells this store's metrics and spans apart from other stores'. */
  readonly label: string
  /** The current state; never torn, since reducing is synchronous. */
  readonly state: Effect.Effect<S>
  /**
   * The current state, then every new state (a state counts as new when the reducer returns a different
   * reference). Buffered like a subscriber with the store's default capacity and overflow, except that it
   * never backpressures (a `"backpressure"` default becomes `"sliding"`: a slow reader skips states).
   */
  readonly changes: Stream.Stream<S>
  /**
   * Reduces `action` (queued behind any action being reduced), starts its effects, and returns a `Task` for
   * them. Waits only if a backpressuring subscriber is full. Fails after shutdown.
   *
   * Lazy like any effect. `yield* store.send(action)` in a generator sends as the fiber reaches it, without
   * a trip through the run loop (a send then costs about half as much); a loop of sends still yields to
   * other fibers as the run loop would (every 512 actions reduced), so subscribers keep up.
   */
  send(action: A): Effect.Effect<Task, StoreShutdownError>
  /**
   * Subscribes at once: every action reduced after this effect runs reaches the returned stream, in reduce
   * order. The stream ends when the store shuts down (after draining) or the scope closes.
   */
  subscribe(options?: SubscribeOptions): Effect.Effect<Stream.Stream<A>, never, Scope.Scope>
  /**
   * Subscribes, sends `action`, and returns the first action reduced after it that matches, or fails with a
   * `WaitTimeoutError` after `timeout`, or with a `StoreShutdownError` as soon as the store shuts down.
   */
  sendAndWaitFor<B extends A>(
    action: A,
    predicate: Refinement<A, B>,
    options: { readonly timeout: Duration.DurationInput }
  ): Effect.Effect<B, StoreShutdownError | WaitTimeoutError>
  sendAndWaitFor(
    action: A,
    predicate: Predicate<A>,
    options: { readonly timeout: Duration.DurationInput }
  ): Effect.Effect<A, StoreShutdownError | WaitTimeoutError>
  /**
   * Stops accepting sends and ends every pending `sendAndWaitFor` (with a `StoreShutdownError`) at once,
   * lets in-flight effects (and the actions they feed back) finish for up to `timeout` (default 10
   * seconds), then interrupts the rest and fails with how many were still running. Subscriber streams end
   * once drained.
   */
  shutdown(options?: { readonly timeout?: Duration.DurationInput }): Effect.Effect<void, ShutdownTimeoutError>
}

/**
 * The effects started by one `send`: those of the action, and of every action they fed back.
 *
 * @example
 * ```ts
 * import { Store } from "composable-effect"
 * import { Effect } from "effect"
 *
 * const sendAndSettle = <S, A>(store: Store.Store<S, A>, action: A) =>
 *   Effect.flatMap(store.send(action), (task) => task.finish)
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Task {
  /** The action that was sent. */
  readonly action: unknown
  /** Waits until every effect of the action, and of the actions those effects fed back, has ended. */
  readonly finish: Effect.Effect<void>
  /** Interrupts those effects and waits for them to end. */
  readonly cancel: Effect.Effect<void>
  /** Whether any of those effects is still running. */
  readonly isRunning: Effect.Effect<boolean>
}

/**
 * What a subscriber's buffer does when it is full:
 * - `"sliding"` (the default): drop the oldest buffered action, counted in `store.broadcast.dropped`;
 * - `"dropping"`: drop the newest action, counted the same way;
 * - `"unbounded"`: keep everything; memory grows with the subscriber's lag;
 * - `"backpressure"`: keep everything and make producers (stream effects and `send` callers) wait while
 *   this subscriber is `capacity` actions behind. Use it for consumers that must see every action.
 *
 * Whatever the policy, one subscriber never delays another.
 *
 * @example
 * ```ts
 * import type { Store } from "composable-effect"
 *
 * const mustSeeAll: Store.Overflow = "backpressure"
 * ```
 * @since 0.1.0
 * @category models
 */
export type Overflow = "sliding" | "dropping" | "unbounded" | "backpressure"

/**
 * @example
 * ```ts
 * import type { Store } from "composable-effect"
 *
 * const options: Store.SubscribeOptions = { capacity: 64, overflow: "dropping" }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface SubscribeOptions {
  /**
   * Buffered actions before the overflow policy applies (default: the store's `subscriberCapacity`): a
   * positive integer, or `subscribe` throws a `RangeError`.
   */
  readonly capacity?: number | undefined
  readonly overflow?: Overflow | undefined
}

/**
 * @example
 * ```ts
 * import { Reducer, type Store } from "composable-effect"
 *
 * const options: Store.Options<number, "inc", never> = {
 *   initialState: 0,
 *   reducer: Reducer.fromState((n: number, _: "inc") => n + 1),
 *   label: "counter"
 * }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Options<S, A, R> {
  readonly initialState: S
  readonly reducer: Reducer.Reducer<S, A, R>
  /** Tags metrics (`store` label) and spans, so two stores can be told apart. Default `"store"`. */
  readonly label?: string | undefined
  /** Default subscriber buffer size: a positive integer (a `RangeError` from `make` otherwise). Default 1024. */
  readonly subscriberCapacity?: number | undefined
  /** Default subscriber overflow policy. Default `"sliding"`. */
  readonly subscriberOverflow?: Overflow | undefined
}

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * Starts a store in the current scope. Closing the scope interrupts every running effect and ends every
 * subscriber stream. The reducer's services `R` are captured from the environment here.
 *
 * @example
 * ```ts
 * import { Fx, Reducer, Store } from "composable-effect"
 * import { Effect } from "effect"
 *
 * type Action = { readonly _tag: "Start" } | { readonly _tag: "Tick" }
 * const reducer = Reducer.make((n: number, action: Action) =>
 *   action._tag === "Start" ? [n, Fx.delay("1 second", { _tag: "Tick" } as const)] : [n + 1, Fx.none]
 * )
 * const program = Effect.gen(function*() {
 *   const store = yield* Store.make({ initialState: 0, reducer })
 *   const task = yield* store.send({ _tag: "Start" })
 *   yield* task.finish
 *   return yield* store.state // 1
 * }).pipe(Effect.scoped)
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make: <S, A, R = never>(options: Options<S, A, R>) => Effect.Effect<Store<S, A>, never, Scope.Scope | R> =
  internal.make

/**
 * Builds a store as a scoped `Layer` behind a service tag: the store lives as long as the layer.
 *
 * @example
 * ```ts
 * import { Reducer, Store } from "composable-effect"
 * import { Context, Effect } from "effect"
 *
 * class Counter extends Context.Tag("Counter")<Counter, Store.Store<number, "inc">>() {}
 * const CounterLive = Store.layer(Counter, {
 *   initialState: 0,
 *   reducer: Reducer.fromState((n: number, _: "inc") => n + 1)
 * })
 * const program = Effect.flatMap(Counter, (store) => store.send("inc")).pipe(Effect.provide(CounterLive))
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layer = <I, S, A, R = never>(
  tag: Context.Tag<I, Store<S, A>>,
  options: Options<S, A, R>
): Layer.Layer<I, never, R> => Layer.scoped(tag, make(options))
