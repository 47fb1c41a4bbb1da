import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import type * as Fx from "../Fx.js"
import type { Run } from "./run.js"

/**
 * What a running push source needs from the store that runs it: one object (the runner) for all its
 * sources, so a source holds no closures of its own beyond its `emit`.
 *
 * @internal
 */
export interface SourceOwner<A> {
  /** Feeds one action back for `run`: reduced now, or queued behind the action being reduced. */
  feedSource(action: A, run: Run<A>): void
  /** Whether a backpressuring subscriber is full, so the source must wait. */
  readonly mustWait: boolean
  /** Counts an item its full buffer dropped (`store.stream_items.dropped`). */
  sourceDropped(): void
  /** Calls `source.drain()` once subscribers have room again (a short-lived fiber, only while waiting). */
  whenRoom(source: Source<A>): void
  /** The source is over (it ended, was stopped, or its cleanup threw: `thrown` is set). */
  sourceEnded(source: Source<A>, defect: { readonly thrown: unknown } | undefined): void
}

/** The parts of a registration, whichever form the user returned (kept as returned: nothing copied). */
/** @internal */
export const cleanupOf = (r: Fx.Registration): (() => void) | undefined => typeof r === "function" ? r : r?.cleanup
const pauseOf = (r: Fx.Registration): (() => void) | undefined => typeof r === "object" && r !== null ? r.pause : undefined
const resumeOf = (r: Fx.Registration): (() => void) | undefined => typeof r === "object" && r !== null ? r.resume : undefined

/** The registration has returned. */
const ATTACHED = 1
/** Ended or stopped: emits are ignored; the cleanup has run, or runs when the registration returns. */
const DONE = 2
/** Waiting for subscribers to have room: emits go to the buffer. */
const WAITING = 4
/** Its `pause` was called, and not its `resume` yet. */
const PAUSED = 8
/** The source said it is done, with items still waiting for room. */
const ENDING = 16

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
  private registration: Fx.Registration = undefined
  // Five flags in one number (see ATTACHED...ENDING): thousands of idle sources keep only what they must.
  private flags = 0
  private is(flag: number): boolean {
    return (this.flags & flag) !== 0
  }
  private mark(flag: number, on = true): void {
    this.flags = on ? this.flags | flag : this.flags & ~flag
  }
  /** What waits for room; made when first needed. */
  private buffer: Array<A> | undefined = undefined
  /** What the user's source calls. */
  readonly emit: Fx.Emit<A>
  /** The fiber running the registration, until it has: stopping the source meanwhile interrupts it. */
  registering: Fiber.RuntimeFiber<void, never> | undefined = undefined

  /** Set by a fiber that waits for the end (a source inside a sequence or a timeout). */
  onEnd: (() => void) | undefined = undefined

  constructor(
    private readonly owner: SourceOwner<A>,
    readonly run: Run<A>,
    private readonly bufferSize: number,
    private readonly overflow: Fx.Overflow
  ) {
    const emit = (action: A) => this.push(action)
    ;(emit as { end?: () => void }).end = () => this.end()
    this.emit = emit as Fx.Emit<A>
  }

  /** The registration returned: from now on, a stop runs its cleanup. */
  attach(registration: Fx.Registration): void {
    this.mark(ATTACHED)
    this.registering = undefined
    this.registration = registration
    // Ended (or cancelled) while registering: clean up what it just set up.
    if (this.is(DONE)) this.cleanup()
  }

  private push(action: A): void {
    if (this.is(DONE) || this.is(ENDING)) return
    if (!this.run.alive) return this.stop()
    if (this.is(WAITING)) return this.hold(action)
    this.owner.feedSource(action, this.run)
    if (this.owner.mustWait) this.waitForRoom()
  }

  private hold(action: A): void {
    const buffer = this.buffer ??= []
    if (buffer.length < this.bufferSize) return void buffer.push(action)
    this.owner.sourceDropped()
    if (this.overflow === "sliding") {
      buffer.shift()
      buffer.push(action)
    }
  }

  private waitForRoom(): void {
    this.mark(WAITING)
    const pause = pauseOf(this.registration)
    if (pause !== undefined && !this.is(PAUSED)) {
      this.mark(PAUSED)
      pause()
    }
    this.owner.whenRoom(this)
  }

  /** Room again: what waited is fed, in order, until the source must wait again or all of it is fed. */
  drain(): void {
    if (this.is(DONE)) return
    this.mark(WAITING, false)
    const buffer = this.buffer
    while (buffer !== undefined && buffer.length > 0) {
      if (!this.run.alive) return this.stop()
      this.owner.feedSource(buffer.shift()!, this.run)
      if (this.owner.mustWait) return this.waitForRoom()
    }
    if (this.is(ENDING)) return this.stop()
    if (this.is(PAUSED)) {
      this.mark(PAUSED, false)
      resumeOf(this.registration)?.()
    }
  }

  /** The source said it is done: what waits is still fed as room comes; then it ends. */
  private end(): void {
    this.mark(ENDING)
    if (!this.is(WAITING)) this.stop()
  }

  /** Stops the source (cancelled, interrupted, or ended): runs its cleanup once, synchronously. */
  stop(): void {
    if (this.is(DONE)) return
    this.mark(DONE)
    this.buffer = undefined
    // Not registered yet: `attach` cleans up, or `abandon` ends it once the registration is interrupted.
    if (this.is(ATTACHED)) this.cleanup()
    else this.registering?.unsafeInterruptAsFork(FiberId.none)
  }

  /** The registration never completed (interrupted, or it died): nothing to clean up, the source is over. */
  abandon(): void {
    if (this.is(ATTACHED)) return
    this.mark(DONE)
    this.buffer = undefined
    this.owner.sourceEnded(this, undefined)
  }

  private cleanup(): void {
    const cleanup = cleanupOf(this.registration)
    this.registration = undefined
    let defect: { readonly thrown: unknown } | undefined
    try {
      cleanup?.()
    } catch (thrown) {
      defect = { thrown }
    }
    this.owner.sourceEnded(this, defect)
  }
}
