import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as HashSet from "effect/HashSet"
import * as FiberRef from "effect/FiberRef"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Fx from "../Fx.js"
import type * as Reducer from "../Reducer.js"
import { show } from "./diff.js"
import { scopeIds } from "./fx.js"
import { ChildScope } from "./scopedId.js"
import { currentStoreLabel, currentUnhandledHook } from "./label.js"

/** @internal */
export const unhandledChildActions = Metric.counter("store.actions.unhandled", {
  description: "Child actions that arrived while their child state was absent (ifLet), in another case (ifTag) or missing (forEach)",
  incremental: true
})

/**
 * The effect a reducer returns to report a child action it could not route: logged and counted when the
 * store runs it, never silently dropped. It feeds nothing back.
 */
const reportUnhandled = (combinator: "ifLet" | "ifTag" | "forEach", action: unknown, detail: string): Fx.Fx<never> =>
  Fx.futureOption(
    // The reducer does not know its store; the effect reads the label of the store that runs it.
    Effect.flatMap(FiberRef.get(currentStoreLabel), (store) =>
      Effect.logWarning(`Reducer.${combinator}: ${detail}; the action was not reduced by the child`).pipe(
        Effect.annotateLogs({ action: show(action), store }),
        Effect.zipRight(Effect.flatMap(FiberRef.get(currentUnhandledHook), (hook) => Effect.sync(() => hook?.(combinator, action, detail)))),
        Effect.zipRight(Metric.increment(Metric.taggedWithLabels(unhandledChildActions, [
          MetricLabel.make("store", store),
          MetricLabel.make("combinator", combinator)
        ]))),
        Effect.as(Option.none<never>())
      ))
  )

/** @internal */
export const scope = <PS, PA, CS, CA, R>(
  child: Reducer.Reducer<CS, CA, R>,
  options: { readonly state: Reducer.Lens<PS, CS>; readonly action: Reducer.Prism<PA, CA> }
): Reducer.Reducer<PS, PA, R> =>
(parent, action) => {
  const childAction = options.action.extract(action)
  if (Option.isNone(childAction)) return [parent, Fx.none]
  const [next, fx] = child(options.state.get(parent), childAction.value)
  return [options.state.set(parent, next), Fx.map(fx, options.action.embed)]
}

/**
 * Where `ifLet` and `ifTag` find their child in the parent state: `get` is `undefined` while there is no
 * child to run (absent, or the union in another case), and `absent` says why, for the report.
 */
interface Presence<PS, CS> {
  readonly combinator: "ifLet" | "ifTag"
  readonly get: (parent: PS) => CS | undefined
  readonly set: (parent: PS, child: CS) => PS
  readonly absent: (parent: PS) => string
  readonly identity: ((child: CS) => unknown) | undefined
}

/**
 * A child that is there for a while: it runs while `get` finds it, and its effects are cancelled when it
 * goes (or, with an identity, is replaced). One body for `ifLet` and `ifTag`, so the two cannot drift.
 */
const presentChild = <PS, PA, R, CS, CA, R2>(
  parent: Reducer.Reducer<PS, PA, R>,
  child: Reducer.Reducer<CS, CA, R2>,
  prism: Reducer.Prism<PA, CA>,
  presence: Presence<PS, CS>
): Reducer.Reducer<PS, PA, R | R2> => {
  // The child's effects run under one id per combinator built (per child identity, when given), cancelled
  // together when the child goes away or is replaced by another.
  const instance = ChildScope.nextInstance()
  const { combinator, identity } = presence
  const effectsId = (childState: CS) =>
    new ChildScope({ combinator, instance, key: identity === undefined ? undefined : identity(childState) })
  return (state, action) => {
    const fxs: Array<Fx.Fx<PA, R | R2>> = []
    let current = state
    const childAction = prism.extract(action)
    if (Option.isSome(childAction)) {
      const childState = presence.get(current)
      if (childState === undefined) {
        fxs.push(reportUnhandled(combinator, childAction.value, presence.absent(current)))
      } else {
        const [next, fx] = child(childState, childAction.value)
        current = presence.set(current, next)
        // Effects belong to the child as it is after this action; if its identity changed, the child it
        // was is gone, and so are that one's effects.
        const id = effectsId(next)
        const was = effectsId(childState)
        if (!Equal.equals(id, was)) fxs.push(Fx.cancel(was))
        fxs.push(Fx.cancellable(scopeIds(Fx.map(fx, prism.embed), id), id))
      }
    }
    const [next, fx] = parent(current, action)
    fxs.push(fx)
    const before = presence.get(current)
    const after = presence.get(next)
    if (before !== undefined && before !== after) {
      const dismissed = effectsId(before)
      if (after === undefined || !Equal.equals(dismissed, effectsId(after))) fxs.push(Fx.cancel(dismissed))
    }
    return [next, Fx.merge(fxs)]
  }
}

/** @internal */
export const ifLet = <PS, PA, R, CS, CA, R2>(
  parent: Reducer.Reducer<PS, PA, R>,
  child: Reducer.Reducer<CS, CA, R2>,
  options: Reducer.IfLetOptions<PS, PA, CS, CA>
): Reducer.Reducer<PS, PA, R | R2> =>
  presentChild(parent, child, options.action, {
    combinator: "ifLet",
    get: options.state.get,
    set: options.state.set,
    absent: () => "a child action arrived while the child state is absent",
    identity: options.identity
  })

/** @internal */
export const ifTag = <PS, PA, R, U extends { readonly _tag: string } | undefined, CA, R2>(
  parent: Reducer.Reducer<PS, PA, R>,
  child: Reducer.Reducer<U & { readonly _tag: string }, CA, R2>,
  options: {
    readonly state: Reducer.Lens<PS, U>
    readonly tag: string
    readonly action: Reducer.Prism<PA, CA>
    readonly identity?: ((child: U & { readonly _tag: string }) => unknown) | undefined
  }
): Reducer.Reducer<PS, PA, R | R2> => {
  const { state, tag } = options
  // The case as a present-or-absent child: another case (or no value) is "absent" to the shared body, so
  // leaving the case cancels the child's effects exactly as dismissing an ifLet child does.
  const get = (parent: PS) => {
    const value = state.get(parent)
    return value?._tag === tag ? value as U & { readonly _tag: string } : undefined
  }
  return presentChild(parent, child, options.action, {
    combinator: "ifTag",
    get,
    set: state.set,
    absent: (parent) => {
      const now = state.get(parent)?._tag
      return `a child action for case ${show(tag)} arrived while the state is ${now === undefined ? "absent" : `in case ${show(now)}`}`
    },
    identity: options.identity
  })
}

/** A keyed collection: a `ReadonlyMap`, a record, or an array of elements with an `id`. @internal */
export type Collection<K, C> = ReadonlyMap<K, C> | Readonly<Record<string, C>> | ReadonlyArray<C & { readonly id: K }>

const lookup = <K, C>(collection: Collection<K, C>, id: K): C | undefined => {
  if (collection instanceof Map) return collection.get(id)
  if (Array.isArray(collection)) return collection.find((element) => Equal.equals(element.id, id))
  return (collection as Record<string, C>)[id as string]
}

const update = <K, C>(collection: Collection<K, C>, id: K, element: C): Collection<K, C> => {
  if (collection instanceof Map) return new Map(collection).set(id, element)
  if (Array.isArray(collection)) {
    return collection.map((e) => Equal.equals(e.id, id) ? element : e) as ReadonlyArray<C & { id: K }>
  }
  return { ...(collection as Record<string, C>), [id as string]: element }
}

/** An element's key as removal sees it: a record's keys are strings, whatever type its ids are. */
const keyOf = <K, C>(collection: Collection<K, C>, id: K): unknown =>
  collection instanceof Map || Array.isArray(collection) ? id : String(id)

const keysOf = <K, C>(collection: Collection<K, C>): Iterable<K> => {
  if (collection instanceof Map) return collection.keys()
  if (Array.isArray(collection)) return collection.map((element) => element.id)
  return Object.keys(collection) as Array<K>
}

/** @internal */
export const forEach = <PS, PA, R, K, CS, CA, R2>(
  parent: Reducer.Reducer<PS, PA, R>,
  child: Reducer.Reducer<CS, CA, R2>,
  options: {
    readonly state: Reducer.Lens<PS, Collection<K, CS>>
    readonly action: {
      readonly extract: (action: PA) => Option.Option<readonly [K, CA]>
      readonly embed: (id: K, action: CA) => PA
    }
  }
): Reducer.Reducer<PS, PA, R | R2> => {
  // Each element's effects run under (token, element key), so removing the element cancels exactly them;
  // the ids the child uses are scoped under it too, so one element never cancels another's effects.
  const instance = ChildScope.nextInstance()
  const effectsId = (key: unknown) => new ChildScope({ combinator: "forEach", instance, key })
  return (state, action) => {
    const fxs: Array<Fx.Fx<PA, R | R2>> = []
    let current = state
    const hit = options.action.extract(action)
    if (Option.isSome(hit)) {
      const [id, childAction] = hit.value
      const collection = options.state.get(current)
      const element = lookup(collection, id)
      if (element === undefined) {
        fxs.push(reportUnhandled("forEach", childAction, `no element with id ${show(id)}`))
      } else {
        const [next, fx] = child(element, childAction)
        current = options.state.set(current, update(collection, id, next))
        const scope = effectsId(keyOf(collection, id))
        fxs.push(Fx.cancellable(scopeIds(Fx.map(fx, (a) => options.action.embed(id, a)), scope), scope))
      }
    }
    const [next, fx] = parent(current, action)
    fxs.push(fx)
    const before = options.state.get(current)
    const after = options.state.get(next)
    if (before !== after) {
      // Effect equality, like the ids themselves: a `Data` id that was rebuilt is still the same element.
      const remaining = HashSet.fromIterable(keysOf(after))
      for (const id of keysOf(before)) if (!HashSet.has(remaining, id)) fxs.push(Fx.cancel(effectsId(id)))
    }
    return [next, Fx.merge(fxs)]
  }
}
