/**
 * `Fx` is what a reducer returns besides its next state: a description of work that may feed actions back
 * into the store. It is plain, inspectable data whose leaves are Effect and Stream values; the `Store`
 * interprets it. An `Fx` cannot fail at the type level: errors must become actions (see {@link attempt}).
 *
 * Durations and counts are checked where an `Fx` is built: a duration that is not a `Duration` (`NaN`,
 * which Effect reads as zero, or `"soon"`) is a `RangeError`, which the store reports as a reducer defect.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as PubSub from "effect/PubSub"
import type * as Queue from "effect/Queue"
import type { Pipeable } from "effect/Pipeable"
import type * as EffectStream from "effect/Stream"
import { cancelNow as cancelNowInternal } from "./internal/cancelNow.js"
import * as dependencies from "./internal/dependencies.js"
import * as internal from "./internal/fx.js"
import * as sources from "./internal/sources.js"

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
export type Fx<A, R = never> =
  | None
  | Send<A>
  | Future<A, R>
  | Stream<A, R>
  | Subscribe<A, R>
  | Delay<A>
  | Parallel<A, R>
  | Sequential<A, R>
  | Cancellable<A, R>
  | Cancel
  | Timeout<A, R>
  | Batch<A, R>
  | RateLimit<A, R>
  | Debounce<A, R>
  | Throttle<A, R>

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
  export type Action<T> = [T] extends [Fx<infer A, any>] ? A : never
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
  export type Context<T> = [T] extends [Fx<any, infer R>] ? R : never
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
 * Zero or one action from an `Effect` (composable-rust's `Effect::Future`).
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
 * Zero to N actions from a `Stream` (composable-rust's `Effect::Stream`). Items are pulled one at a time:
 * item N+1 is not pulled until item N has been reduced.
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
 * Actions pushed by a callback-style source (an event emitter, a socket, a queue), with no fiber or
 * stream waiting between them: see {@link subscribe}.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Effect } from "effect"
 *
 * import { EventEmitter } from "node:events"
 *
 * const clicks = new EventEmitter()
 * const fx = Fx.subscribe<string>((emit) => Effect.sync(() => {
 *   const onClick = () => emit("clicked")
 *   clicks.on("click", onClick)
 *   return () => clicks.off("click", onClick)
 * })) // { _tag: "Subscribe", bufferSize: 1024, overflow: "sliding" }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Subscribe<A, R> extends Proto {
  readonly _tag: "Subscribe"
  readonly register: (emit: Emit<A>) => Effect.Effect<Registration, never, R>
  readonly bufferSize: number
  readonly overflow: Overflow
}

/**
 * What a {@link subscribe} source calls: `emit(action)` hands one action to the store, which reduces it
 * at once (in the source's own callback); `emit.end()` says the source is done, so its cleanup runs and
 * the effect ends. Both are ignored once the effect ended or was cancelled.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Effect } from "effect"
 *
 * const countdown = Fx.subscribe<number>((emit) => Effect.sync(() => {
 *   emit(3)
 *   emit(2)
 *   emit(1)
 *   emit.end()
 * }))
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Emit<A> {
  (action: A): void
  readonly end: () => void
}

/**
 * What a {@link subscribe} registration returns: nothing, its cleanup, or its cleanup with `pause` and
 * `resume`, which the store calls while a backpressuring subscriber is full (a source that can pause,
 * such as a Node stream or a socket, then keeps its items; one that cannot fills the effect's buffer).
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Effect } from "effect"
 * import { Readable } from "node:stream"
 *
 * const lines = (readable: Readable) =>
 *   Fx.subscribe<string>((emit) => Effect.sync((): Fx.Registration => {
 *     const onData = (chunk: Buffer) => emit(chunk.toString())
 *     readable.on("data", onData).once("end", emit.end)
 *     return {
 *       cleanup: () => readable.off("data", onData).off("end", emit.end),
 *       pause: () => readable.pause(),
 *       resume: () => readable.resume()
 *     }
 *   }))
 * ```
 * @since 0.1.0
 * @category models
 */
export type Registration =
  | void
  | (() => void)
  | {
    readonly cleanup?: (() => void) | undefined
    readonly pause?: (() => void) | undefined
    readonly resume?: (() => void) | undefined
  }

/**
 * What a {@link subscribe} source's buffer does when full while it waits for room: drop the newest item
 * (`dropping`) or the oldest (`sliding`).
 *
 * @example
 * ```ts
 * import type { Fx } from "composable-effect"
 *
 * const overflow: Fx.Overflow = "dropping"
 * ```
 * @since 0.1.0
 * @category models
 */
export type Overflow = "dropping" | "sliding"

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

/**
 * An effect registered under a cancellation `id` (any value with Effect equality: strings, numbers,
 * `Data` values), scoped to one store. With `cancelInFlight`, starting it interrupts the effects already
 * running under the same id (switch-latest).
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Stream } from "effect"
 *
 * const fx = Fx.cancellable(Fx.stream(Stream.make("tok")), "reply", { cancelInFlight: true })
 * fx._tag === "Cancellable" && fx.id // "reply"
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Cancellable<A, R> extends Proto {
  readonly _tag: "Cancellable"
  readonly fx: Fx<A, R>
  readonly id: unknown
  readonly cancelInFlight: boolean
}

/**
 * Interrupts every effect running under `id` in this store. No action a cancelled effect produces is
 * reduced after the cancel.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * const fx = Fx.cancel("reply") // { _tag: "Cancel", id: "reply" }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Cancel extends Proto {
  readonly _tag: "Cancel"
  readonly id: unknown
}

/**
 * A time limit on an effect. `"deadline"` bounds its whole run (an infinite stream ends); `"idle"` ends it
 * when no action arrives within `duration`. `onTimeout` is reduced when the limit fires.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Stream } from "effect"
 *
 * const fx = Fx.timeout(Fx.stream(Stream.never), "30 seconds", { onTimeout: "TimedOut" })
 * fx._tag === "Timeout" && fx.mode // "deadline"
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Timeout<A, R> extends Proto {
  readonly _tag: "Timeout"
  readonly fx: Fx<A, R>
  readonly mode: "deadline" | "idle"
  readonly duration: Duration.DurationInput
  readonly onTimeout: Option.Option<A>
}

/**
 * Groups the items of an effect: up to `size` items, or whatever arrived within `within`, whichever comes
 * first; each group becomes one action. The last partial group is delivered.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Stream } from "effect"
 *
 * const fx = Fx.batch(Fx.stream(Stream.range(1, 1000)), { size: 100, within: "1 second", toAction: (rows) => rows.length })
 * fx._tag === "Batch" && fx.size // 100
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Batch<A, R> extends Proto {
  readonly _tag: "Batch"
  readonly fx: Fx<unknown, R>
  readonly size: number
  readonly within: Duration.DurationInput
  readonly toAction: (items: ReadonlyArray<unknown>) => A
}

/**
 * At most `units` items per `per`, counted per item, with an optional `burst`; `"shape"` delays items,
 * `"enforce"` drops them (counted in `store.stream_items.dropped`).
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Stream } from "effect"
 *
 * const fx = Fx.rateLimit(Fx.stream(Stream.range(1, 100)), { units: 10, per: "1 second" })
 * fx._tag === "RateLimit" && fx.strategy // "shape"
 * ```
 * @since 0.1.0
 * @category models
 */
export interface RateLimit<A, R> extends Proto {
  readonly _tag: "RateLimit"
  readonly fx: Fx<A, R>
  readonly units: number
  readonly per: Duration.DurationInput
  readonly burst: number
  readonly strategy: "shape" | "enforce"
}

/**
 * Starts `fx` after `duration` unless another debounce (or a cancel) under the same `id` comes first.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * const fx = Fx.debounce(Fx.send("Search"), "search", "300 millis")
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Debounce<A, R> extends Proto {
  readonly _tag: "Debounce"
  readonly fx: Fx<A, R>
  readonly id: unknown
  readonly duration: Duration.DurationInput
}

/**
 * Starts at most one effect per `id` per `duration` window: the first one at once; later ones in the window
 * are dropped, or with `latest` the last of them starts when the window ends.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * const fx = Fx.throttle(Fx.send("Save"), "autosave", "1 second", { latest: true })
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Throttle<A, R> extends Proto {
  readonly _tag: "Throttle"
  readonly fx: Fx<A, R>
  readonly id: unknown
  readonly duration: Duration.DurationInput
  readonly latest: boolean
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
 * const fx = Fx.send({ _tag: "Saved" })
 * ```
 * @since 0.1.0
 * @category constructors
 */
// `const`: `Fx.send({ _tag: "Close" })` keeps its literal tag where a reducer's parameters are annotated
// (without it TypeScript widens it to `{ _tag: string }`, which is not an action).
export const send: <const A>(...actions: ReadonlyArray<A>) => Fx<A> = internal.send

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
 * Actions from a callback-style source: `register` connects the source to `emit` and returns how to
 * disconnect it (see {@link Registration}). The registration is an `Effect` with its services `R`, run
 * once when the effect starts; after that nothing runs between items, so an idle subscription holds no
 * fiber, only the source's listener. Each emitted action is reduced at once; cancelling the effect
 * (`Fx.cancel`, `task.cancel`, the store shutting down) runs the cleanup synchronously.
 *
 * Backpressure: while a backpressuring subscriber is full, a source with `pause`/`resume` is paused, and
 * items still emitted (or emitted by a source that cannot pause) wait in a buffer of `bufferSize`
 * (default 1024) that drops by `overflow` (default `"sliding"`: the oldest) when full, counting each drop
 * in `StoreMetrics.streamItemsDropped`. A paused source may still hand over what it had already read: a
 * `ws` socket delivers the rest of its current read (up to 64 KiB, thousands of small messages), so size
 * `bufferSize` for that where no message may be lost.
 *
 * Use a `Stream` ({@link stream}) for anything pulled, transformed or combined; `subscribe` for what
 * pushes (emitters, sockets, listeners) where many may sit idle: see docs/performance.md for the costs.
 * The helpers {@link fromEventEmitter}, {@link fromEventTarget}, {@link fromWebSocket},
 * {@link fromQueue} and {@link fromPubSub} cover common sources.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Effect } from "effect"
 * import { EventEmitter } from "node:events"
 *
 * const prices = new EventEmitter()
 * const fx = Fx.subscribe<{ readonly _tag: "Price"; readonly value: number }>((emit) =>
 *   Effect.sync(() => {
 *     const onPrice = (value: number) => emit({ _tag: "Price", value })
 *     prices.on("price", onPrice)
 *     return () => prices.off("price", onPrice)
 *   })
 * ).pipe(Fx.cancellable("prices"))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const subscribe: <A, R = never>(
  register: (emit: Emit<A>) => Effect.Effect<Registration, never, R>,
  options?: { readonly bufferSize?: number | undefined; readonly overflow?: Overflow | undefined }
) => Fx<A, R> = internal.subscribe

/**
 * Actions from a Node `EventEmitter` event, each argument list mapped to an action by `f`; with `end`,
 * the effect ends on that event (a stream's `"end"`).
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { EventEmitter } from "node:events"
 *
 * const chat = new EventEmitter()
 * const fx = Fx.fromEventEmitter(chat, "message", (text: string) => ({ _tag: "Received", text }) as const)
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const fromEventEmitter: <Args extends ReadonlyArray<any>, A>(
  emitter: sources.EventEmitterLike,
  event: string | symbol,
  f: (...args: Args) => A,
  options?: { readonly end?: string | symbol | undefined }
) => Fx<A> = sources.fromEventEmitter

/**
 * Actions from a DOM `EventTarget` event (a browser `WebSocket`, `AbortSignal`, `BroadcastChannel`, a
 * DOM element), each event mapped to an action by `f`.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * const channel = new EventTarget()
 * const fx = Fx.fromEventTarget(channel, "ping", () => ({ _tag: "Pinged" }) as const)
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const fromEventTarget: <E extends Event, A>(
  target: EventTarget,
  type: string,
  f: (event: E) => A,
  options?: { readonly end?: string | undefined }
) => Fx<A> = sources.fromEventTarget

/**
 * Actions from a WebSocket (the WHATWG `WebSocket` of browsers and Node 22, or the `ws` package's): each
 * message's data mapped by `onMessage`; `onClose`, if given, is the last action, with the close code and
 * reason. Cancelling the effect stops listening; closing the socket stays the caller's decision.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * type Action = { readonly _tag: "Message"; readonly text: string } | { readonly _tag: "Closed"; readonly code: number }
 * const listen = (socket: WebSocket): Fx.Fx<Action> =>
 *   Fx.fromWebSocket(socket, {
 *     onMessage: (data) => ({ _tag: "Message", text: String(data) }),
 *     onClose: (code) => ({ _tag: "Closed", code })
 *   })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const fromWebSocket: <A>(
  socket: sources.WebSocketLike,
  handlers: { readonly onMessage: (data: unknown) => A; readonly onClose?: ((code: number, reason: string) => A) | undefined }
) => Fx<A> = sources.fromWebSocket

/**
 * Actions taken from an Effect `Queue` (each item mapped by `f`) until it shuts down. An Effect queue
 * can only be taken from by a fiber, so this leaf holds one waiting fiber (no stream); items are reduced
 * as they are taken.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Effect, Queue } from "effect"
 *
 * const inbox = Effect.runSync(Queue.unbounded<string>())
 * const fx = Fx.fromQueue(inbox, (text) => ({ _tag: "Received", text }) as const)
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const fromQueue: <X, A>(queue: Queue.Dequeue<X>, f: (item: X) => A) => Fx<A> = sources.fromQueue

/**
 * Actions published to an Effect `PubSub` after the effect starts (each item mapped by `f`), until it
 * shuts down: a subscription taken by one waiting fiber, as for {@link fromQueue}.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Effect, PubSub } from "effect"
 *
 * const news = Effect.runSync(PubSub.unbounded<string>())
 * const fx = Fx.fromPubSub(news, (headline) => ({ _tag: "Headline", headline }) as const)
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const fromPubSub: <X, A>(pubsub: PubSub.PubSub<X>, f: (item: X) => A) => Fx<A> = sources.fromPubSub

/**
 * One action after `duration`.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * const fx = Fx.delay("500 millis", { _tag: "Tick" })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const delay: <const A>(duration: Duration.DurationInput, action: A) => Fx<A> = internal.delay

/**
 * Runs effects concurrently. `none` branches are dropped; no branches at all is `none`, one is itself.
 * Write the branches out with `Fx.parallel(a, b, c)` (each may have its own action and service types);
 * for a list built at run time (one effect per agent, per row) use `Fx.merge(list)`: the same effect.
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
 * before the next starts, and the next starts at once: steps that need no time run back to back, before
 * actions queued meanwhile (TCA's `.concatenate`). `none` steps are dropped; no steps at all is `none`.
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
 * `Fx.parallel` for a list built at run time: runs the effects concurrently; no effect is `none`, one
 * effect is itself. `Reducer.combine` merges with it.
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
 * Runs an `Effect` that may fail and turns both outcomes into actions: "errors as actions", the pattern
 * composable-rust documents for failures.
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
export const attempt: <X, E, R, A1, A2>(
  effect: Effect.Effect<X, E, R>,
  handlers: { readonly onSuccess: (value: X) => A1; readonly onFailure: (error: E) => A2 }
) => Fx<A1 | A2, R> = internal.attempt

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
export const attemptStream: <X, E, R, A1, A2, A3 = never>(
  stream: EffectStream.Stream<X, E, R>,
  handlers: {
    readonly onItem: (item: X) => A1
    readonly onFailure: (error: E) => A2
    readonly onEnd?: () => A3
  }
) => Fx<A1 | A2 | A3, R> = internal.attemptStream

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

/**
 * Registers an effect under a cancellation id, scoped to the store that runs it, so that `Fx.cancel(id)`
 * can stop it. With `cancelInFlight: true`, a new effect under the same id interrupts the running one
 * (switch-latest: the "Stop"/"regenerate" buttons of a chat). Registration happens when the action is
 * reduced, wherever the effect sits (in a later step of an `Fx.sequential` too), so a cancel in the very
 * next action wins even if the effect has not started yet.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { pipe, Stream } from "effect"
 *
 * const reply = pipe(
 *   Fx.stream(Stream.make("Hel", "lo")),
 *   Fx.cancellable("reply", { cancelInFlight: true })
 * )
 * const stop = Fx.cancel("reply")
 * ```
 * @since 0.1.0
 * @category cancellation
 */
export const cancellable: {
  (id: unknown, options?: { readonly cancelInFlight?: boolean | undefined }): <A, R>(self: Fx<A, R>) => Fx<A, R>
  <A, R>(self: Fx<A, R>, id: unknown, options?: { readonly cancelInFlight?: boolean | undefined }): Fx<A, R>
} = dual((args) => isFx(args[0]), internal.cancellable)

/**
 * Interrupts every effect running (or about to start) under `id` in this store. A cancel that comes from a
 * step of a sequence leaves alone what its own effect holds for later steps, as TCA's `.concatenate`.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * const onStopPressed = Fx.cancel("reply")
 * ```
 * @since 0.1.0
 * @category cancellation
 */
export const cancel: (id: unknown) => Fx<never> = internal.cancel

/**
 * Cancels by id from inside the code of an effect: TCA's `Task.cancel(id:)`. Where `Fx.cancel(id)` is an
 * `Fx` a reducer returns, `Fx.cancelNow(id)` is an `Effect` to `yield*` in an `Fx.future`'s effect, an
 * `Fx.stream`, or a fiber they fork, in any effect a `Store` or `TestStore` runs. It does at once exactly
 * what reducing an `Fx.cancel(id)` does (the same race-free registry, the same rule for steps of a
 * sequence), and it returns once the effects under `id` are cancelled: nothing they produce is reduced
 * after it. Cancelling the effect it runs in stops the rest of its code.
 *
 * In an effect returned by a child reducer (under `Reducer.ifLet`, `Reducer.ifTag`, `Reducer.forEach`),
 * `id` means what it means in that child's `Fx.cancel(id)`: that child's effect only. Outside the effects
 * of a store (a plain `Effect.runPromise`, a reducer test that runs an effect by hand) it dies with a
 * defect that says so, rather than doing nothing.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Effect } from "effect"
 *
 * // A download that gives up on its progress ticker once it has the file.
 * const download = Fx.future(Effect.gen(function*() {
 *   yield* Effect.sleep("3 seconds")
 *   yield* Fx.cancelNow("progress")
 *   return "Downloaded" as const
 * }))
 * ```
 * @since 0.1.0
 * @category cancellation
 */
export const cancelNow: (id: unknown) => Effect.Effect<void> = cancelNowInternal

/**
 * A total deadline: when `duration` has passed the effect is interrupted (an infinite stream ends) and
 * `onTimeout`, if given, is reduced. Counted in `store.effects.timed_out`.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { pipe, Stream } from "effect"
 *
 * const fx = pipe(Fx.stream(Stream.never), Fx.timeout("30 seconds", { onTimeout: "ReplyTimedOut" as const }))
 * ```
 * @since 0.1.0
 * @category time
 */
export const timeout: TimeLimit = dual((args) => isFx(args[0]), internal.timeout)

/**
 * An inactivity limit: the effect ends when no action arrives within `duration` (e.g. a stalled socket),
 * and `onTimeout`, if given, is reduced. Inside it, `Fx.sequential` steps don't wait for fed-back effects.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { pipe, Stream } from "effect"
 *
 * const fx = pipe(Fx.stream(Stream.never), Fx.idleTimeout("5 seconds", { onTimeout: "Stalled" as const }))
 * ```
 * @since 0.1.0
 * @category time
 */
export const idleTimeout: TimeLimit = dual((args) => isFx(args[0]), internal.idleTimeout)

/**
 * The signature shared by `timeout` and `idleTimeout` (data-first or pipeable).
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 *
 * const limit: Fx.TimeLimit = Fx.timeout
 * ```
 * @since 0.1.0
 * @category time
 */
export interface TimeLimit {
  <A2 = never>(duration: Duration.DurationInput, options?: { readonly onTimeout?: A2 | undefined }): <A, R>(
    self: Fx<A, R>
  ) => Fx<A | A2, R>
  <A, R, A2 = never>(
    self: Fx<A, R>,
    duration: Duration.DurationInput,
    options?: { readonly onTimeout?: A2 | undefined }
  ): Fx<A | A2, R>
}

/**
 * Batches the items an effect produces (`Stream.groupedWithin`): groups of up to `size`, or whatever arrived
 * within `within`, whichever comes first; each group becomes one action; the last partial group is
 * delivered. Inside it, `Fx.sequential` steps don't wait for fed-back effects (items are not fed back).
 * `size` must be a positive integer and `within` a `Duration` (a `RangeError` otherwise, where the `Fx` is
 * built).
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { pipe, Stream } from "effect"
 *
 * const fx = pipe(
 *   Fx.stream(Stream.range(1, 100_000)),
 *   Fx.batch({ size: 500, within: "100 millis", toAction: (rows) => ({ _tag: "Rows", rows }) as const })
 * )
 * ```
 * @since 0.1.0
 * @category streams
 */
export const batch: {
  <X, A>(options: {
    readonly size: number
    readonly within: Duration.DurationInput
    readonly toAction: (items: ReadonlyArray<X>) => A
  }): <R>(self: Fx<X, R>) => Fx<A, R>
  <X, R, A>(self: Fx<X, R>, options: {
    readonly size: number
    readonly within: Duration.DurationInput
    readonly toAction: (items: ReadonlyArray<X>) => A
  }): Fx<A, R>
} = dual(2, internal.batch)

/**
 * Limits the rate of the items an effect produces to `units` per `per`, per item (a multi-item chunk counts
 * each item), with an optional `burst`. `"shape"` (default) delays items; `"enforce"` drops the excess,
 * counted in `store.stream_items.dropped`. `units` must be positive and `per` a positive, finite duration
 * (a `RangeError` otherwise).
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { pipe, Stream } from "effect"
 *
 * const fx = pipe(Fx.stream(Stream.range(1, 1000)), Fx.rateLimit({ units: 50, per: "1 second" }))
 * ```
 * @since 0.1.0
 * @category streams
 */
export const rateLimit: {
  (options: {
    readonly units: number
    readonly per: Duration.DurationInput
    readonly burst?: number | undefined
    readonly strategy?: "shape" | "enforce" | undefined
  }): <A, R>(self: Fx<A, R>) => Fx<A, R>
  <A, R>(self: Fx<A, R>, options: {
    readonly units: number
    readonly per: Duration.DurationInput
    readonly burst?: number | undefined
    readonly strategy?: "shape" | "enforce" | undefined
  }): Fx<A, R>
} = dual(2, internal.rateLimit)

/**
 * Starts the effect after `duration` unless another debounce (or `Fx.cancel`) under the same id comes
 * first: only the last effect of a burst runs (search-as-you-type). A new debounce under the id also
 * cancels the effect a previous one already started, so stale results never arrive.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Effect, pipe } from "effect"
 *
 * const search = (query: string) =>
 *   pipe(Fx.future(Effect.succeed({ _tag: "Results", query } as const)), Fx.debounce("search", "300 millis"))
 * ```
 * @since 0.1.0
 * @category time
 */
export const debounce: {
  (id: unknown, duration: Duration.DurationInput): <A, R>(self: Fx<A, R>) => Fx<A, R>
  <A, R>(self: Fx<A, R>, id: unknown, duration: Duration.DurationInput): Fx<A, R>
} = dual(3, internal.debounce)

/**
 * Starts at most one effect per id per `duration`: the first at once, later ones in the window dropped, or
 * with `latest: true` the last of them started when the window ends (`Fx.cancel(id)` cancels that one
 * while it waits).
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { pipe } from "effect"
 *
 * const save = pipe(Fx.send("Save" as const), Fx.throttle("autosave", "1 second", { latest: true }))
 * ```
 * @since 0.1.0
 * @category time
 */
export const throttle: {
  (id: unknown, duration: Duration.DurationInput, options?: { readonly latest?: boolean | undefined }): <A, R>(
    self: Fx<A, R>
  ) => Fx<A, R>
  <A, R>(
    self: Fx<A, R>,
    id: unknown,
    duration: Duration.DurationInput,
    options?: { readonly latest?: boolean | undefined }
  ): Fx<A, R>
} = dual((args) => isFx(args[0]), internal.throttle)

// -----------------------------------------------------------------------------
// dependencies
// -----------------------------------------------------------------------------

/**
 * Gives one service to every `Effect` and `Stream` in an `Fx`, in place of the one the store's Layers
 * provide, and removes it from the services the `Fx` needs: TCA's `withDependencies` around one effect.
 * Only this `Fx` sees the override; the effects of the actions it feeds back are their reducer's own.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Context, Effect, pipe } from "effect"
 *
 * class Api extends Context.Tag("Api")<Api, { readonly load: Effect.Effect<string> }>() {}
 *
 * const load: Fx.Fx<string, Api> = Fx.future(Effect.flatMap(Api, (api) => api.load))
 * const offline: Fx.Fx<string> = pipe(load, Fx.provideService(Api, { load: Effect.succeed("cached") }))
 * ```
 * @since 0.1.0
 * @category dependencies
 */
export const provideService: {
  <I, S>(tag: Context.Tag<I, S>, service: NoInfer<S>): <A, R>(self: Fx<A, R>) => Fx<A, Exclude<R, I>>
  <A, R, I, S>(self: Fx<A, R>, tag: Context.Tag<I, S>, service: NoInfer<S>): Fx<A, Exclude<R, I>>
} = dual(3, dependencies.provideService)

/**
 * Gives services to every `Effect` and `Stream` in an `Fx`, in place of those the store's Layers provide,
 * and removes them from the services the `Fx` needs (a Layer's own inputs are added). From a `Context`,
 * every leaf shares the same services; from a `Layer`, each leaf builds its own (as `Effect.provide` of a
 * Layer does for each effect): use a `Context` (or `Fx.provideService`) for one instance shared by all.
 * The Layer must not fail: an `Fx` cannot.
 *
 * @example
 * ```ts
 * import { Fx } from "composable-effect"
 * import { Context, Effect, Layer, pipe } from "effect"
 *
 * class Api extends Context.Tag("Api")<Api, { readonly load: Effect.Effect<string> }>() {}
 * class Clock extends Context.Tag("Clock")<Clock, { readonly now: Effect.Effect<number> }>() {}
 *
 * const fx: Fx.Fx<string, Api | Clock> = Fx.future(Effect.flatMap(Api, (api) => api.load))
 * const withApi: Fx.Fx<string, Clock> = pipe(fx, Fx.provide(Layer.succeed(Api, { load: Effect.succeed("stub") })))
 * const withBoth: Fx.Fx<string> = pipe(
 *   fx,
 *   Fx.provide(Context.make(Api, { load: Effect.succeed("stub") }).pipe(Context.add(Clock, { now: Effect.succeed(0) })))
 * )
 * ```
 * @since 0.1.0
 * @category dependencies
 */
export const provide: {
  <R2>(context: Context.Context<R2>): <A, R>(self: Fx<A, R>) => Fx<A, Exclude<R, R2>>
  <ROut, RIn = never>(layer: Layer.Layer<ROut, never, RIn>): <A, R>(self: Fx<A, R>) => Fx<A, Exclude<R, ROut> | RIn>
  <A, R, R2>(self: Fx<A, R>, context: Context.Context<R2>): Fx<A, Exclude<R, R2>>
  <A, R, ROut, RIn = never>(self: Fx<A, R>, layer: Layer.Layer<ROut, never, RIn>): Fx<A, Exclude<R, ROut> | RIn>
} = dual(2, dependencies.provide)

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
