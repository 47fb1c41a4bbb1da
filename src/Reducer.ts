/**
 * A reducer is a pure function `(state, action) => [nextState, fx]`. It never performs work itself: the
 * `Fx` it returns describes the work, and the `Store` runs it. `R` is the environment the effects need,
 * provided with Layers when the store is built.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import { dual } from "effect/Function"
import type * as Layer from "effect/Layer"
import type * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Fx from "./Fx.js"
import * as compose from "./internal/compose.js"
import * as dependencies from "./internal/dependencies.js"
import * as internal from "./internal/reducer.js"

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
 * Builds a reducer. Two forms, one for each way of stating the types:
 *
 * - `Reducer.make((state: S, action: A) => ...)`: the types come from the annotated parameters (the
 *   state type from the `state` parameter only, so a returned literal cannot widen or narrow it), and
 *   the services `R` from the `Fx` returned. Actions given directly to `Fx.send` / `Fx.delay` keep their
 *   literal types.
 * - `Reducer.make<S, A>()((state, action) => ...)`: the types stated once, `R` still inferred. The whole
 *   return is typed from `S` and `A`, so actions built inside an `Effect` or `Stream`
 *   (`Effect.map(search, (n) => ({ _tag: "Found", n }))`) and object-literal states keep their literal
 *   fields with no annotation. `Reducer.make<S, A>(fn)` (types but no `()`) does not compile: it could
 *   not infer `R`.
 *
 * @example
 * ```ts
 * import { Fx, Reducer } from "composable-effect"
 * import { Context, Effect } from "effect"
 *
 * type Action = { readonly _tag: "Add"; readonly n: number } | { readonly _tag: "Search" } | { readonly _tag: "Found"; readonly n: number }
 * class Search extends Context.Tag("Search")<Search, Effect.Effect<number>>() {}
 *
 * const sum = Reducer.make((total: number, action: Action) =>
 *   action._tag === "Add" ? [total + action.n, Fx.send({ _tag: "Search" })] : [total, Fx.none]
 * )
 * // Reducer<number, Action, Search>: R comes from the effect.
 * const search = Reducer.make<number, Action>()((total, action) =>
 *   action._tag === "Search"
 *     ? [total, Fx.future(Effect.map(Search, (n) => ({ _tag: "Found", n })))]
 *     : [action._tag === "Found" ? action.n : total, Fx.none]
 * )
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make: {
  <S, A>(): <R = never>(reduce: (state: S, action: A) => readonly [S, Fx.Fx<A, R>]) => Reducer<S, A, R>
  // No default for R: with the types given explicitly, R could only be `never` (a confusing error at
  // the first effect that needs a service); the curried form above is the way to state S and A.
  <S, A, R>(reduce: (state: S, action: A) => readonly [NoInfer<S>, Fx.Fx<NoInfer<A>, R>]): Reducer<S, A, R>
} = ((reduce?: Reducer<unknown, unknown, unknown>) => reduce === undefined ? (f: Reducer<unknown, unknown, unknown>) => f : reduce) as any

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
export const fromState = <S, A>(reduce: (state: S, action: A) => NoInfer<S>): Reducer<S, A> => (state, action) =>
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
export const combine: {
  // The first reducer fixes the state and action types, and the others (lambdas too) are typed from it.
  <S, A, R, Rs extends ReadonlyArray<Reducer<S, A, any>>>(
    first: Reducer<S, A, R>,
    ...rest: Rs
  ): Reducer<S, A, R | Reducer.Context<Rs[number]>>
  // Otherwise (a `Reducer.scope(...)` written inline first cannot be typed from the context): each reducer
  // is typed on its own, then all must share the first one's state and action types.
  <const Rs extends readonly [Reducer<any, any, any>, ...Array<Reducer<any, any, any>>]>(
    ...reducers: Rs & { readonly [K in keyof Rs]: Reducer<Reducer.State<Rs[0]>, Reducer.Action<Rs[0]>, Reducer.Context<Rs[K]>> }
  ): Reducer<Reducer.State<Rs[0]>, Reducer.Action<Rs[0]>, Reducer.Context<Rs[number]>>
} = (...reducers: ReadonlyArray<Reducer<unknown, unknown, unknown>>): Reducer<unknown, unknown, unknown> =>
(state, action) => {
  let next = state
  const fxs: Array<Fx.Fx<unknown, unknown>> = []
  for (const reducer of reducers) {
    const [s, fx] = reducer(next, action)
    next = s
    if (fx._tag !== "None") fxs.push(fx)
  }
  return [next, Fx.merge(fxs)]
}

// -----------------------------------------------------------------------------
// composition
// -----------------------------------------------------------------------------

/**
 * How to read and replace a part of the parent state.
 *
 * @example
 * ```ts
 * import type { Reducer } from "composable-effect"
 *
 * type App = { readonly counter: number }
 * const counter: Reducer.Lens<App, number> = { get: (s) => s.counter, set: (s, counter) => ({ ...s, counter }) }
 * ```
 * @since 0.1.0
 * @category composition
 */
export interface Lens<in out P, in out C> {
  readonly get: (parent: P) => C
  readonly set: (parent: P, child: C) => P
}

/**
 * How to find a child action inside a parent action, and wrap a child action back.
 *
 * @example
 * ```ts
 * import type { Reducer } from "composable-effect"
 * import { Option } from "effect"
 *
 * type AppAction = { readonly _tag: "Counter"; readonly action: "inc" } | { readonly _tag: "Reset" }
 * const counter: Reducer.Prism<AppAction, "inc"> = {
 *   extract: (a) => a._tag === "Counter" ? Option.some(a.action) : Option.none(),
 *   embed: (action) => ({ _tag: "Counter", action })
 * }
 * ```
 * @since 0.1.0
 * @category composition
 */
export interface Prism<in out PA, in out CA> {
  readonly extract: (action: PA) => Option.Option<CA>
  readonly embed: (action: CA) => PA
}

/**
 * A lens on one field of an object state.
 *
 * @example
 * ```ts
 * import { Reducer } from "composable-effect"
 *
 * type App = { readonly counter: number; readonly title: string }
 * const counter = Reducer.field<App, "counter">("counter")
 * counter.set({ counter: 1, title: "t" }, 2) // { counter: 2, title: "t" }
 * ```
 * @since 0.1.0
 * @category composition
 */
export const field = <P, K extends keyof P>(key: K): Lens<P, P[K]> => ({
  get: (parent) => parent[key],
  set: (parent, child) => ({ ...parent, [key]: child })
})

/**
 * A prism for parent actions shaped `{ _tag, action }`, the usual way to embed a child's actions in a
 * `Data.TaggedEnum`.
 *
 * @example
 * ```ts
 * import { Reducer } from "composable-effect"
 *
 * type AppAction = { readonly _tag: "Counter"; readonly action: "inc" | "dec" } | { readonly _tag: "Reset" }
 * const counter = Reducer.tagged<AppAction, "Counter">("Counter")
 * counter.embed("inc") // { _tag: "Counter", action: "inc" }
 * ```
 * @since 0.1.0
 * @category composition
 */
export const tagged = <PA extends { readonly _tag: string }, T extends PA["_tag"]>(
  tag: T
): Prism<PA, Extract<PA, { readonly _tag: T }> extends { readonly action: infer CA } ? CA : never> => ({
  extract: (action) => action._tag === tag ? Option.some((action as any).action) : Option.none(),
  embed: (action) => ({ _tag: tag, action }) as unknown as PA
})

/**
 * A prism for parent actions shaped `{ _tag, id, action }`, for `Reducer.forEach`.
 *
 * @example
 * ```ts
 * import { Reducer } from "composable-effect"
 *
 * type AppAction = { readonly _tag: "Row"; readonly id: string; readonly action: "toggle" } | { readonly _tag: "Add" }
 * const row = Reducer.taggedElement<AppAction, "Row">("Row")
 * row.embed("a", "toggle") // { _tag: "Row", id: "a", action: "toggle" }
 * ```
 * @since 0.1.0
 * @category composition
 */
export const taggedElement = <PA extends { readonly _tag: string }, T extends PA["_tag"]>(
  tag: T
): ElementPrism<
  PA,
  Extract<PA, { readonly _tag: T }> extends { readonly id: infer K } ? K : never,
  Extract<PA, { readonly _tag: T }> extends { readonly action: infer CA } ? CA : never
> => ({
  extract: (action) => action._tag === tag ? Option.some([(action as any).id, (action as any).action] as const) : Option.none(),
  embed: (id, action) => ({ _tag: tag, id, action }) as unknown as PA
})

/**
 * How to find `(element id, child action)` inside a parent action, and wrap them back.
 *
 * @example
 * ```ts
 * import type { Reducer } from "composable-effect"
 * import { Option } from "effect"
 *
 * type AppAction = { readonly _tag: "Row"; readonly id: string; readonly action: "toggle" }
 * const row: Reducer.ElementPrism<AppAction, string, "toggle"> = {
 *   extract: (a) => Option.some([a.id, a.action] as const),
 *   embed: (id, action) => ({ _tag: "Row", id, action })
 * }
 * ```
 * @since 0.1.0
 * @category composition
 */
export interface ElementPrism<in out PA, in out K, in out CA> {
  readonly extract: (action: PA) => Option.Option<readonly [K, CA]>
  readonly embed: (id: K, action: CA) => PA
}

/**
 * A keyed collection of child states: a `ReadonlyMap`, a record, or an array of elements with an `id`
 * (ids are compared with Effect's `Equal.equals`, so `Data` values work as ids).
 *
 * @example
 * ```ts
 * import type { Reducer } from "composable-effect"
 *
 * const rows: Reducer.Collection<string, { id: string; done: boolean }> = [{ id: "a", done: false }]
 * ```
 * @since 0.1.0
 * @category composition
 */
export type Collection<K, C> = compose.Collection<K, C>

/**
 * Runs a child reducer on a part of the parent state, for the parent actions that carry a child action;
 * the child's effects are mapped back into parent actions. Combine it with the parent's own reducer.
 *
 * @example
 * ```ts
 * import { Fx, Reducer } from "composable-effect"
 *
 * type App = { readonly counter: number }
 * type AppAction = { readonly _tag: "Counter"; readonly action: "inc" }
 * const counter = Reducer.fromState((n: number, _: "inc") => n + 1)
 * const app = Reducer.scope(counter, { state: Reducer.field<App, "counter">("counter"), action: Reducer.tagged<AppAction, "Counter">("Counter") })
 * ```
 * @since 0.1.0
 * @category composition
 */
export const scope: <PS, PA, CS, CA, R>(
  child: Reducer<CS, CA, R>,
  options: { readonly state: Lens<PS, CS>; readonly action: Prism<PA, CA> }
) => Reducer<PS, PA, R> = compose.scope

/**
 * Adds an optional child to a parent reducer. For a child action the child runs first (while its state
 * is present), then the parent; when the parent makes the child state absent, the child's running effects
 * are cancelled. A child action arriving while the child is absent is reported (a warning log and the
 * `store.actions.unhandled` metric), not silently dropped.
 *
 * @example
 * ```ts
 * import { Fx, Reducer } from "composable-effect"
 * import { pipe } from "effect"
 *
 * type App = { readonly detail: number | undefined }
 * type AppAction = { readonly _tag: "Open" } | { readonly _tag: "Close" } | { readonly _tag: "Detail"; readonly action: "inc" }
 * const app = pipe(
 *   Reducer.fromState((s: App, a: AppAction) => a._tag === "Open" ? { detail: 0 } : a._tag === "Close" ? { detail: undefined } : s),
 *   Reducer.ifLet(Reducer.fromState((n: number, _: "inc") => n + 1), {
 *     state: Reducer.field<App, "detail">("detail"),
 *     action: Reducer.tagged<AppAction, "Detail">("Detail")
 *   })
 * )
 * ```
 * @since 0.1.0
 * @category composition
 */
export const ifLet: {
  <PS, PA, CS, CA, R2>(
    child: Reducer<CS, CA, R2>,
    options: IfLetOptions<PS, PA, CS, CA>
  ): <R>(parent: Reducer<PS, PA, R>) => Reducer<PS, PA, R | R2>
  <PS, PA, R, CS, CA, R2>(
    parent: Reducer<PS, PA, R>,
    child: Reducer<CS, CA, R2>,
    options: IfLetOptions<PS, PA, CS, CA>
  ): Reducer<PS, PA, R | R2>
} = dual(3, compose.ifLet)

/**
 * Where `Reducer.ifLet` finds its child. With `identity`, a child replaced by another one (a different
 * identity, by Effect equality) in one step counts as dismissed: the old child's effects are cancelled,
 * as when it becomes absent, so they never feed into the new one.
 *
 * @example
 * ```ts
 * import { Reducer } from "composable-effect"
 *
 * type App = { readonly detail: { readonly id: string; readonly n: number } | undefined }
 * type AppAction = { readonly _tag: "Detail"; readonly action: "inc" }
 * const options: Reducer.IfLetOptions<App, AppAction, { readonly id: string; readonly n: number }, "inc"> = {
 *   state: Reducer.field<App, "detail">("detail"),
 *   action: Reducer.tagged<AppAction, "Detail">("Detail"),
 *   identity: (detail) => detail.id
 * }
 * ```
 * @since 0.1.0
 * @category composition
 */
export interface IfLetOptions<PS, PA, CS, CA> {
  readonly state: Lens<PS, CS | undefined>
  readonly action: Prism<PA, CA>
  readonly identity?: ((child: CS) => unknown) | undefined
}

/**
 * Adds a child that runs while a tagged-union state is in one case (TCA's `ifCaseLet`): for a child action
 * the child runs first, on that case's value, then the parent. When the parent moves the union to another
 * case (or makes it absent), the child's running effects are cancelled, as `Reducer.ifLet` cancels them
 * when its child becomes absent. A child action arriving while the union is in another case is reported
 * the same way too (a warning log and `store.actions.unhandled{combinator="ifTag"}`; in a `TestStore`, a
 * failed step).
 *
 * @example
 * ```ts
 * import { Fx, Reducer } from "composable-effect"
 * import { pipe } from "effect"
 *
 * type Screen = { readonly _tag: "Loading" } | { readonly _tag: "Loaded"; readonly items: ReadonlyArray<string> }
 * type App = { readonly screen: Screen }
 * type AppAction = { readonly _tag: "Loaded"; readonly action: "clear" } | { readonly _tag: "Reload" }
 * const loaded = Reducer.make((s: Extract<Screen, { _tag: "Loaded" }>, _: "clear") => [{ ...s, items: [] }, Fx.none])
 * const app = pipe(
 *   Reducer.fromState((s: App, a: AppAction) => a._tag === "Reload" ? { screen: { _tag: "Loading" as const } } : s),
 *   Reducer.ifTag(loaded, {
 *     state: Reducer.field<App, "screen">("screen"),
 *     tag: "Loaded",
 *     action: Reducer.tagged<AppAction, "Loaded">("Loaded")
 *   })
 * )
 * ```
 * @since 0.1.0
 * @category composition
 */
export const ifTag: {
  // The union and the case come from the lens and the tag; the child is checked against that case
  // (NoInfer), so a child typed on another case is reported at the child, not as a puzzling lens type.
  <PS, PA, U extends Tagged | undefined, T extends NonNullable<U>["_tag"], CA, R2>(
    child: Reducer<NoInfer<Extract<U, { readonly _tag: T }>>, CA, R2>,
    options: IfTagOptions<PS, PA, U, T, CA>
  ): <R>(parent: Reducer<PS, PA, R>) => Reducer<PS, PA, R | R2>
  <PS, PA, R, U extends Tagged | undefined, T extends NonNullable<U>["_tag"], CA, R2>(
    parent: Reducer<PS, PA, R>,
    child: Reducer<NoInfer<Extract<U, { readonly _tag: T }>>, CA, R2>,
    options: IfTagOptions<PS, PA, U, T, CA>
  ): Reducer<PS, PA, R | R2>
} = dual(3, compose.ifTag as any)

/**
 * A value of a tagged union: what `Reducer.ifTag` switches on.
 *
 * @example
 * ```ts
 * import type { Reducer } from "composable-effect"
 *
 * const loading: Reducer.Tagged = { _tag: "Loading" }
 * ```
 * @since 0.1.0
 * @category composition
 */
export interface Tagged {
  readonly _tag: string
}

/**
 * Where `Reducer.ifTag` finds its child: a lens on the union (which may also be `undefined`), the case's
 * `tag`, and the prism of the child's actions. With `identity`, a case value replaced by another one of the
 * same case but a different identity (by Effect equality) counts as leaving the case, as in `ifLet`.
 *
 * @example
 * ```ts
 * import { Reducer } from "composable-effect"
 *
 * type Screen = { readonly _tag: "Loading" } | { readonly _tag: "Loaded"; readonly id: string }
 * type App = { readonly screen: Screen }
 * type AppAction = { readonly _tag: "Loaded"; readonly action: "clear" }
 * const options: Reducer.IfTagOptions<App, AppAction, Screen, "Loaded", "clear"> = {
 *   state: Reducer.field<App, "screen">("screen"),
 *   tag: "Loaded",
 *   action: Reducer.tagged<AppAction, "Loaded">("Loaded"),
 *   identity: (loaded) => loaded.id
 * }
 * ```
 * @since 0.1.0
 * @category composition
 */
export interface IfTagOptions<PS, PA, U extends Tagged | undefined, T extends NonNullable<U>["_tag"], CA> {
  readonly state: Lens<PS, U>
  readonly tag: T
  readonly action: Prism<PA, CA>
  readonly identity?: ((child: Extract<U, { readonly _tag: T }>) => unknown) | undefined
}

/**
 * Adds a collection of children keyed by id. A child action runs the child reducer on its element (then
 * the parent runs); each element's effects are cancelled when the parent removes the element; an action
 * for a missing id is reported (a warning log and the `store.actions.unhandled` metric).
 *
 * @example
 * ```ts
 * import { Reducer } from "composable-effect"
 * import { pipe } from "effect"
 *
 * type Row = { readonly id: string; readonly done: boolean }
 * type App = { readonly rows: ReadonlyArray<Row> }
 * type AppAction = { readonly _tag: "Row"; readonly id: string; readonly action: "toggle" } | { readonly _tag: "Clear" }
 * const app = pipe(
 *   Reducer.fromState((s: App, a: AppAction) => a._tag === "Clear" ? { rows: [] } : s),
 *   Reducer.forEach(Reducer.fromState((row: Row, _: "toggle") => ({ ...row, done: !row.done })), {
 *     state: Reducer.field<App, "rows">("rows"),
 *     action: Reducer.taggedElement<AppAction, "Row">("Row")
 *   })
 * )
 * ```
 * @since 0.1.0
 * @category composition
 */
export const forEach: {
  // The element and its id come from the child and the state lens, then the prism is checked against
  // them (NoInfer): a wrong prism is reported at the prism, not at the lens as a puzzling Collection type.
  <PS, PA, CS, CA, R2, C extends Collection<any, CS>>(
    child: Reducer<CS, CA, R2>,
    options: { readonly state: Lens<PS, C>; readonly action: ElementPrism<PA, NoInfer<IdOf<C>>, CA> }
  ): <R>(parent: Reducer<PS, PA, R>) => Reducer<PS, PA, R | R2>
  <PS, PA, R, CS, CA, R2, C extends Collection<any, CS>>(
    parent: Reducer<PS, PA, R>,
    child: Reducer<CS, CA, R2>,
    options: { readonly state: Lens<PS, C>; readonly action: ElementPrism<PA, NoInfer<IdOf<C>>, CA> }
  ): Reducer<PS, PA, R | R2>
} = dual(3, compose.forEach as any)

/**
 * The id type of a collection `Reducer.forEach` runs over: a `Map`'s key, an array element's `id`, or
 * anything for a record (its keys are strings, the ids may be numbers).
 *
 * @example
 * ```ts
 * import type { Reducer } from "composable-effect"
 *
 * type Id = Reducer.IdOf<ReadonlyArray<{ readonly id: number; readonly done: boolean }>> // number
 * ```
 * @since 0.1.0
 * @category composition
 */
export type IdOf<C> = C extends ReadonlyMap<infer K, any> ? K
  : C extends ReadonlyArray<{ readonly id: infer K }> ? K
  : C extends Readonly<Record<string, any>> ? any
  : never

// -----------------------------------------------------------------------------
// observing
// -----------------------------------------------------------------------------

/**
 * Runs a reducer `f` builds when a selected part of the state changed (TCA's `onChange(of:)`): after
 * `self` reduces an action, if `select` of the state before and after differ by Effect `Equal.equals`,
 * `f(oldValue, newValue)` gives a reducer that runs on the new state for the same action; its effects are
 * merged with `self`'s. Equality is Effect's: select primitives or `Data` values (a plain object or array
 * rebuilt with the same contents counts as changed).
 *
 * @example
 * ```ts
 * import { Fx, Reducer } from "composable-effect"
 * import { pipe } from "effect"
 *
 * type Search = { readonly query: string; readonly results: ReadonlyArray<string> }
 * type Action = { readonly _tag: "Type"; readonly query: string } | { readonly _tag: "Search" }
 * const search = pipe(
 *   Reducer.fromState((s: Search, a: Action) => a._tag === "Type" ? { ...s, query: a.query } : s),
 *   // TCA: .onChange(of: \.query) { oldValue, newValue in Reduce { state, action in ... } }
 *   Reducer.onChange((s) => s.query, (_old, query) => (state, _action) =>
 *     [{ ...state, results: [] }, query === "" ? Fx.none : Fx.debounce(Fx.send({ _tag: "Search" }), "search", "300 millis")])
 * )
 * ```
 * @since 0.1.0
 * @category combinators
 */
export const onChange: {
  // The action type comes from the reducer `self` only (in a pipe, from the reducer piped in), never from
  // what `f` returns: a `Fx.send({ _tag: "Search" })` there must not narrow it to that one action.
  <S, V, A, R2>(
    select: (state: S) => V,
    f: (oldValue: V, newValue: V) => Reducer<NoInfer<S>, NoInfer<A>, R2>
  ): <R>(self: Reducer<S, A, R>) => Reducer<S, A, R | R2>
  <S, A, R, V, R2>(
    self: Reducer<S, A, R>,
    select: (state: S) => V,
    f: (oldValue: V, newValue: V) => Reducer<NoInfer<S>, NoInfer<A>, R2>
  ): Reducer<S, A, R | R2>
} = dual(3, internal.onChange)

/**
 * Options of `Reducer.logChanges`: a `label` that starts each message (and annotates it), and the log
 * `level` (`"Debug"` unless given).
 *
 * @example
 * ```ts
 * import type { Reducer } from "composable-effect"
 *
 * const options: Reducer.LogChangesOptions = { label: "app", level: "Info" }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface LogChangesOptions {
  readonly label?: string | undefined
  readonly level?: LogLevel.Literal | undefined
}

/**
 * Logs every action a reducer receives and the structural diff of the state it produced (TCA's
 * `_printChanges`), through Effect's `Logger`, at `"Debug"` unless another `level` is given (Effect's
 * default logger shows `"Info"` and above: provide `Logger.minimumLogLevel(LogLevel.Debug)` to see them).
 * The reducer stays pure: the log is an effect merged into the reducer's own, which the store runs in its
 * fiber, so it goes to the application's logger and is annotated with the store's label; the diff is only
 * computed when the level is enabled.
 *
 * The message reads `app: received action {"_tag":"Inc"} (- before, + after)`, then one `-` / `+` pair per
 * changed leaf under its path (`state.count`), or `(no state changes)`. The log is an `Fx.futureOption`
 * in the returned effect: leave it out when inspecting a reducer's `Fx` as data (`ReducerTest`).
 *
 * @example
 * ```ts
 * import { Reducer, Store } from "composable-effect"
 * import { Effect, Logger, LogLevel, pipe } from "effect"
 *
 * const counter = pipe(
 *   Reducer.fromState((n: number, a: "inc" | "dec") => a === "inc" ? n + 1 : n - 1),
 *   Reducer.logChanges({ label: "counter" })
 * )
 * const program = Effect.gen(function*() {
 *   const store = yield* Store.make({ initialState: 0, reducer: counter })
 *   yield* store.send("inc") // counter: received action "inc" (- before, + after) ...
 * }).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Debug))
 * ```
 * @since 0.1.0
 * @category combinators
 */
export const logChanges: {
  (options?: LogChangesOptions): <S, A, R>(self: Reducer<S, A, R>) => Reducer<S, A, R>
  <S, A, R>(self: Reducer<S, A, R>, options?: LogChangesOptions): Reducer<S, A, R>
} = dual((args) => typeof args[0] === "function", internal.logChanges)

// -----------------------------------------------------------------------------
// dependencies
// -----------------------------------------------------------------------------

/**
 * Gives one service to the effects of a reducer, in place of the one the store's Layers provide, and
 * removes it from the services the reducer needs: TCA's `.dependency(\.x, value)` on a child reducer.
 * Every effect the reducer returns gets it (each `Effect` and `Stream` in its `Fx`), for as long as it
 * runs; the rest of the app keeps the store's. Put it inside `scope` / `ifLet` / `forEach` to override
 * one child only.
 *
 * @example
 * ```ts
 * import { Fx, Reducer } from "composable-effect"
 * import { Context, Effect, pipe } from "effect"
 *
 * class Api extends Context.Tag("Api")<Api, { readonly load: Effect.Effect<string> }>() {}
 *
 * const detail = Reducer.make((text: string, action: "Load" | { readonly _tag: "Loaded"; readonly text: string }) =>
 *   action === "Load"
 *     ? [text, Fx.future(Effect.map(Effect.flatMap(Api, (api) => api.load), (text) => ({ _tag: "Loaded", text }) as const))]
 *     : [action.text, Fx.none]
 * )
 * // Reducer<string, ..., never>: this child loads from the cache, whatever the store's Layers say.
 * const preview = pipe(detail, Reducer.provideService(Api, { load: Effect.succeed("cached") }))
 * ```
 * @since 0.1.0
 * @category dependencies
 */
export const provideService: {
  <I, Svc>(tag: Context.Tag<I, Svc>, service: NoInfer<Svc>): <S, A, R>(self: Reducer<S, A, R>) => Reducer<S, A, Exclude<R, I>>
  <S, A, R, I, Svc>(self: Reducer<S, A, R>, tag: Context.Tag<I, Svc>, service: NoInfer<Svc>): Reducer<S, A, Exclude<R, I>>
} = dual(3, dependencies.reducerProvideService)

/**
 * Gives services from a `Context` or a `Layer` to the effects of a reducer (TCA's `.dependencies { }` on a
 * child reducer), removing them from the services it needs (a Layer's own inputs are added). From a
 * Layer, each `Effect` and `Stream` builds its own instance, as `Fx.provide`: pass a `Context` for one
 * shared instance.
 *
 * @example
 * ```ts
 * import { Fx, Reducer } from "composable-effect"
 * import { Context, Effect, Layer, pipe } from "effect"
 *
 * class Api extends Context.Tag("Api")<Api, { readonly save: (n: number) => Effect.Effect<void> }>() {}
 *
 * const counter = Reducer.make((n: number, action: "inc" | "saved") =>
 *   action === "inc" ? [n + 1, Fx.future(Effect.as(Effect.flatMap(Api, (api) => api.save(n + 1)), "saved" as const))] : [n, Fx.none]
 * )
 * const offline = pipe(counter, Reducer.provide(Layer.succeed(Api, { save: () => Effect.void })))
 * ```
 * @since 0.1.0
 * @category dependencies
 */
export const provide: {
  <R2>(context: Context.Context<R2>): <S, A, R>(self: Reducer<S, A, R>) => Reducer<S, A, Exclude<R, R2>>
  <ROut, RIn = never>(
    layer: Layer.Layer<ROut, never, RIn>
  ): <S, A, R>(self: Reducer<S, A, R>) => Reducer<S, A, Exclude<R, ROut> | RIn>
  <S, A, R, R2>(self: Reducer<S, A, R>, context: Context.Context<R2>): Reducer<S, A, Exclude<R, R2>>
  <S, A, R, ROut, RIn = never>(
    self: Reducer<S, A, R>,
    layer: Layer.Layer<ROut, never, RIn>
  ): Reducer<S, A, Exclude<R, ROut> | RIn>
} = dual(2, dependencies.reducerProvide)
