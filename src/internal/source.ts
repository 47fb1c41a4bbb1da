import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import type * as Fx from "../Fx.js"

/** What a running push source needs from the store that runs it. @internal */
export interface SourceHost<A> {
  /** Whether the effect is still wanted (no cancel, no interruption); emits after that are ignored. */
  readonly alive: () => boolean
  /** Feeds one action back: reduced now, or queued behind the action being reduced. */
  readonly feed: (action: A) => void
  /** Whether a backpressuring subscriber is full, so the source must wait. */
  readonly mustWait: () => boolean
  /** Calls `then` once subscribers have room again (a short-lived fiber, only while waiting). */
  readonly whenRoom: (then: () => void) => void
  /** The source ended (it said so, it was stopped, or its cleanup threw, passed here). */
  readonly ended: (defect: { readonly thrown: unknown } | undefined) => void
}

/** A registration's parts, whichever form the user returned. */
interface Parts {
  readonly cleanup: (() => void) | undefined
  readonly pause: (() => void) | undefined
  readonly resume: (() => void) | undefined
}

const parts = (registration: Fx.Registration): Parts => {
  if (typeof registration === "function") return { cleanup: registration, pause: undefined, resume: undefined }
  if (typeof registration !== "object" || registration === null) return { cleanup: undefined, pause: undefined, resume: undefined }
  return { cleanup: registration.cleanup, pause: registration.pause, resume: registration.resume }
}

/**
 * One running `Fx.subscribe`: the user's source calls `emit` with each item, and the item is fed to the
 * store at once, on the source's own callback. Nothing waits between items: no fiber, no stream, only
 * this object and the source's own listener. Cancelling runs the cleanup synchronously.
 *
 * Backpressure (a backpressuring subscriber is full): a source that can pause is paused, and resumed when
 * there is room; what it emits meanwhile, and everything a source that cannot pause emits, waits in a
 * buffer of `bufferSize` that drops the newest (`dropping`) or the oldest (`sliding`) item when full.
 *
 * @internal
 */
export class Source<A> {
  private parts: Parts | undefined
  private attached = false
  private done = false
  private waiting = false
  private paused = false
  /** The source said it is done, with items still waiting for room. */
  private ending = false
  private readonly buffer: Array<A> = []
  /** What the user's source calls. */
  readonly emit: Fx.Emit<A>
  /** The fiber running the registration, until it has: stopping the source meanwhile interrupts it. */
  registering: Fiber.RuntimeFiber<void, never> | undefined = undefined

  constructor(
    private readonly host: SourceHost<A>,
    private readonly bufferSize: number,
    private readonly overflow: Fx.Overflow
  ) {
    const emit = (action: A) => this.push(action)
    this.emit = Object.assign(emit, { end: () => this.end() })
  }

  /** Whether the source has ended (or was stopped). */
  get ended(): boolean {
    return this.done
  }

  /** The registration returned: from now on, a stop runs its cleanup. */
  attach(registration: Fx.Registration): void {
    this.attached = true
    this.registering = undefined
    this.parts = parts(registration)
    // Ended (or cancelled) while registering: clean up what it just set up.
    if (this.done) this.cleanup()
  }

  private push(action: A): void {
    if (this.done || this.ending) return
    if (!this.host.alive()) return this.stop()
    if (this.waiting) return this.hold(action)
    this.host.feed(action)
    if (this.host.mustWait()) this.waitForRoom()
  }

  private hold(action: A): void {
    if (this.buffer.length < this.bufferSize) {
      this.buffer.push(action)
    } else if (this.overflow === "sliding") {
      this.buffer.shift()
      this.buffer.push(action)
    }
  }

  private waitForRoom(): void {
    this.waiting = true
    if (this.parts?.pause !== undefined && !this.paused) {
      this.paused = true
      this.parts.pause()
    }
    this.host.whenRoom(() => this.drain())
  }

  /** Room again: what waited is fed, in order, until the source must wait again or all of it is fed. */
  private drain(): void {
    if (this.done) return
    this.waiting = false
    while (this.buffer.length > 0) {
      if (!this.host.alive()) return this.stop()
      this.host.feed(this.buffer.shift()!)
      if (this.host.mustWait()) return this.waitForRoom()
    }
    if (this.ending) return this.stop()
    if (this.paused) {
      this.paused = false
      this.parts?.resume?.()
    }
  }

  /** The source said it is done: what waits is still fed as room comes; then it ends. */
  private end(): void {
    this.ending = true
    if (!this.waiting) this.stop()
  }

  /** Stops the source (cancelled, interrupted, or ended): runs its cleanup once, synchronously. */
  stop(): void {
    if (this.done) return
    this.done = true
    this.buffer.length = 0
    // Not registered yet: `attach` cleans up, or `abandon` ends it once the registration is interrupted.
    if (this.attached) this.cleanup()
    else this.registering?.unsafeInterruptAsFork(FiberId.none)
  }

  /** The registration never completed (interrupted, or it died): nothing to clean up, the source is over. */
  abandon(): void {
    if (this.attached) return
    this.done = true
    this.buffer.length = 0
    this.host.ended(undefined)
  }

  private cleanup(): void {
    const cleanup = this.parts?.cleanup
    this.parts = undefined
    let defect: { readonly thrown: unknown } | undefined
    try {
      cleanup?.()
    } catch (thrown) {
      defect = { thrown }
    }
    this.host.ended(defect)
  }
}
