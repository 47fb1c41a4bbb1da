import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Stream from "effect/Stream"
import type * as Fx from "../Fx.js"
import { scopeEffect, scopeStream } from "./cancelNow.js"
import { ScopedId } from "./scopedId.js"
import { requireDuration, requireOneOf, requirePositive, requirePositiveDuration } from "./validate.js"

/** @internal */
export const TypeId: Fx.TypeId = Symbol.for("composable-effect/Fx") as Fx.TypeId

/** A child's JSON: a node that is not an `Fx` (cast past the types) is shown as it is. */
const childJSON = (fx: unknown): unknown => isFx(fx) ? (fx as any).toJSON() : fx

// Every Fx node shares one prototype: pipeable, and readable in test diffs and logs.
const FxProto: Pipeable & { readonly [TypeId]: typeof TypeId; toJSON(this: Fx.Fx<unknown, unknown>): unknown } = {
  [TypeId]: TypeId,
  pipe() {
    return pipeArguments(this, arguments)
  },
  toJSON(this: Fx.Fx<unknown, unknown>) {
    switch (this._tag) {
      case "None":
        return { _id: "Fx", _tag: "None" }
      case "Send":
        return { _id: "Fx", _tag: "Send", actions: this.actions }
      case "Future":
      case "Stream":
        return { _id: "Fx", _tag: this._tag }
      case "Subscribe":
        return { _id: "Fx", _tag: "Subscribe", bufferSize: this.bufferSize, overflow: this.overflow }
      case "Delay":
        return { _id: "Fx", _tag: "Delay", duration: this.duration, action: this.action }
      case "Parallel":
      case "Sequential":
        return { _id: "Fx", _tag: this._tag, fxs: this.fxs.map(childJSON) }
      case "Cancel":
        return { _id: "Fx", _tag: "Cancel", id: this.id }
      default: {
        const { fx, ...fields } = this
        return { _id: "Fx", ...fields, fx: childJSON(fx) }
      }
    }
  }
}

const make = <F extends Fx.Fx<any, any>>(fields: Omit<F, typeof TypeId | "pipe">): F => {
  const node = Object.create(FxProto)
  Object.assign(node, fields)
  return node
}

/** @internal */
export const isFx = (u: unknown): u is Fx.Fx<unknown, unknown> =>
  typeof u === "object" && u !== null && TypeId in u

/**
 * A duration checked where the `Fx` is built (in the reducer, which reports a throw as its own defect),
 * kept as given so the node reads as written (`"1 second"`) in diffs and logs.
 */
const checked = (where: string, name: string, duration: Duration.DurationInput): Duration.DurationInput => {
  requireDuration(where, name, duration)
  return duration
}

/** The same for a period, which must be positive and finite. */
const positive = (where: string, name: string, duration: Duration.DurationInput): Duration.DurationInput => {
  requirePositiveDuration(where, name, duration)
  return duration
}

/** @internal */
export const none: Fx.None = make<Fx.None>({ _tag: "None" })

/** @internal */
export const send = <A>(...actions: ReadonlyArray<A>): Fx.Fx<A> =>
  actions.length === 0 ? none : make<Fx.Send<A>>({ _tag: "Send", actions })

/** @internal */
export const futureOption = <A, R>(effect: Effect.Effect<Option.Option<A>, never, R>): Fx.Fx<A, R> =>
  make<Fx.Future<A, R>>({ _tag: "Future", effect })

/** @internal */
export const future = <A, R>(effect: Effect.Effect<A, never, R>): Fx.Fx<A, R> =>
  futureOption(Effect.map(effect, Option.some))

/** @internal */
export const stream = <A, R>(stream: Stream.Stream<A, never, R>): Fx.Fx<A, R> =>
  make<Fx.Stream<A, R>>({ _tag: "Stream", stream })

/** @internal */
export const subscribe = <A, R = never>(
  register: (emit: Fx.Emit<A>) => Effect.Effect<Fx.Registration, never, R>,
  options?: { readonly bufferSize?: number | undefined; readonly overflow?: Fx.Overflow | undefined }
): Fx.Fx<A, R> =>
  make<Fx.Subscribe<A, R>>({
    _tag: "Subscribe",
    register,
    bufferSize: options?.bufferSize === undefined ? 1024 : requirePositive("Fx.subscribe", "bufferSize", options.bufferSize, true),
    overflow: options?.overflow === undefined ? "sliding" : requireOneOf("Fx.subscribe", "overflow", options.overflow, ["dropping", "sliding"])
  })

/** The same source with every emitted action (and only those) passed through `f`. */
const mapEmit = <A, B>(emit: Fx.Emit<B>, f: (a: A) => B): Fx.Emit<A> => Object.assign((a: A) => emit(f(a)), { end: emit.end })

/** @internal */
export const delay = <A>(duration: Duration.DurationInput, action: A): Fx.Fx<A> =>
  make<Fx.Delay<A>>({ _tag: "Delay", duration: checked("Fx.delay", "duration", duration), action })

// A node that is not an `Fx` (cast past the types) is kept, for the store to report when it runs it.
const withoutNone = <A, R>(fxs: ReadonlyArray<Fx.Fx<A, R>>) => fxs.filter((fx) => !isFx(fx) || fx._tag !== "None")

/** @internal */
export const parallel = <Fxs extends ReadonlyArray<Fx.Fx<any, any>>>(
  ...fxs: Fxs
): Fx.Fx<Fx.Fx.Action<Fxs[number]>, Fx.Fx.Context<Fxs[number]>> => merge(fxs)

/** @internal */
export const sequential = <Fxs extends ReadonlyArray<Fx.Fx<any, any>>>(
  ...fxs: Fxs
): Fx.Fx<Fx.Fx.Action<Fxs[number]>, Fx.Fx.Context<Fxs[number]>> => {
  const steps = withoutNone(fxs)
  return steps.length === 0 ? none : make<Fx.Sequential<any, any>>({ _tag: "Sequential", fxs: steps })
}

/** @internal */
export const merge = <A, R>(fxs: ReadonlyArray<Fx.Fx<A, R>>): Fx.Fx<A, R> => {
  const branches = withoutNone(fxs)
  switch (branches.length) {
    case 0:
      return none
    case 1:
      return branches[0]!
    default:
      return make<Fx.Parallel<A, R>>({ _tag: "Parallel", fxs: branches })
  }
}

/** @internal */
export const cancellable = <A, R>(
  fx: Fx.Fx<A, R>,
  id: unknown,
  options?: { readonly cancelInFlight?: boolean | undefined }
): Fx.Fx<A, R> =>
  fx._tag === "None"
    ? none
    : make<Fx.Cancellable<A, R>>({ _tag: "Cancellable", fx, id, cancelInFlight: options?.cancelInFlight ?? false })

/** @internal */
export const cancel = (id: unknown): Fx.Fx<never> => {
  // Set field by field rather than through `make`: `Object.assign` costs ten times as much, and a cancel
  // by id is reduced as often as the effects it stops are started (see docs/performance.md, issue 16).
  const node = Object.create(FxProto) as { -readonly [K in keyof Fx.Cancel]: Fx.Cancel[K] }
  node._tag = "Cancel"
  node.id = id
  return node
}

const timeoutWith = (mode: "deadline" | "idle", where: string) =>
<A, R>(
  fx: Fx.Fx<A, R>,
  duration: Duration.DurationInput,
  options?: { readonly onTimeout?: A | undefined }
): Fx.Fx<A, R> =>
  make<Fx.Timeout<A, R>>({
    _tag: "Timeout",
    fx,
    mode,
    duration: checked(where, "duration", duration),
    onTimeout: options?.onTimeout === undefined ? Option.none() : Option.some(options.onTimeout)
  })

/** @internal */
export const timeout = timeoutWith("deadline", "Fx.timeout")

/** @internal */
export const idleTimeout = timeoutWith("idle", "Fx.idleTimeout")

/** @internal */
export const batch = <X, R, A>(
  fx: Fx.Fx<X, R>,
  options: {
    readonly size: number
    readonly within: Duration.DurationInput
    readonly toAction: (items: ReadonlyArray<X>) => A
  }
): Fx.Fx<A, R> =>
  make<Fx.Batch<A, R>>({
    _tag: "Batch",
    fx,
    size: requirePositive("Fx.batch", "size", options.size, true),
    within: checked("Fx.batch", "within", options.within),
    toAction: options.toAction as (items: ReadonlyArray<unknown>) => A
  })

/** @internal */
export const rateLimit = <A, R>(
  fx: Fx.Fx<A, R>,
  options: {
    readonly units: number
    readonly per: Duration.DurationInput
    readonly burst?: number | undefined
    readonly strategy?: "shape" | "enforce" | undefined
  }
): Fx.Fx<A, R> =>
  make<Fx.RateLimit<A, R>>({
    _tag: "RateLimit",
    fx,
    units: requirePositive("Fx.rateLimit", "units", options.units, false),
    per: positive("Fx.rateLimit", "per", options.per),
    burst: options.burst === undefined || options.burst === 0 ? 0 : requirePositive("Fx.rateLimit", "burst", options.burst, false),
    strategy: options.strategy ?? "shape"
  })

/** @internal */
export const debounce = <A, R>(fx: Fx.Fx<A, R>, id: unknown, duration: Duration.DurationInput): Fx.Fx<A, R> =>
  make<Fx.Debounce<A, R>>({ _tag: "Debounce", fx, id, duration: checked("Fx.debounce", "duration", duration) })

/** @internal */
export const throttle = <A, R>(
  fx: Fx.Fx<A, R>,
  id: unknown,
  duration: Duration.DurationInput,
  options?: { readonly latest?: boolean | undefined }
): Fx.Fx<A, R> =>
  make<Fx.Throttle<A, R>>({
    _tag: "Throttle",
    fx,
    id,
    duration: checked("Fx.throttle", "duration", duration),
    latest: options?.latest ?? false
  })

/** @internal */
export const map = <A, R, B>(self: Fx.Fx<A, R>, f: (a: A) => B): Fx.Fx<B, R> => {
  // A node that is not an `Fx` (cast past the types) is kept as it is: the store reports it when it runs.
  if (!isFx(self)) return self
  switch (self._tag) {
    case "None":
      return none
    case "Send":
      return make<Fx.Send<B>>({ _tag: "Send", actions: self.actions.map(f) })
    case "Future":
      return futureOption(Effect.map(self.effect, Option.map(f)))
    case "Stream":
      return stream(Stream.map(self.stream, f))
    case "Subscribe": {
      const register = self.register
      return make<Fx.Subscribe<B, R>>({ ...self, register: (emit) => register(mapEmit(emit, f)) })
    }
    case "Delay":
      return delay(self.duration, f(self.action))
    case "Parallel":
      return make<Fx.Parallel<B, R>>({ _tag: "Parallel", fxs: self.fxs.map((fx) => map(fx, f)) })
    case "Sequential":
      return make<Fx.Sequential<B, R>>({ _tag: "Sequential", fxs: self.fxs.map((fx) => map(fx, f)) })
    case "Cancel":
      return self
    case "Timeout":
      return make<Fx.Timeout<B, R>>({ ...self, fx: map(self.fx, f), onTimeout: Option.map(self.onTimeout, f) })
    case "Batch": {
      const toAction = self.toAction
      return make<Fx.Batch<B, R>>({ ...self, toAction: (items) => f(toAction(items)) })
    }
    case "Cancellable":
    case "RateLimit":
    case "Debounce":
    case "Throttle":
      return make<any>({ ...self, fx: map(self.fx, f) })
  }
}

/**
 * Puts every cancellation id in `self` (cancellable, cancel, debounce, throttle) under `scope`, so that a
 * child's ids mean that child only: the same child reducer in two list elements (or two presentations)
 * never cancels the other's effects.
 *
 * @internal
 */
export const scopeIds = <A, R>(self: Fx.Fx<A, R>, scope: unknown): Fx.Fx<A, R> => {
  if (!isFx(self)) return self
  switch (self._tag) {
    case "None":
    case "Send":
    case "Delay":
      return self
    // So that `Fx.cancelNow(id)` in the effect's code cancels the id as the child's own `Fx.cancel(id)` does.
    case "Future":
      return futureOption(scopeEffect(self.effect, scope))
    case "Stream":
      return stream(scopeStream(self.stream, scope))
    case "Subscribe": {
      const register = self.register
      return make<Fx.Subscribe<A, R>>({ ...self, register: (emit) => scopeEffect(register(emit), scope) })
    }
    case "Parallel":
      return make<Fx.Parallel<A, R>>({ _tag: "Parallel", fxs: self.fxs.map((fx) => scopeIds(fx, scope)) })
    case "Sequential":
      return make<Fx.Sequential<A, R>>({ _tag: "Sequential", fxs: self.fxs.map((fx) => scopeIds(fx, scope)) })
    case "Cancel":
      return cancel(new ScopedId({ scope, id: self.id }))
    case "Timeout":
    case "Batch":
    case "RateLimit":
      return make<any>({ ...self, fx: scopeIds(self.fx as Fx.Fx<unknown, R>, scope) })
    case "Cancellable":
    case "Debounce":
    case "Throttle":
      return make<any>({ ...self, id: new ScopedId({ scope, id: self.id }), fx: scopeIds(self.fx, scope) })
  }
}

/** @internal */
export const attempt = <X, E, R, A1, A2>(
  effect: Effect.Effect<X, E, R>,
  handlers: { readonly onSuccess: (value: X) => A1; readonly onFailure: (error: E) => A2 }
): Fx.Fx<A1 | A2, R> => future(Effect.match(effect, handlers))

/** @internal */
export const attemptStream = <X, E, R, A1, A2, A3 = never>(
  source: Stream.Stream<X, E, R>,
  handlers: {
    readonly onItem: (item: X) => A1
    readonly onFailure: (error: E) => A2
    readonly onEnd?: () => A3
  }
): Fx.Fx<A1 | A2 | A3, R> => {
  const items = Stream.map(source, (item): A1 | A2 | A3 => handlers.onItem(item))
  const ended = handlers.onEnd === undefined ? items : Stream.concat(items, Stream.sync(handlers.onEnd))
  return stream(Stream.catchAll(ended, (error) => Stream.succeed<A1 | A2 | A3>(handlers.onFailure(error))))
}

/** @internal */
export const fold = <A, R, Z>(
  self: Fx.Fx<A, R>,
  z: Z,
  f: (z: Z, node: Fx.Fx<A, R>) => Z
): Z => {
  const acc = f(z, self)
  const children = childrenOf(self)
  return children.length === 0 ? acc : children.reduce((zz, fx) => fold(fx, zz, f), acc)
}

/** @internal */
export const childrenOf = <A, R>(self: Fx.Fx<A, R>): ReadonlyArray<Fx.Fx<A, R>> => {
  if (!isFx(self)) return []
  switch (self._tag) {
    case "Parallel":
    case "Sequential":
      return self.fxs
    case "Cancellable":
    case "Timeout":
    case "RateLimit":
    case "Debounce":
    case "Throttle":
      return [self.fx]
    case "Batch":
      return [self.fx as Fx.Fx<any, R>]
    default:
      return []
  }
}
