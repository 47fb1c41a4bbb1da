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

  /**
   * Binds the fiber that runs the effect; interrupts it at once if the cancel came first. Released when
   * the fiber ends, by an observer of its own unless `releasedByCaller` (whose observer of the fiber
   * releases it with the rest).
   */
  attach(fiber: Fiber.RuntimeFiber<unknown, unknown>, releasedByCaller = false): void {
    this.fiber = fiber
    if (this.cancelled) fiber.unsafeInterruptAsFork(FiberId.none)
    else if (!releasedByCaller) fiber.addObserver(() => this.release())
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
  /**
   * The handles under each id: one handle, or a Set once there are several. Primitive ids (strings,
   * numbers: nearly all of them) are kept in a native Map, whose equality is theirs; others (`Data`
   * values, tuples of `Data`) in a `MutableHashMap`, made with the first. A Set and a hash bucket per id
   * would be most of what an idle cancellable effect holds.
   */
  private readonly primitive = new Map<unknown, Entry>()
  private structural: MutableHashMap.MutableHashMap<unknown, Entry> | undefined = undefined

  constructor(private readonly onCancelled: (count: number) => void, readonly now: () => bigint) {}

  private get(id: unknown): Entry | undefined {
    if (isPrimitive(id)) return this.primitive.get(id)
    // Hashed even while nothing is registered: an id whose hash throws fails where it is used, every time.
    return Option.getOrUndefined(MutableHashMap.get(this.structural ??= MutableHashMap.empty(), id))
  }

  private set(id: unknown, entry: Entry): void {
    if (isPrimitive(id)) this.primitive.set(id, entry)
    else MutableHashMap.set(this.structural ??= MutableHashMap.empty(), id, entry)
  }

  private delete(id: unknown): void {
    if (isPrimitive(id)) this.primitive.delete(id)
    else if (this.structural !== undefined) MutableHashMap.remove(this.structural, id)
  }

  /**
   * Registers a new effect under `id`, first cancelling the running ones when `cancelInFlight`, except
   * those it runs inside (`encloses`): `Fx.cancellable(Fx.cancellable(fx, id, { cancelInFlight: true }), id)`
   * is one effect, not a new one replacing the one in flight.
   */
  register(id: unknown, cancelInFlight: boolean, encloses: (handle: CancelHandle) => boolean = outside): CancelHandle {
    if (cancelInFlight) this.cancelInFlight(id, encloses)
    const handle = new CancelHandle(id, this)
    const existing = this.get(id)
    if (existing === undefined) this.set(id, handle)
    else if (existing instanceof CancelHandle) this.set(id, new Set([existing, handle]))
    else existing.add(handle)
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
    const entry = this.get(id)
    if (entry === undefined) return 0
    // The common case, one effect under the id and nothing spared: no arrays.
    if (entry instanceof CancelHandle && (spare === undefined || !spare(entry))) {
      this.delete(id)
      entry.cancel()
      this.onCancelled(1)
      return 1
    }
    const handles = entry instanceof CancelHandle ? [entry] : [...entry]
    const cancelled = spare === undefined ? handles : handles.filter((handle) => !spare(handle))
    if (cancelled.length === 0) return 0
    const kept = cancelled.length === handles.length ? [] : handles.filter((handle) => !cancelled.includes(handle))
    if (kept.length === 0) this.delete(id)
    else this.set(id, kept.length === 1 ? kept[0]! : new Set(kept))
    for (const handle of cancelled) handle.cancel()
    this.onCancelled(cancelled.length)
    return cancelled.length
  }

  remove(handle: CancelHandle): void {
    const entry = this.get(handle.id)
    if (entry === undefined) return
    if (entry === handle) return this.delete(handle.id)
    if (entry instanceof CancelHandle) return
    entry.delete(handle)
    if (entry.size === 1) this.set(handle.id, entry.values().next().value!)
    else if (entry.size === 0) this.delete(handle.id)
  }

  get size(): number {
    return this.primitive.size + (this.structural === undefined ? 0 : MutableHashMap.size(this.structural))
  }
}

type Entry = CancelHandle | Set<CancelHandle>

/** Ids whose equality is `===` (a native Map's), so no hashing is needed. */
const isPrimitive = (id: unknown): boolean => (typeof id !== "object" && typeof id !== "function") || id === null
