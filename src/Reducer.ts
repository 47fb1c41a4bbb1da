/**
 * A reducer is a pure function `(state, action) => [nextState, fx]`. It never performs work itself: the
 * `Fx` it returns describes the work, and the `Store` runs it. `R` is the environment the effects need,
 * provided with Layers when the store is built.
 *
 * @since 0.1.0
 */
import * as Fx from "./Fx.js"

/**
 * @example
 * ```ts
 * import { Fx, Reducer } from "composable-effect"
 *
 * const counter: Reducer.Reducer<number, "inc" | "dec"> = (n, action) =>
 *   [action === "inc" ? n + 1 : n - 1, Fx.none]
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Reducer<in out S, in out A, out R = never> {
  (state: S, action: A): readonly [S, Fx.Fx<A, R>]
}

/**
 * @since 0.1.0
 */
export declare namespace Reducer {
  /**
   * The state type of a reducer.
   *
   * @example
   * ```ts
   * import type { Reducer } from "composable-effect"
   *
   * type S = Reducer.Reducer.State<Reducer.Reducer<number, "inc">> // number
   * ```
   * @since 0.1.0
   */
  export type State<T> = T extends Reducer<infer S, any, any> ? S : never
  /**
   * The action type of a reducer.
   *
   * @example
   * ```ts
   * import type { Reducer } from "composable-effect"
   *
   * type A = Reducer.Reducer.Action<Reducer.Reducer<number, "inc">> // "inc"
   * ```
   * @since 0.1.0
   */
  export type Action<T> = T extends Reducer<any, infer A, any> ? A : never
  /**
   * The services a reducer's effects need.
   *
   * @example
   * ```ts
   * import type { Reducer } from "composable-effect"
   *
   * type R = Reducer.Reducer.Context<Reducer.Reducer<number, "inc", "Db">> // "Db"
   * ```
   * @since 0.1.0
   */
  export type Context<T> = T extends Reducer<any, any, infer R> ? R : never
}

/**
 * Builds a reducer, fixing its types from the function.
 *
 * @example
 * ```ts
 * import { Fx, Reducer } from "composable-effect"
 *
 * type Action = { readonly _tag: "Add"; readonly n: number }
 * const sum = Reducer.make((total: number, action: Action) => [total + action.n, Fx.none])
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make = <S, A, R = never>(
  reduce: (state: S, action: A) => readonly [S, Fx.Fx<NoInfer<A>, R>]
): Reducer<S, A, R> =>
  reduce

/**
 * Builds a reducer that only changes state and never returns work.
 *
 * @example
 * ```ts
 * import { Reducer } from "composable-effect"
 *
 * const counter = Reducer.fromState((n: number, action: "inc" | "dec") => action === "inc" ? n + 1 : n - 1)
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const fromState = <S, A>(reduce: (state: S, action: A) => S): Reducer<S, A> => (state, action) =>
  [reduce(state, action), Fx.none]

/**
 * Runs reducers in the order given, each seeing the state the previous one produced; their effects are
 * merged to run concurrently (`Fx.merge`).
 *
 * @example
 * ```ts
 * import { Fx, Reducer } from "composable-effect"
 *
 * const count = Reducer.fromState((s: { n: number; log: Array<string> }, a: string) => ({ ...s, n: s.n + 1 }))
 * const log = Reducer.make((s: { n: number; log: Array<string> }, a: string) => [{ ...s, log: [...s.log, a] }, Fx.none])
 * const both = Reducer.combine(count, log)
 * ```
 * @since 0.1.0
 * @category combinators
 */
export const combine = <S, A, Rs extends ReadonlyArray<Reducer<S, A, any>>>(
  ...reducers: Rs
): Reducer<S, A, Reducer.Context<Rs[number]>> =>
(state, action) => {
  let next = state
  const fxs: Array<Fx.Fx<A, Reducer.Context<Rs[number]>>> = []
  for (const reducer of reducers) {
    const [s, fx] = reducer(next, action)
    next = s
    if (fx._tag !== "None") fxs.push(fx)
  }
  return [next, Fx.merge(fxs)]
}
