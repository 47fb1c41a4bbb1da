import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as MutableHashMap from "effect/MutableHashMap"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import type { Job } from "./task.js"

/**
 * One effect registered under a cancellation id. It exists from the moment the action that returned the
 * effect is reduced, before any fiber runs it, so a cancel reduced next can never miss it; once cancelled,
 * the runner feeds nothing more back from it and the fiber, if any, is interrupted.
 *
 * @internal
 */
export class CancelHandle {
  cancelled = false
  /**
   * While the effect waits for its turn (registered ahead of its start, see `Runner.prepare`), the reduction
   * that registered it; `undefined` once the effect starts. A waiting effect is not in flight: a
   * `cancelInFlight` spares it, and so does a cancel from a step of a sequence of its own effect.
   */
  waitingIn: number | undefined = undefined
  private fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
  private job: Job | undefined
  private signal: Deferred.Deferred<void> | undefined
  span: Tracer.Span | undefined
  private ended = false
  private pins = 0

  constructor(readonly id: unknown, private readonly registry: CancelRegistry) {}

  /** Binds the fiber that runs the effect; interrupts it at once if the cancel came first. */
  attach(fiber: Fiber.RuntimeFiber<unknown, unknown>): void {
    this.fiber = fiber
    if (this.cancelled) fiber.unsafeInterruptAsFork(FiberId.none)
    else fiber.addObserver(() => this.release())
  }

  /**
   * Binds an effect that runs without a fiber (a push source): cancelling stops it; the runner releases
   * the handle when it ends.
   */
  attachJob(job: Job): void {
    this.job = job
    if (this.cancelled) job.stop()
  }

  /** Completes when the handle is cancelled: for effects run as part of a stream rather than a fiber. */
  get cancelled$(): Effect.Effect<void> {
    this.signal ??= Deferred.unsafeMake<void>(FiberId.none)
    if (this.cancelled) Deferred.unsafeDone(this.signal, Exit.void)
    return Deferred.await(this.signal)
  }

  cancel(): void {
    if (this.cancelled) return
    this.cancelled = true
    this.span?.event("cancelled", this.registry.now(), { "cancel.id": String(this.id) })
    if (this.signal !== undefined) Deferred.unsafeDone(this.signal, Exit.void)
    this.fiber?.unsafeInterruptAsFork(FiberId.none)
    this.job?.stop()
  }

  /** Forgets the handle once its effect has ended (once it is unpinned, if pinned). */
  release(): void {
    this.ended = true
    if (this.pins === 0) this.registry.remove(this)
  }

  /**
   * Keeps the handle registered after its effect ends, while an action the effect produced waits to be fed
   * back (held until the `Fx` being started has started): a cancel made meanwhile must still find it, so
   * the waiting action is dropped.
   */
  pin(): void {
    this.pins++
  }

  unpin(): void {
    if (--this.pins === 0 && this.ended) this.registry.remove(this)
  }
}

/** What encloses an effect registered outside any other: no handle. @internal */
export const outside = (_handle: CancelHandle): boolean => false

/**
 * The cancellation ids of one store (so two stores, or two tests, never cancel each other), keyed with
 * Effect equality.
 *
 * @internal
 */
export class CancelRegistry {
  private readonly byId = MutableHashMap.empty<unknown, Set<CancelHandle>>()

  constructor(private readonly onCancelled: (count: number) => void, readonly now: () => bigint) {}

  /**
   * Registers a new effect under `id`, first cancelling the running ones when `cancelInFlight`, except
   * those it runs inside (`encloses`): `Fx.cancellable(Fx.cancellable(fx, id, { cancelInFlight: true }), id)`
   * is one effect, not a new one replacing the one in flight.
   */
  register(id: unknown, cancelInFlight: boolean, encloses: (handle: CancelHandle) => boolean = outside): CancelHandle {
    if (cancelInFlight) this.cancelInFlight(id, encloses)
    const handle = new CancelHandle(id, this)
    const existing = MutableHashMap.get(this.byId, id)
    if (Option.isSome(existing)) existing.value.add(handle)
    else MutableHashMap.set(this.byId, id, new Set([handle]))
    return handle
  }

  /** Registers an effect that starts later, on behalf of reduction `reduction`: see {@link CancelHandle.waitingIn}. */
  reserve(id: unknown, reduction: number): CancelHandle {
    const handle = this.register(id, false)
    handle.waitingIn = reduction
    return handle
  }

  /** The effect of a waiting handle starts: it is in flight from now on, and its `cancelInFlight` acts now. */
  start(handle: CancelHandle, cancelInFlight: boolean, encloses: (handle: CancelHandle) => boolean): void {
    handle.waitingIn = undefined
    if (cancelInFlight) this.cancelInFlight(handle.id, (other) => other === handle || encloses(other))
  }

  private cancelInFlight(id: unknown, encloses: (handle: CancelHandle) => boolean): void {
    this.cancel(id, (handle) => handle.waitingIn !== undefined || encloses(handle))
  }

  /** Cancels every effect under `id` but those `spare` keeps; returns how many. */
  cancel(id: unknown, spare?: (handle: CancelHandle) => boolean): number {
    const handles = MutableHashMap.get(this.byId, id)
    if (Option.isNone(handles)) return 0
    let cancelled = handles.value
    if (spare === undefined) {
      MutableHashMap.remove(this.byId, id)
    } else {
      cancelled = new Set()
      for (const handle of handles.value) {
        if (!spare(handle)) cancelled.add(handle)
      }
      for (const handle of cancelled) handles.value.delete(handle)
      if (handles.value.size === 0) MutableHashMap.remove(this.byId, id)
    }
    for (const handle of cancelled) handle.cancel()
    if (cancelled.size > 0) this.onCancelled(cancelled.size)
    return cancelled.size
  }

  remove(handle: CancelHandle): void {
    const handles = MutableHashMap.get(this.byId, handle.id)
    if (Option.isNone(handles)) return
    handles.value.delete(handle)
    if (handles.value.size === 0) MutableHashMap.remove(this.byId, handle.id)
  }

  get size(): number {
    return MutableHashMap.size(this.byId)
  }
}
