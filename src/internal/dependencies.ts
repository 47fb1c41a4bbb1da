import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type * as Fx from "../Fx.js"
import type * as Reducer from "../Reducer.js"
import { isFx } from "./fx.js"

// Each leaf (an `Effect`, a `Stream`, a source's registration) gets the services; every other node is rebuilt around its
// rewritten children with the same fields (ids, durations, options), so it runs as it would have.
const onLeaves = <A, R, R2>(
  self: Fx.Fx<A, R>,
  effect: (effect: Effect.Effect<any, never, any>) => Effect.Effect<any, never, any>,
  stream: (stream: Stream.Stream<any, never, any>) => Stream.Stream<any, never, any>
): Fx.Fx<A, R2> => {
  const go = (fx: Fx.Fx<any, any>): Fx.Fx<any, any> => {
    // A node that is not an `Fx` (cast past the types) is kept as it is: the store reports it when it runs.
    if (!isFx(fx)) return fx
    switch (fx._tag) {
      case "None":
      case "Send":
      case "Delay":
      case "Cancel":
        return fx
      case "Future":
        return rebuild(fx, { effect: effect(fx.effect) })
      case "Stream":
        return rebuild(fx, { stream: stream(fx.stream) })
      case "Subscribe": {
        const register = fx.register
        return rebuild(fx, { register: (emit: Fx.Emit<unknown>) => effect(register(emit)) })
      }
      case "Parallel":
      case "Sequential":
        return rebuild(fx, { fxs: fx.fxs.map(go) })
      default:
        return rebuild(fx, { fx: go(fx.fx as Fx.Fx<any, any>) })
    }
  }
  return go(self) as Fx.Fx<A, R2>
}

// The same prototype (pipeable, `toJSON`) and fields, with some replaced.
const rebuild = (node: object, fields: object): any => Object.assign(Object.create(Object.getPrototypeOf(node)), node, fields)

/** @internal */
export const provideService = <A, R, I, S>(self: Fx.Fx<A, R>, tag: Context.Tag<I, S>, service: S): Fx.Fx<A, Exclude<R, I>> =>
  onLeaves(
    self,
    (effect) => Effect.provideService(effect, tag, service),
    (stream) => Stream.provideService(stream, tag, service)
  )

/** @internal */
export const provide = <A, R, R2, RIn = never>(
  self: Fx.Fx<A, R>,
  services: Context.Context<R2> | Layer.Layer<R2, never, RIn>
): Fx.Fx<A, Exclude<R, R2> | RIn> =>
  Layer.isLayer(services)
    ? onLeaves(
      self,
      (effect) => Effect.provide(effect, services as Layer.Layer<R2, never, RIn>),
      (stream) => Stream.provideSomeLayer(stream, services as Layer.Layer<R2, never, RIn>)
    )
    : onLeaves(
      self,
      (effect) => Effect.provide(effect, services as Context.Context<R2>),
      (stream) => Stream.provideSomeContext(stream, services as Context.Context<R2>)
    )

// What a reducer cast past its types returned instead of `[state, fx]` is passed on as it is, for the store
// to report as the reducer's bug.
const returnedFx = (result: unknown): result is readonly [unknown, Fx.Fx<any, any>] =>
  Array.isArray(result) && isFx(result[1])

/** @internal */
export const reducerProvideService = <S, A, R, I, Svc>(
  self: Reducer.Reducer<S, A, R>,
  tag: Context.Tag<I, Svc>,
  service: Svc
): Reducer.Reducer<S, A, Exclude<R, I>> =>
(state, action) => {
  const result = self(state, action)
  return returnedFx(result) ? [result[0], provideService(result[1], tag, service)] : result as any
}

/** @internal */
export const reducerProvide = <S, A, R, R2, RIn = never>(
  self: Reducer.Reducer<S, A, R>,
  services: Context.Context<R2> | Layer.Layer<R2, never, RIn>
): Reducer.Reducer<S, A, Exclude<R, R2> | RIn> =>
(state, action) => {
  const result = self(state, action)
  return returnedFx(result) ? [result[0], provide(result[1], services)] : result as any
}

/**
 * The services a TestStore's `setService` replaced: given to the effects of every action reduced from
 * then on, as they are returned (so an effect already started keeps the services it started with).
 *
 * @internal
 */
export class Overrides {
  private context: Context.Context<never> = Context.empty()
  private empty = true

  set<I, S>(tag: Context.Tag<I, S>, service: S): void {
    this.context = Context.add(this.context, tag, service) as Context.Context<never>
    this.empty = false
  }

  wrap<S, A, R>(reducer: Reducer.Reducer<S, A, R>): Reducer.Reducer<S, A, R> {
    return (state, action) => {
      const result = reducer(state, action)
      return this.empty || !returnedFx(result) || result[1]._tag === "None"
        ? result
        : [result[0], provide(result[1], this.context) as Fx.Fx<A, R>]
    }
  }
}
