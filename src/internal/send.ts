import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { YieldWrap } from "effect/Utils"
import type * as Store from "../Store.js"
import type { StoreShutdownError } from "../StoreError.js"
import { TaskNode } from "./task.js"

/** What a {@link SendEffect} needs from its store. */
export interface Sender<A> {
  /** The send as an ordinary effect: the run loop's path, and the one that makes spans. */
  readonly sendViaRunLoop: (action: A) => Effect.Effect<Store.Task, StoreShutdownError>
  /**
   * Sends from inside `fiber`'s generator. Returns the task when the send is done (the generator goes on
   * at once, as after a function call); an effect to yield when the run loop must have a turn first (to
   * yield, to notice an interruption of the fiber by an effect the send started or cancelled, or to fail
   * the fiber); or `undefined` when the whole send must take the run loop's path (a tracer to make a span
   * for, a supervisor to show every operation to).
   */
  readonly sendInline: (
    action: A,
    fiber: Fiber.RuntimeFiber<unknown, unknown>
  ) => TaskNode | Effect.Effect<Store.Task, StoreShutdownError> | undefined
}

/**
 * The effect `store.send(action)` returns. Run as any effect (`Effect.flatMap`, `Effect.runPromise`), it
 * commits to {@link Sender.sendViaRunLoop}. Yielded from a generator (`yield* store.send(action)`, the
 * common case), it sends while the fiber advances the generator, and its one step is already done: the
 * `yield*` evaluates to the task without the generator yielding to Effect at all, so a send costs neither
 * a trip through the run loop nor a step of Effect's generator loop (each about as dear as the store's own
 * work). It is still lazy: nothing happens until the fiber runs the `yield*`.
 */
export class SendEffect<A> extends Effectable.Class<Store.Task, StoreShutdownError> {
  constructor(readonly sender: Sender<A>, readonly action: A) {
    super()
  }

  commit(): Effect.Effect<Store.Task, StoreShutdownError> {
    return this.sender.sendViaRunLoop(this.action)
  }

  override [Symbol.iterator](): Effect.EffectGenerator<Effect.Effect<Store.Task, StoreShutdownError>> {
    return new SendStep(this)
  }
}

/** The one step of `yield* send`: the same protocol as Effect's own single-shot generator. */
class SendStep<A> implements Effect.EffectGenerator<Effect.Effect<Store.Task, StoreShutdownError>> {
  private stepped = false
  constructor(private readonly send: SendEffect<A>) {}

  next(value: Store.Task): IteratorResult<YieldWrap<Effect.Effect<Store.Task, StoreShutdownError>>, Store.Task> {
    if (this.stepped) return { value, done: true }
    this.stepped = true
    const fiber = Fiber.getCurrentFiber()
    let sent: TaskNode | Effect.Effect<Store.Task, StoreShutdownError> | undefined
    try {
      sent = Option.isSome(fiber) ? this.send.sender.sendInline(this.send.action, fiber.value) : undefined
    } catch (defect) {
      // A defect of the send (never the reducer's: the store catches those) fails the fiber as a defect,
      // as on the run loop's path, instead of being thrown into the caller's generator.
      sent = Exit.die(defect)
    }
    // Done in place: the `yield*` ends here, and the generator goes on with the task.
    if (sent instanceof TaskNode) return { value: sent, done: true }
    return { value: new YieldWrap(sent ?? this.send), done: false }
  }

  return(value: Store.Task): IteratorResult<never, Store.Task> {
    this.stepped = true
    return { value, done: true }
  }

  throw(error: unknown): never {
    this.stepped = true
    throw error
  }

  [Symbol.iterator](): this {
    return this
  }
}
