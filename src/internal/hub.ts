import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as MutableQueue from "effect/MutableQueue"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/**
 * What a subscriber's buffer does when it is full.
 *
 * - `sliding`: drop the oldest buffered item (counted), never stall anyone.
 * - `dropping`: drop the new item (counted), never stall anyone.
 * - `unbounded`: keep everything, never stall anyone; memory grows with the subscriber's lag.
 * - `backpressure`: keep everything, and make producers (stream effects, `send` callers) wait while this
 *   subscriber is `capacity` items behind.
 *
 * @internal
 */
export type Overflow = typeof overflows[number]

/** Every overflow policy: what option checks accept. @internal */
export const overflows = ["sliding", "dropping", "unbounded", "backpressure"] as const

/** @internal */
export interface SubscribeOptions {
  readonly capacity?: number | undefined
  readonly overflow?: Overflow | undefined
}

/**
 * A subscriber's buffer: an Effect `MutableQueue` behind the `Queue.BackingQueue` extension point, so that
 * the synchronous `Queue.unsafeOffer` applies the subscriber's own overflow policy and counts what it drops.
 */
class SubscriberBuffer<A> implements Queue.BackingQueue<A> {
  readonly [Queue.BackingQueueTypeId] = { _A: (_: A): A => _ }
  readonly items = MutableQueue.unbounded<A>()
  constructor(readonly bound: number, readonly overflow: Overflow, readonly onDrop: () => void) {}
  poll<Def>(def: Def): A | Def {
    return MutableQueue.poll(this.items, def)
  }
  pollUpTo(limit: number): Chunk.Chunk<A> {
    // MutableQueue.pollUpTo prepends to a Chunk per element; collecting into an array is linear.
    const taken: Array<A> = []
    while (taken.length < limit) {
      const item = MutableQueue.poll(this.items, MutableQueue.EmptyMutableQueue)
      if (item === MutableQueue.EmptyMutableQueue) break
      taken.push(item as A)
    }
    return Chunk.unsafeFromArray(taken)
  }
  offerAll(elements: Iterable<A>): Chunk.Chunk<A> {
    const rejected: Array<A> = []
    for (const element of elements) if (!this.offer(element)) rejected.push(element)
    return Chunk.unsafeFromArray(rejected)
  }
  offer(element: A): boolean {
    if (MutableQueue.length(this.items) >= this.bound) {
      if (this.overflow === "dropping") {
        this.onDrop()
        return false
      }
      if (this.overflow === "sliding") {
        MutableQueue.poll(this.items, undefined)
        this.onDrop()
      }
    }
    return MutableQueue.offer(this.items, element)
  }
  capacity(): number {
    return this.overflow === "sliding" || this.overflow === "dropping" ? this.bound : Number.POSITIVE_INFINITY
  }
  length(): number {
    return MutableQueue.length(this.items)
  }
}

interface Subscriber<A> {
  readonly buffer: SubscriberBuffer<A>
  readonly queue: Queue.Queue<A>
  readonly room: Effect.Latch
  closing: boolean
}

/**
 * Fans items out to subscribers, each with its own bounded buffer and overflow policy, synchronously and in
 * publish order, so a slow subscriber never delays the others.
 *
 * Nothing is allocated until someone subscribes or listens: most stores are never subscribed to, and a
 * store holds two hubs (its actions and its states).
 *
 * @internal
 */
export class Hub<A> {
  private subscribers: Set<Subscriber<A>> | undefined = undefined
  private listeners: Map<(item: A) => void, (() => void) | undefined> | undefined = undefined
  private backpressured = 0
  private closed = false

  constructor(
    /** A subscriber's buffer size, unless it asks for another. */
    private readonly capacity: number,
    /** A subscriber's overflow policy, unless it asks for another. */
    private readonly overflow: Overflow,
    private readonly onDrop: () => void
  ) {}

  get size(): number {
    return (this.subscribers?.size ?? 0) + (this.listeners?.size ?? 0)
  }

  publish(item: A): void {
    if (this.subscribers !== undefined && this.subscribers.size > 0) {
      for (const s of this.subscribers) s.queue.unsafeOffer(item)
    }
    if (this.listeners !== undefined && this.listeners.size > 0) {
      for (const listen of this.listeners.keys()) listen(item)
    }
  }

  /**
   * A synchronous listener, for the store's own request/response helpers; `onClose` runs when the hub
   * closes (the store shut down), so a waiting helper can fail instead of waiting for nothing.
   */
  listen(listener: (item: A) => void, onClose?: () => void): Effect.Effect<void, never, Scope.Scope> {
    // Already closed: nothing will be published, so the listener hears the close at once.
    if (this.closed) return Effect.sync(() => onClose?.())
    // On the scope itself, not with `acquireRelease`: that keeps a copy of the fiber's refs (and its span)
    // for as long as the listener lives, which for a host's journal is the store's whole life.
    return Effect.flatMap(Effect.scope, (scope) => {
      const listeners = this.listeners ??= new Map()
      listeners.set(listener, onClose)
      return Scope.addFinalizer(scope, Effect.sync(() => void this.listeners!.delete(listener)))
    })
  }

  /** Whether a backpressuring subscriber is full, so producers must wait with {@link awaitRoom}. */
  get mustWait(): boolean {
    if (this.backpressured === 0) return false
    for (const s of this.subscribers!) {
      if (s.buffer.overflow === "backpressure" && s.buffer.length() >= s.buffer.bound) return true
    }
    return false
  }

  /** Made the first time a producer must wait: only a hub with a backpressuring subscriber needs it. */
  private waitForRoom: Effect.Effect<void> | undefined = undefined

  /** Waits until no backpressuring subscriber is full. */
  get awaitRoom(): Effect.Effect<void> {
    return this.waitForRoom ??= Effect.suspend(() => {
      if (this.subscribers !== undefined) {
        for (const s of this.subscribers) {
          if (s.buffer.overflow === "backpressure" && s.buffer.length() >= s.buffer.bound && !s.closing) {
            s.room.unsafeClose()
            return Effect.zipRight(s.room.await, this.awaitRoom)
          }
        }
      }
      return Effect.void
    })
  }

  /**
   * Registers a subscriber at once (nothing published after this effect is missed) and returns its stream,
   * which ends after the hub closes and the subscriber has drained its buffer.
   */
  subscribe(options?: SubscribeOptions, initial?: () => A): Effect.Effect<Stream.Stream<A>, never, Scope.Scope> {
    // A positive integer: the store refuses anything else where it is given.
    const bound = options?.capacity ?? this.capacity
    const overflow = options?.overflow ?? this.overflow
    const acquire = Effect.gen(this, function*() {
      const buffer = new SubscriberBuffer<A>(bound, overflow, this.onDrop)
      const queue = yield* Queue.make<A>(buffer, Queue.droppingStrategy<A>())
      const subscriber: Subscriber<A> = { buffer, queue, room: Effect.unsafeMakeLatch(true), closing: false }
      if (initial !== undefined) queue.unsafeOffer(initial())
      if (this.closed) {
        subscriber.closing = true
        if (buffer.length() === 0) yield* Queue.shutdown(queue)
      } else {
        ;(this.subscribers ??= new Set()).add(subscriber)
        if (overflow === "backpressure") this.backpressured++
      }
      return subscriber
    })
    return Effect.acquireRelease(acquire, (subscriber) => this.remove(subscriber)).pipe(
      Effect.map((subscriber) =>
        Stream.fromQueue(subscriber.queue).pipe(
          Stream.mapChunksEffect((chunk) => this.afterTake(subscriber, chunk))
        )
      )
    )
  }

  private afterTake(subscriber: Subscriber<A>, chunk: Chunk.Chunk<A>): Effect.Effect<Chunk.Chunk<A>> {
    if (subscriber.buffer.length() < subscriber.buffer.bound) subscriber.room.unsafeOpen()
    return subscriber.closing && subscriber.buffer.length() === 0
      ? Effect.as(Queue.shutdown(subscriber.queue), chunk)
      : Effect.succeed(chunk)
  }

  private remove(subscriber: Subscriber<A>): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.subscribers?.delete(subscriber) && subscriber.buffer.overflow === "backpressure") this.backpressured--
      subscriber.room.unsafeOpen()
      return Queue.shutdown(subscriber.queue)
    })
  }

  /**
   * Closes the hub now (a listener hears it at once) and returns what ends every subscriber stream once it
   * has drained what it already holds; releases waiting producers.
   */
  close(): Effect.Effect<void> {
    this.closed = true
    if (this.listeners !== undefined) for (const onClose of this.listeners.values()) onClose?.()
    if (this.subscribers === undefined || this.subscribers.size === 0) return Effect.void
    const subscribers = [...this.subscribers]
    this.subscribers.clear()
    this.backpressured = 0
    return Effect.forEach(subscribers, (subscriber) => {
      subscriber.closing = true
      subscriber.room.unsafeOpen()
      return subscriber.buffer.length() === 0 ? Queue.shutdown(subscriber.queue) : Effect.void
    }, { discard: true })
  }
}
