/**
 * Reducer-level test helpers: reduce once without running anything, check the next state, and inspect
 * the returned `Fx` as data (its kinds, cancellation ids, parallel branches, sent actions); and property
 * tests that run generated action sequences through a reducer, checking invariants at every step.
 *
 * @since 0.1.0
 */
import * as Arbitrary from "effect/Arbitrary"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as Fx from "./Fx.js"
import { diff, equals, show } from "./internal/diff.js"
import type * as Reducer from "./Reducer.js"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * What one `Fx` is made of, read off the data.
 *
 * @example
 * ```ts
 * import { Fx, ReducerTest } from "composable-effect"
 * import { Stream } from "effect"
 *
 * const summary = ReducerTest.inspect(Fx.cancellable(Fx.stream(Stream.make(1)), "load"))
 * // { kinds: ["Cancellable", "Stream"], cancellationIds: ["load"], cancels: [], parallelBranches: 1, sent: [] }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface FxSummary<A> {
  /** Node tags, parents before children (`[]` for `Fx.none`). */
  readonly kinds: ReadonlyArray<Fx.Fx<A, unknown>["_tag"]>
  /** Ids the effect registers (cancellable, debounce and throttle ids). */
  readonly cancellationIds: ReadonlyArray<unknown>
  /** Ids the effect cancels. */
  readonly cancels: ReadonlyArray<unknown>
  /** Top-level concurrent branches: 0 for none, the branch count for `Fx.parallel`, otherwise 1. */
  readonly parallelBranches: number
  /** Actions of `Fx.send` nodes, in order. */
  readonly sent: ReadonlyArray<A>
}

/**
 * The outcome of one reduction.
 *
 * @example
 * ```ts
 * import { Fx, Reducer, ReducerTest } from "composable-effect"
 *
 * const outcome = ReducerTest.reduce(Reducer.fromState((n: number, _: "inc") => n + 1), 0, "inc")
 * outcome.state // 1
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Outcome<S, A, R> {
  readonly state: S
  readonly fx: Fx.Fx<A, R>
  readonly summary: FxSummary<A>
}

/**
 * What `then` checks; every field is optional. `state` is the whole next state or a function from the
 * previous state to it; `fx` fields are compared structurally with the `FxSummary`.
 *
 * @example
 * ```ts
 * import type { ReducerTest } from "composable-effect"
 *
 * const expectation: ReducerTest.Then<number, "inc"> = { state: 1, fx: { kinds: [] } }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Then<S, A> {
  readonly state?: S | ((previous: S) => S)
  readonly fx?: Partial<FxSummary<A>>
}

/**
 * A failed reducer-level expectation or invariant.
 *
 * @example
 * ```ts
 * import { ReducerTest } from "composable-effect"
 *
 * const error = new ReducerTest.ReducerTestError({ message: "invariant broken at step 3" })
 * ```
 * @since 0.1.0
 * @category errors
 */
export class ReducerTestError extends Data.TaggedError("ReducerTestError")<{ readonly message: string }> {}

// -----------------------------------------------------------------------------
// reducing
// -----------------------------------------------------------------------------

/**
 * Summarises an `Fx` from its data.
 *
 * @example
 * ```ts
 * import { Fx, ReducerTest } from "composable-effect"
 *
 * ReducerTest.inspect(Fx.parallel(Fx.send("a"), Fx.cancel("load"))).parallelBranches // 2
 * ```
 * @since 0.1.0
 * @category reducing
 */
export const inspect = <A, R>(fx: Fx.Fx<A, R>): FxSummary<A> => {
  const nodes = fx._tag === "None" ? [] : Fx.reduce(fx, [] as Array<Fx.Fx<A, R>>, (all, node) => [...all, node])
  return {
    kinds: nodes.map((node) => node._tag),
    cancellationIds: nodes.flatMap((node) =>
      node._tag === "Cancellable" || node._tag === "Debounce" || node._tag === "Throttle" ? [node.id] : []
    ),
    cancels: nodes.flatMap((node) => node._tag === "Cancel" ? [node.id] : []),
    parallelBranches: fx._tag === "None" ? 0 : fx._tag === "Parallel" ? fx.fxs.length : 1,
    sent: nodes.flatMap((node) => node._tag === "Send" ? node.actions : [])
  }
}

/**
 * Reduces one action; nothing runs.
 *
 * @example
 * ```ts
 * import { Fx, Reducer, ReducerTest } from "composable-effect"
 *
 * const reducer = Reducer.make((n: number, _: "inc") => [n + 1, Fx.send("inc" as const)])
 * ReducerTest.reduce(reducer, 0, "inc").summary.sent // ["inc"]
 * ```
 * @since 0.1.0
 * @category reducing
 */
export const reduce = <S, A, R>(
  reducer: Reducer.Reducer<S, A, R>,
  // Typed from the reducer only, so literals written here keep their literal types.
  state: NoInfer<S>,
  action: NoInfer<A>
): Outcome<S, A, R> => {
  const [next, fx] = reducer(state, action)
  return { state: next, fx, summary: inspect(fx) }
}

/**
 * Given a state, when an action is reduced, then the next state and the returned effect are as expected.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Fx, Reducer, ReducerTest } from "composable-effect"
 * import { Stream } from "effect"
 *
 * const reducer = Reducer.make((loading: boolean, _: "load") => [true, Fx.cancellable(Fx.stream(Stream.empty), "load")])
 *
 * it.effect("starts loading", () =>
 *   ReducerTest.given(reducer, false).when("load").then({
 *     state: true,
 *     fx: { kinds: ["Cancellable", "Stream"], cancellationIds: ["load"] }
 *   }))
 * ```
 * @since 0.1.0
 * @category reducing
 */
export const given = <S, A, R>(reducer: Reducer.Reducer<S, A, R>, state: NoInfer<S>) => ({
  when: (action: A) => ({
    then: (expected: Then<S, A>): Effect.Effect<Outcome<S, A, R>, ReducerTestError> =>
      Effect.suspend(() => {
        const outcome = reduce(reducer, state, action)
        const problems: Array<string> = []
        // `"state" in`, not `!== undefined`: a state type may include `undefined`, and then it is checked too.
        if ("state" in expected) {
          const want = typeof expected.state === "function"
            ? (expected.state as (s: S) => S)(state)
            : expected.state
          if (!equals(want, outcome.state)) {
            problems.push(`State after ${show(action)} does not match (- expected, + actual):`, ...diff(want, outcome.state))
          }
        }
        for (const [key, want] of Object.entries(expected.fx ?? {})) {
          const actual = outcome.summary[key as keyof FxSummary<A>]
          if (!equals(want, actual)) problems.push(`fx.${key}: expected ${show(want)}, got ${show(actual)}`)
        }
        return problems.length === 0
          ? Effect.succeed(outcome)
          : Effect.fail(new ReducerTestError({ message: problems.join("\n") }))
      })
  })
})

// -----------------------------------------------------------------------------
// properties
// -----------------------------------------------------------------------------

/**
 * Generates action sequences from a `Schema` of the action type or a fast-check arbitrary of actions.
 *
 * @example
 * ```ts
 * import { ReducerTest } from "composable-effect"
 * import { Schema } from "effect"
 *
 * const Action = Schema.Literal("inc", "dec", "reset")
 * const sequences = ReducerTest.actionSequences(Action, { maxLength: 50 })
 * ```
 * @since 0.1.0
 * @category properties
 */
export const actionSequences = <A, I, R>(
  actions: Schema.Schema<A, I, R> | FastCheck.Arbitrary<A>,
  options?: { readonly minLength?: number; readonly maxLength?: number }
): FastCheck.Arbitrary<ReadonlyArray<A>> =>
  FastCheck.array(Schema.isSchema(actions) ? Arbitrary.make(actions as Schema.Schema<A, I, R>) : actions as FastCheck.Arbitrary<A>, {
    minLength: options?.minLength ?? 0,
    maxLength: options?.maxLength ?? 100
  })

/**
 * Runs `actions` through `reducer` from `initialState` and checks `invariant` after every step (`true`
 * or `undefined` holds; `false` or a string explains the violation). Fails with the step, the action and
 * the states around it. Succeeds with the final state.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Reducer, ReducerTest } from "composable-effect"
 * import { Schema } from "effect"
 *
 * const Action = Schema.Literal("inc", "dec")
 * const clamped = Reducer.fromState((n: number, a: "inc" | "dec") => Math.max(0, a === "inc" ? n + 1 : n - 1))
 *
 * it.effect.prop("never negative", [ReducerTest.actionSequences(Action)], ([actions]) =>
 *   ReducerTest.checkInvariant(clamped, 0, actions, (n) => n >= 0))
 * ```
 * @since 0.1.0
 * @category properties
 */
export const checkInvariant = <S, A, R>(
  reducer: Reducer.Reducer<S, A, R>,
  initialState: NoInfer<S>,
  actions: Iterable<NoInfer<A>>,
  invariant: (state: S, action: A, previous: S) => boolean | string | void
): Effect.Effect<S, ReducerTestError> =>
  Effect.suspend(() => {
    let state = initialState
    let step = 0
    for (const action of actions) {
      const previous = state
      state = reducer(state, action)[0]
      const verdict = invariant(state, action, previous)
      if (verdict === false || typeof verdict === "string") {
        return Effect.fail(
          new ReducerTestError({
            message: [
              `Invariant broken at step ${step} by ${show(action)}${typeof verdict === "string" ? `: ${verdict}` : ""}`,
              `  before: ${show(previous)}`,
              `  after:  ${show(state)}`
            ].join("\n")
          })
        )
      }
      step++
    }
    return Effect.succeed(state)
  })
