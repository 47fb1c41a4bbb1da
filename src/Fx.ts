/**
 * `Fx` is what a reducer returns besides its next state: a description of work that may feed actions back
 * into the store. It is plain, inspectable data whose leaves are Effect and Stream values; the `Store`
 * interprets it. An `Fx` cannot fail at the type level: errors must become actions (see {@link attempt}).
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as Option from "effect/Option"
import type { Pipeable } from "effect/Pipeable"
import type * as EffectStream from "effect/Stream"
import * as internal from "./internal/fx.js"

/**
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = internal.TypeId as TypeId

/**
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * Work that may produce actions of type `A` and needs the services `R`.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Stream } from "effect"
 *
 * const tokens: Fx.Fx<string> = Fx.stream(Stream.make("Hel", "lo"))
 * ```
 * @since 0.1.0
 * @category models
 */
export type Fx<A, R = never> = None | Send<A> | Future<A, R> | Stream<A, R> | Delay<A> | Parallel<A, R> | Sequential<A, R>

/**
 * @since 0.1.0
 */
export declare namespace Fx {
  /**
   * The action type of an `Fx`.
   *
   * @example
   * ```ts
   * import { Fx } from "composable-effect"
   *
   * type A = Fx.Fx.Action<Fx.Fx<"ping">> // "ping"
   * ```
   * @since 0.1.0
   */
  export type Action<T> = T extends Fx<infer A, any> ? A : never
  /**
   * The services an `Fx` needs.
   *
   * @example
   * ```ts
   * import { Fx } from "composable-effect"
   *
   * type R = Fx.Fx.Context<Fx.Fx<"ping", "Db">> // "Db"
   * ```
   * @since 0.1.0
   */
  export type Context<T> = T extends Fx<any, infer R> ? R : never
}

/**
 * Fields shared by every `Fx` node.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * const isFx = Fx.TypeId in Fx.none // true
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Proto extends Pipeable {
  readonly [TypeId]: TypeId
}

/**
 * No work.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * Fx.none._tag // "None"
 * ```
 * @since 0.1.0
 * @category models
 */
export interface None extends Proto {
  readonly _tag: "None"
}

/**
 * Actions fed back at once, right after the current action, in order.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * const fx = Fx.send("a", "b") // { _tag: "Send", actions: ["a", "b"] }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Send<A> extends Proto {
  readonly _tag: "Send"
  readonly actions: ReadonlyArray<A>
}

/**
 * Zero or one action from an `Effect` (the seed's `Effect::Future`).
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Effect } from "effect"
 *
 * const fx = Fx.future(Effect.succeed("loaded")) // { _tag: "Future", effect }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Future<A, R> extends Proto {
  readonly _tag: "Future"
  readonly effect: Effect.Effect<Option.Option<A>, never, R>
}

/**
 * Zero to N actions from a `Stream` (the seed's `Effect::Stream`). Items are pulled one at a time: item
 * N+1 is not pulled until item N has been reduced.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Stream } from "effect"
 *
 * const fx = Fx.stream(Stream.range(1, 3)) // { _tag: "Stream", stream }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Stream<A, R> extends Proto {
  readonly _tag: "Stream"
  readonly stream: EffectStream.Stream<A, never, R>
}

/**
 * One action after a duration (on Effect's `Clock`, so `TestClock` drives it in tests).
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * const fx = Fx.delay("1 second", "tick") // { _tag: "Delay", duration: "1 second", action: "tick" }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Delay<A> extends Proto {
  readonly _tag: "Delay"
  readonly duration: Duration.DurationInput
  readonly action: A
}

/**
 * Branches that run concurrently.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * const fx = Fx.parallel(Fx.delay("1 second", "a"), Fx.delay("2 seconds", "b"))
 * fx._tag === "Parallel" && fx.fxs.length // 2
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Parallel<A, R> extends Proto {
  readonly _tag: "Parallel"
  readonly fxs: ReadonlyArray<Fx<A, R>>
}

/**
 * Steps that run one after another: a step, and every effect of the actions it fed back, finish before
 * the next step starts.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * const fx = Fx.sequential(Fx.send("phase"), Fx.delay("1 second", "done"))
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Sequential<A, R> extends Proto {
  readonly _tag: "Sequential"
  readonly fxs: ReadonlyArray<Fx<A, R>>
}

// -----------------------------------------------------------------------------
// guards
// -----------------------------------------------------------------------------

/**
 * Whether a value is an `Fx`.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * Fx.isFx(Fx.none) // true
 * ```
 * @since 0.1.0
 * @category guards
 */
export const isFx: (u: unknown) => u is Fx<unknown, unknown> = internal.isFx

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * No work.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * const reducer = (n: number) => [n + 1, Fx.none] as const
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const none: Fx<never> = internal.none

/**
 * Feeds actions back into the store right after the current one, in order. With no actions it is `none`.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * const fx = Fx.send({ _tag: "Saved" } as const)
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const send: <A>(...actions: ReadonlyArray<A>) => Fx<A> = internal.send

/**
 * Exactly one action from an `Effect` that cannot fail.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Effect } from "effect"
 *
 * const fx = Fx.future(Effect.succeed({ _tag: "Loaded", items: [] } as const))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const future: <A, R>(effect: Effect.Effect<A, never, R>) => Fx<A, R> = internal.future

/**
 * Zero or one action from an `Effect` that cannot fail: `Option.none()` feeds nothing back.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Effect, Option } from "effect"
 *
 * const fx = Fx.futureOption(Effect.sync(() => Option.none<string>()))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const futureOption: <A, R>(effect: Effect.Effect<Option.Option<A>, never, R>) => Fx<A, R> =
  internal.futureOption

/**
 * Zero to N actions from a `Stream` that cannot fail, consumed with backpressure.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Stream } from "effect"
 *
 * const fx = Fx.stream(Stream.make("Hel", "lo", "!").pipe(Stream.map((text) => ({ _tag: "Token", text }))))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const stream: <A, R>(stream: EffectStream.Stream<A, never, R>) => Fx<A, R> = internal.stream

/**
 * One action after `duration`.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * const fx = Fx.delay("500 millis", { _tag: "Tick" } as const)
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const delay: <A>(duration: Duration.DurationInput, action: A) => Fx<A> = internal.delay

/**
 * Runs effects concurrently. `none` branches are dropped; no branches at all is `none`.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Stream } from "effect"
 *
 * const fx = Fx.parallel(Fx.stream(Stream.make("a1", "a2")), Fx.stream(Stream.make("b1", "b2")))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const parallel: <Fxs extends ReadonlyArray<Fx<any, any>>>(
  ...fxs: Fxs
) => Fx<Fx.Action<Fxs[number]>, Fx.Context<Fxs[number]>> = internal.parallel

/**
 * Runs effects one after another; each step, including the effects of the actions it fed back, ends
 * before the next starts. `none` steps are dropped; no steps at all is `none`.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Stream } from "effect"
 *
 * const fx = Fx.sequential(Fx.send("Connecting"), Fx.stream(Stream.make("m1", "m2")))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const sequential: <Fxs extends ReadonlyArray<Fx<any, any>>>(
  ...fxs: Fxs
) => Fx<Fx.Action<Fxs[number]>, Fx.Context<Fxs[number]>> = internal.sequential

/**
 * Merges effects to run concurrently, flattening trivial cases: no effect is `none`, one effect is itself.
 * `Reducer.combine` merges with it.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * Fx.merge([Fx.none, Fx.send("a")]) // the same as Fx.send("a")
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const merge: <A, R>(fxs: ReadonlyArray<Fx<A, R>>) => Fx<A, R> = internal.merge

/**
 * Runs an `Effect` that may fail and turns both outcomes into actions: the seed's "errors as actions".
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Effect } from "effect"
 *
 * const fx = Fx.attempt(Effect.fail("offline"), {
 *   onSuccess: (text: string) => ({ _tag: "Loaded", text }) as const,
 *   onFailure: (error) => ({ _tag: "LoadFailed", error }) as const
 * })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const attempt: <X, E, R, A>(
  effect: Effect.Effect<X, E, R>,
  handlers: { readonly onSuccess: (value: X) => A; readonly onFailure: (error: E) => A }
) => Fx<A, R> = internal.attempt

/**
 * Runs a `Stream` that may fail: each item becomes an action, a failure becomes one last action, and
 * `onEnd` (if given) is the action after a successful end.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Stream } from "effect"
 *
 * type Action = { _tag: "Token"; text: string } | { _tag: "Failed"; error: string } | { _tag: "Done" }
 * const fx: Fx.Fx<Action> = Fx.attemptStream(Stream.make("Hel", "lo"), {
 *   onItem: (text) => ({ _tag: "Token", text }),
 *   onFailure: (error) => ({ _tag: "Failed", error: String(error) }),
 *   onEnd: () => ({ _tag: "Done" })
 * })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const attemptStream: <X, E, R, A>(
  stream: EffectStream.Stream<X, E, R>,
  handlers: {
    readonly onItem: (item: X) => A
    readonly onFailure: (error: E) => A
    readonly onEnd?: () => A
  }
) => Fx<A, R> = internal.attemptStream

// -----------------------------------------------------------------------------
// combinators
// -----------------------------------------------------------------------------

/**
 * Changes the actions an effect produces, e.g. to embed a child feature's actions into the parent's.
 * The result keeps the same shape, so it stays inspectable.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { pipe } from "effect"
 *
 * const child = Fx.send("saved")
 * const parent = pipe(child, Fx.map((action) => ({ _tag: "Child", action }) as const))
 * ```
 * @since 0.1.0
 * @category combinators
 */
export const map: {
  <A, B>(f: (a: A) => B): <R>(self: Fx<A, R>) => Fx<B, R>
  <A, R, B>(self: Fx<A, R>, f: (a: A) => B): Fx<B, R>
} = dual(2, internal.map)

// -----------------------------------------------------------------------------
// folding
// -----------------------------------------------------------------------------

/**
 * Visits every node of an `Fx` tree, parents before children: handy to inspect what a reducer returned.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * const fx = Fx.parallel(Fx.send("a"), Fx.delay("1 second", "b"))
 * const tags = Fx.reduce(fx, [] as Array<string>, (tags, node) => [...tags, node._tag])
 * // ["Parallel", "Send", "Delay"]
 * ```
 * @since 0.1.0
 * @category folding
 */
export const reduce: {
  <A, R, Z>(z: Z, f: (z: Z, node: Fx<A, R>) => Z): (self: Fx<A, R>) => Z
  <A, R, Z>(self: Fx<A, R>, z: Z, f: (z: Z, node: Fx<A, R>) => Z): Z
} = dual(3, internal.fold)
