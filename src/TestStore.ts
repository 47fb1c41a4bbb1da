/**
 * A `TestStore` runs a feature the way production does (same reducer, same Layers, the real `Store`,
 * effects really running on Effect's `TestClock`) and records what it reduces. As in Swift's TCA, every
 * action an effect produces is reduced as it arrives, exactly as in a store, and recorded with the state
 * it left; `receive` asserts the oldest recorded action and that state. Each `send` and `receive` states
 * the exact next state, so a test reads as the story of the feature, and fails with a structural diff,
 * pointing at the test's own line, when the story changes.
 *
 * It depends on `effect` only (no test runner), so it can be imported from `composable-effect` or
 * `composable-effect/testing`; use it inside `it.effect` / `it.scoped` from `@effect/vitest`.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/testStore.js"
import type * as Store from "./Store.js"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * A store under test.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Fx, Reducer, TestStore } from "composable-effect"
 * import { Effect, TestClock } from "effect"
 *
 * type Action = "start" | "tick"
 * const reducer = Reducer.make((n: number, action: Action) =>
 *   action === "start" ? [n, Fx.delay("1 second", "tick" as const)] : [n + 1, Fx.none]
 * )
 *
 * it.scoped("ticks once", () =>
 *   Effect.gen(function*() {
 *     const store = yield* TestStore.make({ initialState: 0, reducer })
 *     yield* store.send("start")
 *     yield* TestClock.adjust("1 second")
 *     yield* store.receive("tick", 1)
 *   }))
 * ```
 * @since 0.1.0
 * @category models
 */
export interface TestStore<in out S, in out A> {
  /** The current state (inside an expectation function: the state before the step). */
  readonly state: Effect.Effect<S>
  /** Actions effects produced (already reduced, as in a store) that no `receive` has asserted yet, oldest first. */
  readonly received: Effect.Effect<ReadonlyArray<A>>
  /**
   * Reduces `action` and checks the state it left against `expected`: the whole next state, or a function
   * from the previous state to it. Without `expected`, the state must not change (exhaustive mode); with
   * it, the state must change. Fails while received actions are unasserted (exhaustive mode;
   * non-exhaustive skips them). Returns once the effects it started have started.
   */
  send(action: A, expected?: Expectation<S>): Effect.Effect<Task, TestStoreError>
  /**
   * Waits (in real time, default 1 second) for the oldest received action, checks it against `matcher`
   * and the state its reduction left against `expected`, like `send`. Non-exhaustive mode skips received
   * actions that do not match.
   */
  receive(
    matcher: Matcher<A>,
    expected?: Expectation<S>,
    options?: { readonly timeout?: Duration.DurationInput }
  ): Effect.Effect<void, TestStoreError>
  /**
   * Fails if received actions were never asserted or effects are still running, naming the action that
   * started each one (then interrupts them). Effects that end in real time get until `timeout` (default
   * the receive timeout) to end. Non-exhaustive mode fails only on what a store would report (defects,
   * unroutable child actions) and leaves received actions and running effects as they are. Runs by itself
   * when the scope closes, unless already run (and no step came after).
   */
  finish(options?: { readonly timeout?: Duration.DurationInput | undefined }): Effect.Effect<void, TestStoreError>
  /**
   * Accepts the received actions without asserting them; the next expectation starts from the state they
   * left. `strict` (default `true`, as TCA) fails when there is nothing to skip.
   */
  skipReceivedActions(options?: { readonly strict?: boolean | undefined }): Effect.Effect<void, TestStoreError>
  /**
   * Stops tracking the effects in flight, so `finish` does not report them; they keep running, as in TCA,
   * unless `interrupt: true`. `strict` (default `true`) fails when none are in flight.
   */
  skipInFlightEffects(
    options?: { readonly strict?: boolean | undefined; readonly interrupt?: boolean | undefined }
  ): Effect.Effect<void, TestStoreError>
  /**
   * Replaces a service mid-test (TCA's `store.dependencies.x = ...`): the effects of every action reduced
   * from now on (sent by the test or fed back by an effect) get `service` in place of the one the Layers
   * (or an earlier `setService`) gave; effects already started keep the services they started with.
   * Overrides inside the reducer (`Reducer.provideService`, `Fx.provideService`) still win for their part.
   */
  setService<I, Svc>(tag: Context.Tag<I, Svc>, service: NoInfer<Svc>): Effect.Effect<void>
}

/**
 * What a TestStore's `send` returns: the store's task, whose `finish` fails (`TaskTimeout`) instead of
 * waiting forever when the effects are still in flight after the receive timeout of real time, as TCA's
 * `TestStoreTask.finish(timeout:)` does; `finishWithin` takes another timeout.
 *
 * @example
 * ```ts
 * import { Fx, Reducer, TestStore } from "composable-effect"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* TestStore.make({ initialState: 0, reducer: Reducer.make((n: number, _: "go") => [n, Fx.none]) })
 *   const task = yield* store.send("go")
 *   yield* task.finishWithin("2 seconds")
 * })
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Task {
  /** The action that was sent. */
  readonly action: unknown
  /** Waits (real time, up to the receive timeout) until the action's effects and their actions' have ended. */
  readonly finish: Effect.Effect<void, TestStoreError>
  /** The same, with another timeout. */
  finishWithin(timeout: Duration.DurationInput): Effect.Effect<void, TestStoreError>
  /** Interrupts those effects and waits for them to end. */
  readonly cancel: Effect.Effect<void>
  /** Whether any of those effects is still running. */
  readonly isRunning: Effect.Effect<boolean>
}

/**
 * The expected next state, or a function from the previous state to it. In non-exhaustive mode the
 * function gets the actual next state, so it only needs to set what the test cares about.
 *
 * @example
 * ```ts
 * import type { TestStore } from "composable-effect"
 *
 * const whole: TestStore.Expectation<{ count: number }> = { count: 1 }
 * const fromPrevious: TestStore.Expectation<{ count: number }> = (s) => ({ ...s, count: s.count + 1 })
 * ```
 * @since 0.1.0
 * @category models
 */
export type Expectation<S> = S | ((state: S) => S)

/**
 * What `receive` expects: an action (structural equality), a tag (an action's `_tag`, or a string action),
 * or a predicate.
 *
 * @example
 * ```ts
 * import type { TestStore } from "composable-effect"
 *
 * type Action = { readonly _tag: "Loaded"; readonly items: ReadonlyArray<string> }
 * const byValue: TestStore.Matcher<Action> = { _tag: "Loaded", items: ["a"] }
 * const byTag: TestStore.Matcher<Action> = "Loaded"
 * const byPredicate: TestStore.Matcher<Action> = (action) => action.items.length > 0
 * ```
 * @since 0.1.0
 * @category models
 */
export type Matcher<A> = A | string | ((action: A) => boolean)

/**
 * A partial shape of an action, for {@link like}: any subset of its fields, nested shapes for nested
 * actions.
 *
 * @example
 * ```ts
 * import type { TestStore } from "composable-effect"
 *
 * type Action = { readonly _tag: "Todo"; readonly id: string; readonly action: { readonly _tag: "Tick"; readonly at: number } }
 * const pattern: TestStore.Pattern<Action> = { _tag: "Todo", action: { _tag: "Tick" } }
 * ```
 * @since 0.1.0
 * @category models
 */
export type Pattern<A> = A extends ReadonlyArray<any> ? A
  : A extends object ? { readonly [K in keyof A]?: Pattern<A[K]> }
  : A

/**
 * Matches an action by a partial shape: every field the pattern names must match (nested patterns for
 * nested fields; other values by structural equality), the rest is ignored. The way to receive a child
 * action by its path of tags, without a hand-written predicate.
 *
 * @example
 * ```ts
 * import { TestStore } from "composable-effect"
 *
 * type Action = { readonly _tag: "Todo"; readonly id: string; readonly action: { readonly _tag: "Tick"; readonly at: number } }
 * const tickOfA = TestStore.like<Action>({ _tag: "Todo", id: "a", action: { _tag: "Tick" } })
 * tickOfA({ _tag: "Todo", id: "a", action: { _tag: "Tick", at: 3 } }) // true
 * ```
 * @since 0.1.0
 * @category matchers
 */
export const like: <A>(pattern: Pattern<A>) => (action: A) => boolean = internal.like

/**
 * @example
 * ```ts
 * import { Reducer, type TestStore } from "composable-effect"
 *
 * const options: TestStore.Options<number, "inc", never> = {
 *   initialState: 0,
 *   reducer: Reducer.fromState((n: number, _: "inc") => n + 1),
 *   exhaustivity: "non-exhaustive"
 * }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Options<S, A, R> extends Store.Options<S, A, R> {
  /**
   * `"exhaustive"` (default): every state change and received action must be asserted, and `finish`
   * fails on leftovers. `"non-exhaustive"` (TCA's `exhaustivity: .off`): for integration-style tests;
   * unasserted received actions are skipped, skipped state changes are allowed, and leftover effects are
   * cancelled at `finish`.
   */
  readonly exhaustivity?: "exhaustive" | "non-exhaustive" | undefined
  /** In non-exhaustive mode, logs (info) each received action a step skipped, as TCA's `showSkippedAssertions`. */
  readonly showSkippedAssertions?: boolean | undefined
  /** How long (real time) `receive` waits for an action by default. Default 1 second. */
  readonly receiveTimeout?: Duration.DurationInput | undefined
}

/**
 * Why a `TestStore` assertion failed.
 *
 * @example
 * ```ts
 * import type { TestStore } from "composable-effect"
 *
 * const reason: TestStore.FailureReason = "StateMismatch"
 * ```
 * @since 0.1.0
 * @category errors
 */
export type FailureReason =
  | "StateMismatch"
  | "UnexpectedStateChange"
  | "ExpectedStateChange"
  | "UnassertedReceivedActions"
  | "UnexpectedReceivedAction"
  | "ReceiveTimeout"
  | "EffectsStillRunning"
  | "ReducerDefect"
  | "EffectDefect"
  | "UnhandledChildAction"
  | "NothingToSkip"
  | "TaskTimeout"

/**
 * A failed assertion; `message` explains it, with a structural diff for state mismatches, and its `stack`
 * starts at the test's own call of the step that failed.
 *
 * @example
 * ```ts
 * import { TestStore } from "composable-effect"
 * import { Effect } from "effect"
 *
 * const explain = <A, R>(test: Effect.Effect<A, TestStore.TestStoreError, R>) =>
 *   Effect.catchTag(test, "TestStoreError", (error) => Effect.logError(error.message))
 * ```
 * @since 0.1.0
 * @category errors
 */
export const TestStoreError = internal.TestStoreError

/**
 * @since 0.1.0
 * @category errors
 */
export type TestStoreError = internal.TestStoreError

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * Starts a test store in the current scope; its services come from Layers, as in production.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Reducer, TestStore } from "composable-effect"
 * import { Effect } from "effect"
 *
 * it.scoped("counts", () =>
 *   Effect.gen(function*() {
 *     const store = yield* TestStore.make({ initialState: 0, reducer: Reducer.fromState((n: number, _: "inc") => n + 1) })
 *     yield* store.send("inc", 1)
 *     yield* store.send("inc", (n) => n + 1)
 *   }))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make: <S, A, R = never>(options: Options<S, A, R>) => Effect.Effect<TestStore<S, A>, never, Scope.Scope | R> =
  internal.make
