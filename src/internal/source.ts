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
const cleanupOf = (r: Fx.Registration): (() => void) | undefined => typeof r === "function" ? r : r?.cleanup
const pauseOf = (r: Fx.Registration): (() => void) | undefined => typeof r === "object" && r !== null ? r.pause : undefined
const resumeOf = (r: Fx.Registration): (() => void) | undefined => typeof r === "object" && r !== null ? r.resume : undefined

const ATTACHED = 1
const DONE = 2
const WAITING = 4
const PAUSED = 8
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
  // Five flags in one number: thousands of idle sources each keep only what they must.
  private flags = 0
  private flag(bit: number): boolean {
    return (this.flags & bit) !== 0
  }
  private setFlag(bit: number, on: boolean): void {
    this.flags = on ? this.flags | bit : this.flags & ~bit
  }
  /** The registration has returned. */
  private get attached(): boolean {
    return this.flag(ATTACHED)
  }
  private set attached(on: boolean) {
    this.setFlag(ATTACHED, on)
  }
  /** Ended or stopped: emits are ignored, the cleanup has run or will when the registration returns. */
  private get done(): boolean {
    return this.flag(DONE)
  }
  private set done(on: boolean) {
    this.setFlag(DONE, on)
  }
  /** Waiting for subscribers to have room: emits go to the buffer. */
  private get waiting(): boolean {
    return this.flag(WAITING)
  }
  private set waiting(on: boolean) {
    this.setFlag(WAITING, on)
  }
  /** Its `pause` was called, and not its `resume` yet. */
  private get paused(): boolean {
    return this.flag(PAUSED)
  }
  private set paused(on: boolean) {
    this.setFlag(PAUSED, on)
  }
  /** The source said it is done, with items still waiting for room. */
  private get ending(): boolean {
    return this.flag(ENDING)
  }
  private set ending(on: boolean) {
    this.setFlag(ENDING, on)
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

  /** Whether the source has ended (or was stopped). */
  get ended(): boolean {
    return this.done
  }

  /** The registration returned: from now on, a stop runs its cleanup. */
  attach(registration: Fx.Registration): void {
    this.attached = true
    this.registering = undefined
    this.registration = registration
    // Ended (or cancelled) while registering: clean up what it just set up.
    if (this.done) this.cleanup()
  }

  private push(action: A): void {
    if (this.done || this.ending) return
    if (!this.run.alive) return this.stop()
    if (this.waiting) return this.hold(action)
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
    this.waiting = true
    const pause = pauseOf(this.registration)
    if (pause !== undefined && !this.paused) {
      this.paused = true
      pause()
    }
    this.owner.whenRoom(this)
  }

  /** Room again: what waited is fed, in order, until the source must wait again or all of it is fed. */
  drain(): void {
    if (this.done) return
    this.waiting = false
    const buffer = this.buffer
    while (buffer !== undefined && buffer.length > 0) {
      if (!this.run.alive) return this.stop()
      this.owner.feedSource(buffer.shift()!, this.run)
      if (this.owner.mustWait) return this.waitForRoom()
    }
    if (this.ending) return this.stop()
    if (this.paused) {
      this.paused = false
      resumeOf(this.registration)?.()
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
    this.buffer = undefined
    // Not registered yet: `attach` cleans up, or `abandon` ends it once the registration is interrupted.
    if (this.attached) this.cleanup()
    else this.registering?.unsafeInterruptAsFork(FiberId.none)
  }

  /** The registration never completed (interrupted, or it died): nothing to clean up, the source is over. */
  abandon(): void {
    if (this.attached) return
    this.done = true
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
