/**
 * A `TestStore` runs a feature the way production does (same reducer, same Layers, effects really running
 * on Effect's `TestClock`) but holds every action an effect produces until the test asserts it with
 * `receive`. Each `send` and `receive` states the exact next state, so a test reads as the story of the
 * feature, and it fails with a structural diff when the story changes.
 *
 * It depends on `effect` only (no test runner), so it can be imported from `composable-effect` or
 * `composable-effect/testing`; use it inside `it.effect` / `it.scoped` from `@effect/vitest`.
 *
 * @since 0.1.0
 */
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
  /** The current state. */
  readonly state: Effect.Effect<S>
  /** Actions effects produced that are held, not yet reduced, oldest first. */
  readonly received: Effect.Effect<ReadonlyArray<A>>
  /**
   * Reduces `action` and checks the next state against `expected`: the whole next state, or a function
   * from the previous state to it. Without `expected`, the state must not change (exhaustive mode). Fails
   * while received actions are unasserted (exhaustive mode; non-exhaustive reduces them first).
   */
  send(action: A, expected?: Expectation<S>): Effect.Effect<Store.Task, TestStoreError>
  /**
   * Waits (in real time, default 1 second) for the next action an effect produced, checks it against
   * `matcher`, reduces it and checks the next state like `send`. Non-exhaustive mode reduces non-matching
   * actions on the way instead of failing.
   */
  receive(
    matcher: Matcher<A>,
    expected?: Expectation<S>,
    options?: { readonly timeout?: Duration.DurationInput }
  ): Effect.Effect<void, TestStoreError>
  /**
   * Fails if received actions were never asserted or effects are still running, naming the action that
   * started each one (then interrupts them). Runs by itself when the scope closes, unless already run.
   */
  finish(): Effect.Effect<void, TestStoreError>
  /** Reduces the held actions in order without asserting them. */
  readonly skipReceivedActions: Effect.Effect<void>
  /** Interrupts every running effect, so `finish` does not report them. */
  readonly skipInFlightEffects: Effect.Effect<void>
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
   * fails on leftovers. `"non-exhaustive"`: for integration-style tests; unasserted received actions are
   * reduced in order, skipped state changes are allowed, and leftover effects are cancelled at `finish`.
   */
  readonly exhaustivity?: "exhaustive" | "non-exhaustive" | undefined
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
  | "UnhandledChildAction"

/**
 * A failed assertion; `message` explains it, with a structural diff for state mismatches.
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
