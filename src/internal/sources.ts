import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import type * as Fx from "../Fx.js"
import { subscribe } from "./fx.js"

/** What `Fx.fromEventEmitter` needs of an emitter: Node's `EventEmitter`, or anything with `on`/`off`. @internal */
export interface EventEmitterLike {
  on(event: string | symbol, listener: (...args: Array<any>) => void): unknown
  off(event: string | symbol, listener: (...args: Array<any>) => void): unknown
  /** A Node stream's: while subscribers are full, the emitter is paused. */
  pause?: (() => unknown) | undefined
  resume?: (() => unknown) | undefined
}

/** The source's own `pause`/`resume`, if it has them (a Node stream, a `ws` socket), bound to it. */
const pausing = (source: { readonly pause?: (() => unknown) | undefined; readonly resume?: (() => unknown) | undefined }) => ({
  pause: typeof source.pause === "function" ? () => void source.pause!() : undefined,
  resume: typeof source.resume === "function" ? () => void source.resume!() : undefined
})

/** @internal */
export const fromEventEmitter = <Args extends ReadonlyArray<any>, A>(
  emitter: EventEmitterLike,
  event: string | symbol,
  f: (...args: Args) => A,
  options?: { readonly end?: string | symbol | undefined }
): Fx.Fx<A> =>
  subscribe<A>((emit) =>
    Effect.sync((): Fx.Registration => {
      const onEvent = (...args: Args) => emit(f(...args))
      const end = options?.end
      emitter.on(event, onEvent)
      if (end !== undefined) emitter.on(end, emit.end)
      return {
        cleanup: () => {
          emitter.off(event, onEvent)
          if (end !== undefined) emitter.off(end, emit.end)
        },
        ...pausing(emitter)
      }
    })
  )

/** @internal */
export const fromEventTarget = <E extends Event, A>(
  target: EventTarget,
  type: string,
  f: (event: E) => A,
  options?: { readonly end?: string | undefined }
): Fx.Fx<A> =>
  subscribe<A>((emit) =>
    Effect.sync(() => {
      const onEvent = (event: Event) => emit(f(event as E))
      const end = options?.end
      const onEnd = () => emit.end()
      target.addEventListener(type, onEvent)
      if (end !== undefined) target.addEventListener(end, onEnd)
      return () => {
        target.removeEventListener(type, onEvent)
        if (end !== undefined) target.removeEventListener(end, onEnd)
      }
    })
  )

/**
 * What `Fx.fromWebSocket` needs of a socket: the WHATWG event API, which browsers, Node 22's global
 * `WebSocket` and the `ws` package all have. @internal
 */
export interface WebSocketLike {
  addEventListener(type: "message" | "close", listener: (event: any) => void): unknown
  removeEventListener(type: "message" | "close", listener: (event: any) => void): unknown
  /** The `ws` package's: while subscribers are full, the socket stops reading. */
  pause?: (() => unknown) | undefined
  resume?: (() => unknown) | undefined
}

/** @internal */
export const fromWebSocket = <A>(
  socket: WebSocketLike,
  handlers: { readonly onMessage: (data: unknown) => A; readonly onClose?: ((code: number, reason: string) => A) | undefined }
): Fx.Fx<A> =>
  subscribe<A>((emit) =>
    Effect.sync((): Fx.Registration => {
      const onMessage = (event: { readonly data: unknown }) => emit(handlers.onMessage(event.data))
      const onClose = (event: { readonly code: number; readonly reason: string }) => {
        if (handlers.onClose !== undefined) emit(handlers.onClose(event.code, String(event.reason)))
        emit.end()
      }
      socket.addEventListener("message", onMessage)
      socket.addEventListener("close", onClose)
      return {
        cleanup: () => {
          socket.removeEventListener("message", onMessage)
          socket.removeEventListener("close", onClose)
        },
        ...pausing(socket)
      }
    })
  )

/**
 * Takes from `dequeue` in one fiber and emits each item, pausing (a latch) while subscribers are full;
 * the source ends when the fiber does (the queue shut down). `release` runs once the taking ended.
 */
const taking = <X, A>(
  dequeue: Queue.Dequeue<X>,
  f: (item: X) => A,
  emit: Fx.Emit<A>,
  release: Effect.Effect<void>
): Effect.Effect<Fx.Registration> =>
  Effect.gen(function*() {
    const open = yield* Effect.makeLatch(true)
    const take = Effect.zipRight(
      open.await,
      Effect.flatMap(Queue.takeBetween(dequeue, 1, Number.MAX_SAFE_INTEGER), (items) =>
        Effect.sync(() => {
          for (const item of items) emit(f(item))
        }))
    )
    // Its own fiber, not the store's: the effect's cleanup interrupts it, and nothing else waits on it.
    const fiber = yield* Effect.forkDaemon(Effect.forever(take).pipe(Effect.ensuring(Effect.zipRight(release, Effect.sync(emit.end)))))
    return {
      cleanup: () => fiber.unsafeInterruptAsFork(FiberId.none),
      pause: () => open.unsafeClose(),
      resume: () => open.unsafeOpen()
    }
  })

/** @internal */
export const fromQueue = <X, A>(queue: Queue.Dequeue<X>, f: (item: X) => A): Fx.Fx<A> =>
  subscribe<A>((emit) => taking(queue, f, emit, Effect.void))

/** @internal */
export const fromPubSub = <X, A>(pubsub: PubSub.PubSub<X>, f: (item: X) => A): Fx.Fx<A> =>
  subscribe<A>((emit) =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const subscription = yield* Scope.extend(PubSub.subscribe(pubsub), scope)
      return yield* taking(subscription, f, emit, Scope.close(scope, Exit.void))
    })
  )
