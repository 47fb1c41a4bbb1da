import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import type * as Fx from "../Fx.js"
import { type CancelHandle, CancelRegistry, outside } from "./cancel.js"
import { type Canceller, currentInEffect, InEffect } from "./cancelNow.js"
import { feedStream } from "./feedStream.js"
import { isFx } from "./fx.js"
import type { Hub } from "./hub.js"
import type { EffectType, StoreMetrics } from "./metrics.js"
import { Run } from "./run.js"
import { StreamOf } from "./streamOf.js"
import { Source } from "./source.js"
import { TaskNode } from "./task.js"
import { pendingKey, ThrottleWindows } from "./throttle.js"

/** @internal */
export type Fork = (effect: Effect.Effect<void>) => Fiber.RuntimeFiber<void, never>

/** What the runner needs from its store. @internal */
export interface Host<A> {
  readonly label: string
  readonly metrics: StoreMetrics
  readonly actions: Hub<A>
  readonly clock: Clock.Clock
  readonly fork: Fork
  /** Told of an effect's defect (the TestStore fails the test on it). */
  readonly onEffectDefect?: ((action: A, cause: Cause.Cause<unknown>) => void) | undefined
  /** Whether a tracer that records spans is installed; without one, the store makes no spans at all. */
  readonly traced: boolean
  /** Where actions produced by effects go: reduced at once, or queued behind the action being reduced. */
  dispatch(action: A, task: TaskNode, span: Tracer.AnySpan | undefined): void
  /**
   * Reports a node inside the `Fx` returned for `cause` that is not an `Fx` (put there by a cast past the
   * types): a bug in the reducer, reported as the store reports a reducer that returned no `Fx` at all.
   * The runner skips the node and runs the rest.
   */
  malformed(node: unknown, cause: A): void
}

/** Whether starting the effect cancels those in flight under its id (a debounce replaces the pending one). */
const replaces = (fx: Fx.Cancellable<unknown, unknown> | Fx.Debounce<unknown, unknown>): boolean =>
  fx._tag === "Debounce" || fx.cancelInFlight

/** @internal */
export const actionTag = (action: unknown): string =>
  typeof action === "object" && action !== null && "_tag" in action && typeof action._tag === "string"
    ? action._tag
    : typeof action === "string"
    ? action
    : typeof action

/** An action fed back while an `Fx` was being started, held until the start is known to have succeeded. */
interface Fed<A> {
  readonly action: A
  readonly task: TaskNode
  readonly span: Tracer.AnySpan | undefined
  readonly run: Run<A> | undefined
}

/**
 * What starting one reduced action's `Fx` has done so far, so that a throw part-way (a cancellation id
 * whose `Hash` throws, a node cast past its types) can be undone, and the store can keep the previous
 * state as it does for a reducer that threw. One per runner, reused: starts never nest.
 */
class Starting<A> {
  active = false
  readonly fed: Array<Fed<A>> = []
  readonly fibers: Array<Fiber.RuntimeFiber<void, never>> = []
  readonly handles: Array<CancelHandle> = []

  clear(): void {
    this.active = false
    if (this.fed.length > 0) this.fed.length = 0
    if (this.fibers.length > 0) this.fibers.length = 0
    if (this.handles.length > 0) this.handles.length = 0
  }
}

/**
 * Interprets `Fx` values for one store: what must happen while the action is reduced happens then
 * (queueing `Send` actions, cancelling, registering cancellation ids), and everything that takes time runs
 * in fibers forked from the store's runtime and tracked by the action's task.
 *
 * @internal
 */
export class Runner<A, R> implements Canceller {
  // Each made on first use: a store whose effects are all futures never registers an id or a window.
  private cancelRegistry: CancelRegistry | undefined = undefined
  private throttleWindows: ThrottleWindows | undefined = undefined
  private streamOf: StreamOf<A, R> | undefined = undefined

  /** The store's cancellation ids. */
  get cancellations(): CancelRegistry {
    return this.cancelRegistry ??= new CancelRegistry(
      this.host.metrics.onCancelled,
      () => this.host.clock.unsafeCurrentTimeNanos()
    )
  }

  private get throttles(): ThrottleWindows {
    return this.throttleWindows ??= new ThrottleWindows()
  }

  /** Turns the `Fx` under an item combinator into the stream of what it produces. */
  get streams(): StreamOf<A, R> {
    return this.streamOf ??= new StreamOf(this)
  }

  /** Counts the reductions that started an effect: the one being started is `reduction`. */
  private reduction = 0

  /**
   * The steps of sequences, each with the reduction that started its effect (see {@link cancel}); made
   * with the first step.
   */
  private steps: WeakMap<TaskNode, number> | undefined = undefined

  private readonly starting = new Starting<A>()

  constructor(readonly host: Host<A>) {}

  // ---------------------------------------------------------------------------
  // while reducing
  // ---------------------------------------------------------------------------

  /**
   * Starts the `Fx` a reducer just returned, all of it or nothing: if starting it throws, what it had
   * started is undone (the actions it fed back are dropped, its fibers interrupted, its cancellation ids
   * released) and the throw reaches the store, which reports it as a reducer defect. Only cancellations it
   * made and throttle windows it opened stay: those act on other effects.
   */
  startReduced(fx: Fx.Fx<A, R>, task: TaskNode, span: Tracer.AnySpan | undefined, cause: A): void {
    // Nothing can be left half done. (The store counts a reduction's own `Fx.none` without a runner.)
    if (fx._tag === "None") return this.executed("none")
    const starting = this.starting
    // Never the case (nothing is reduced while an `Fx` starts), but it would be part of the outer start.
    if (starting.active) return this.start(fx, task, span, cause)
    starting.active = true
    this.reduction++
    try {
      this.start(fx, task, span, cause)
    } catch (defect) {
      this.undo(starting)
      starting.clear()
      throw defect
    }
    starting.active = false
    // Fed back in the order they were produced, behind the action being reduced, as if never held.
    for (const fed of starting.fed) {
      this.host.dispatch(fed.action, fed.task, fed.span)
      fed.task.release()
      fed.run?.unpin()
    }
    starting.clear()
  }

  private undo(starting: Starting<A>): void {
    // Cancelled first, so nothing under them feeds back while their fibers wind down.
    for (const handle of starting.handles) {
      handle.cancel()
      handle.release()
    }
    for (const fiber of starting.fibers) fiber.unsafeInterruptAsFork(FiberId.none)
    // Only then let go: a sequence whose step this ends is already being interrupted, not resumed at once.
    for (const fed of starting.fed) {
      fed.task.release()
      fed.run?.unpin()
    }
  }

  /** Feeds an action back; while an `Fx` is being started, holds it until the start has succeeded. */
  private feedback(action: A, task: TaskNode, span: Tracer.AnySpan | undefined, run?: Run<A>): void {
    if (!this.starting.active) return this.host.dispatch(action, task, span)
    // Pending meanwhile, as a queued action is: a sequential step must not count as done before it.
    task.hold()
    // A cancel started later in the same `Fx` must still find the effect that produced it.
    run?.pin()
    this.starting.fed.push({ action, task, span, run })
  }

  /** Starts an `Fx` a reducer just returned. Synchronous: it runs inside the reduction of `cause`. */
  start(fx: Fx.Fx<A, R>, task: TaskNode, span: Tracer.AnySpan | undefined, cause: A): void {
    if (!isFx(fx)) return this.host.malformed(fx, cause)
    switch (fx._tag) {
      case "None":
        return this.executed("none")
      case "Send":
        this.executed("send")
        for (const action of fx.actions) this.feedback(action, task, span)
        return
      case "Parallel":
        this.executed("parallel")
        for (const branch of fx.fxs) this.start(branch, task, span, cause)
        return
      case "Cancel":
        this.executed("cancel")
        return this.cancel(fx.id, task)
      case "Cancellable":
      case "Debounce":
        this.executed(fx._tag === "Cancellable" ? "cancellable" : "debounce")
        return this.startUnder(this.register(fx), this.delayOf(fx), fx.fx, task, span, cause)
      case "Throttle": {
        this.executed("throttle")
        const decision = this.decide(fx)
        if (decision._tag === "Run") return this.start(fx.fx, task, span, cause)
        if (decision._tag === "Later") {
          this.startUnder(decision.handle, decision.delay, fx.fx, task, span, cause)
        }
        return
      }
      case "Subscribe":
        return this.startSource(fx, new Run<A>(task, span, cause, undefined, undefined, undefined, this.reduction), undefined)
      case "Future":
      case "Stream":
      case "Delay":
      case "Sequential":
      case "Timeout":
      case "Batch":
      case "RateLimit": {
        const run = new Run<A>(task, span, cause, undefined, undefined, this.prepare(fx, undefined, false), this.reduction)
        this.forkRun(this.interpret(fx, run), run)
        return
      }
      default:
        // An object that passes `isFx` with a `_tag` no constructor makes.
        return this.host.malformed(fx, cause)
    }
  }

  /** Starts `inner` in its own fiber under a cancellation handle, after `delay` if given. */
  private startUnder(
    handle: CancelHandle,
    delay: Effect.Effect<void> | undefined,
    inner: Fx.Fx<A, R>,
    task: TaskNode,
    span: Tracer.AnySpan | undefined,
    cause: A
  ): void {
    // A cancellable source needs no fiber either: the handle stops it.
    if (delay === undefined && isFx(inner) && inner._tag === "Subscribe") {
      return this.startSource(inner, new Run<A>(task, span, cause, handle, undefined, undefined, this.reduction), handle)
    }
    // Behind a delay (a debounce, a throttled "latest"), nested cancellables wait for it to end: a
    // `cancelInFlight` inside must not cancel the running effect it replaces before then.
    const prepared = this.prepare(inner, handle, delay !== undefined)
    const run = new Run<A>(task, span, cause, handle, undefined, prepared, this.reduction)
    const body = this.interpret(inner, run)
    // Released by the fiber's observer in `forkRun` (the run carries the handle).
    handle.attach(this.forkRun(delay === undefined ? body : Effect.zipRight(delay, body), run), true)
  }

  /**
   * Starts a push source that no fiber waits on: its registration runs in a short-lived fiber, and from
   * then on the source lives as a job of the task (and of `handle`, its cancellation) until it ends. This
   * is what makes an idle `Fx.subscribe` cost an object and a listener, not a suspended fiber.
   */
  private startSource(fx: Fx.Subscribe<A, R>, run: Run<A>, handle: CancelHandle | undefined): void {
    const source = new Source<A>(this, run, fx.bufferSize, fx.overflow)
    run.task.addJob(source, run.cause)
    handle?.attachJob(source)
    // After the reduction, as a stream's first pull: a cancel reduced next finds it not yet listening.
    const registering = this.host.fork(this.registerSource(fx, source, run, true) as Effect.Effect<void>)
    source.registering = registering
    if (this.starting.active) this.starting.fibers.push(registering)
  }

  /** Runs `fx`'s registration for `source` (with a span and the defect guard of every leaf). */
  private registerSource(fx: Fx.Subscribe<A, R>, source: Source<A>, run: Run<A>, yieldFirst = false): Effect.Effect<void, never, R> {
    const register = this.leaf("subscribe", run, () =>
      Effect.map(Effect.suspend(() => fx.register(source.emit)), (registration) => source.attach(registration)))
    // Interrupted or dead before it registered: nothing to clean up, and the source is over.
    return Effect.ensuring(yieldFirst ? Effect.zipRight(Effect.yieldNow(), register) : register, Effect.sync(() => source.abandon()))
  }

  // The runner is every source's owner (see `SourceOwner`): a source keeps no closures of its own.

  feedSource(action: A, run: Run<A>): void {
    this.feedback(action, run.task, run.span, run)
  }

  get mustWait(): boolean {
    return this.host.actions.mustWait
  }

  sourceDropped(): void {
    this.host.metrics.streamItemsDropped(1)
  }

  whenRoom(source: Source<A>): void {
    this.host.fork(Effect.zipRight(this.host.actions.awaitRoom, Effect.sync(() => source.drain())))
  }

  sourceEnded(source: Source<A>, defect: { readonly thrown: unknown } | undefined): void {
    if (defect !== undefined) this.host.fork(this.died("subscribe", source.run, Cause.die(defect.thrown), undefined))
    if (source.onEnd !== undefined) return source.onEnd()
    source.run.task.endJob(source)
    // Without a fiber, the source's run carries the handle that stops it (see `startUnder`).
    source.run.handle?.release()
  }

  private forkRun(effect: Effect.Effect<void, never, R>, run: Run<A>): Fiber.RuntimeFiber<void, never> {
    const fiber = this.host.fork(effect as Effect.Effect<void>)
    if (this.starting.active) this.starting.fibers.push(fiber)
    run.task.add(fiber, run.cause)
    // One observer for everything that ends with the fiber: an idle effect keeps each one's closure.
    fiber.addObserver(() => this.runEnded(fiber, run))
    return fiber
  }

  /** `run`'s fiber has ended: its task, its cancellation handle and what it had registered let go of it. */
  private runEnded(fiber: Fiber.RuntimeFiber<void, never>, run: Run<A>): void {
    run.task.fiberEnded(fiber)
    // Those its fiber never reached (a step after a timeout, a throttled effect dropped) are let go with it.
    run.prepared?.forEach((uses) => uses.forEach((handle) => handle.release()))
    run.handle?.release()
  }

  /**
   * Registers, now, every cancellable (and debounced) effect nested in `fx`, so that a cancel reduced next
   * finds it whether its fiber has reached it or not. One that starts without waiting is in flight at once
   * (its `cancelInFlight` acts now). One that waits for its turn (a later step of an `Fx.sequential`, behind
   * the wait of a debounce or a throttle) is registered as waiting, and comes into flight when it starts
   * (see {@link handleFor}). `fx` runs under `handle`, if given, and only after a wait if `waiting`.
   */
  private prepare(
    fx: Fx.Fx<A, R>,
    handle: CancelHandle | undefined,
    waiting: boolean
  ): Map<Fx.Fx<A, any>, Array<CancelHandle>> | undefined {
    let prepared: Map<Fx.Fx<A, any>, Array<CancelHandle>> | undefined
    const visit = (node: Fx.Fx<any, R>, waiting: boolean, encloses: (handle: CancelHandle) => boolean): void => {
      // Reported when it is interpreted.
      if (!isFx(node)) return
      switch (node._tag) {
        case "Cancellable":
        case "Debounce": {
          const registered = waiting
            ? this.registered(this.cancellations.reserve(node.id, this.reduction))
            : this.register(node, encloses)
          prepared ??= new Map()
          const uses = prepared.get(node)
          if (uses === undefined) prepared.set(node, [registered])
          else uses.push(registered)
          return visit(node.fx, waiting || node._tag === "Debounce", (around) => around === registered || encloses(around))
        }
        case "Throttle":
          // Whether, and when, it starts is decided when its fiber reaches it.
          return visit(node.fx, true, encloses)
        case "Parallel":
          return node.fxs.forEach((branch) => visit(branch, waiting, encloses))
        case "Sequential":
          return node.fxs.forEach((step, i) => visit(step, waiting || i > 0, encloses))
        case "Timeout":
        case "Batch":
        case "RateLimit":
          return visit(node.fx, waiting, encloses)
        default:
          return
      }
    }
    visit(fx, waiting, handle === undefined ? outside : (around) => around === handle)
    return prepared
  }

  /**
   * The handle of a cancellable or debounced node its fiber has reached: the one the action's reduction
   * registered, which comes into flight now if it was waiting, or else a new one.
   */
  handleFor(fx: Fx.Cancellable<A, R> | Fx.Debounce<A, R>, run: Run<A>): CancelHandle {
    const encloses = (handle: CancelHandle) => run.isUnder(handle)
    const prepared = run.takePrepared(fx)
    if (prepared === undefined) return this.register(fx, encloses)
    if (prepared.waitingIn !== undefined && !prepared.cancelled) {
      this.cancellations.start(prepared, replaces(fx), encloses)
    }
    return prepared
  }

  /** A task for one step of a sequence in `run`'s effect, known as such to {@link cancel}. */
  stepTask(run: Run<A>): TaskNode {
    const task = new TaskNode(run.task, run.cause)
    ;(this.steps ??= new WeakMap()).set(task, run.reduction)
    return task
  }

  /**
   * Cancels what runs under `id`, waiting or in flight, and a throttled effect waiting for its window under
   * the same id. `task` is where the cancel comes from (the task of the reduction that returned it, or of
   * the effect it is a node of). A cancel that comes from a step of a sequence (an `Fx.cancel` step, an
   * action a step fed back) leaves alone what its own effect registered for later: within one effect a
   * sequence runs in order, so `Fx.sequential(Fx.cancel(id), Fx.cancellable(fx, id))` cancels the old and
   * starts the new, as TCA's `.concatenate` does.
   */
  cancel(id: unknown, task: TaskNode): void {
    // No sequence has made a step yet: nothing to spare, and no closure to make per cancel.
    const spare = this.steps === undefined
      ? undefined
      : (handle: CancelHandle) => handle.waitingIn !== undefined && this.isStepOf(task, handle.waitingIn)
    this.cancellations.cancel(id, spare)
    // A throttled effect waits under its own key only once some throttle has decided: none, no look-up.
    if (this.throttleWindows !== undefined) this.cancellations.cancel(pendingKey(id))
  }

  /** Whether `task` is, or descends from, a step of a sequence in the effect reduction `reduction` started. */
  private isStepOf(task: TaskNode, reduction: number): boolean {
    if (this.steps === undefined) return false
    for (let node: TaskNode | undefined = task; node !== undefined; node = node.parent) {
      if (this.steps.get(node) === reduction) return true
    }
    return false
  }

  /**
   * Registers a cancellable or debounced effect under its id (a debounce always replaces the pending one).
   * Its `cancelInFlight` spares the effects it runs inside, which `encloses` tells.
   */
  register(fx: Fx.Cancellable<A, R> | Fx.Debounce<A, R>, encloses: (handle: CancelHandle) => boolean = outside): CancelHandle {
    return this.registered(this.cancellations.register(fx.id, replaces(fx), encloses))
  }

  private registered(handle: CancelHandle): CancelHandle {
    if (this.starting.active) this.starting.handles.push(handle)
    return handle
  }

  /** What must elapse before a cancellable or debounced effect starts. */
  delayOf(fx: Fx.Cancellable<A, R> | Fx.Debounce<A, R>): Effect.Effect<void> | undefined {
    return fx._tag === "Debounce" ? Effect.sleep(fx.duration) : undefined
  }

  /**
   * Whether a throttled effect runs now, is dropped, or (with `latest`) waits for the window to end under
   * its own cancellation key, so that a newer one replaces it; when it starts it opens the next window.
   */
  decide(fx: Fx.Throttle<A, R>):
    | { readonly _tag: "Run" }
    | { readonly _tag: "Drop" }
    | { readonly _tag: "Later"; readonly handle: CancelHandle; readonly delay: Effect.Effect<void> }
  {
    const decision = this.throttles.decide(fx.id, fx.duration, fx.latest, this.host.clock.unsafeCurrentTimeMillis())
    if (decision._tag !== "Later") return decision
    return {
      _tag: "Later",
      handle: this.registered(this.cancellations.register(decision.key, true)),
      delay: Effect.zipRight(
        Effect.sleep(decision.after),
        Effect.sync(() => this.throttles.open(fx.id, fx.duration, this.host.clock.unsafeCurrentTimeMillis()))
      )
    }
  }

  // ---------------------------------------------------------------------------
  // inside fibers
  // ---------------------------------------------------------------------------

  /** Runs an `Fx` in the current fiber, feeding produced actions back into `run`'s task. */
  interpret(fx: Fx.Fx<A, R>, run: Run<A>): Effect.Effect<void, never, R> {
    if (!isFx(fx)) return this.skipMalformed(fx, run)
    switch (fx._tag) {
      case "None":
      case "Send":
      case "Cancel":
        return this.attempt(fx._tag === "None" ? "none" : fx._tag === "Send" ? "send" : "cancel", run, () => {
          if (!run.alive) return Effect.void
          this.start(fx, run.task, run.span, run.cause)
          return this.host.actions.mustWait ? this.host.actions.awaitRoom : Effect.void
        })
      case "Parallel":
        return Effect.suspend(() => {
          this.executed("parallel")
          return Effect.forEach(fx.fxs, (branch) => this.interpret(branch, run), {
            concurrency: "unbounded",
            discard: true
          })
        })
      case "Sequential":
        return Effect.suspend(() => {
          this.executed("sequential")
          return Effect.forEach(fx.fxs, (step) => {
            const stepTask = this.stepTask(run)
            return Effect.zipRight(this.interpret(step, run.withTask(stepTask)), stepTask.awaitDoneAtOnce())
          }, { discard: true })
        })
      case "Cancellable":
      case "Debounce": {
        const type = fx._tag === "Cancellable" ? "cancellable" : "debounce"
        return this.attempt(type, run, () => {
          this.executed(type)
          return this.runUnder(this.handleFor(fx, run), this.delayOf(fx), fx.fx, run)
        })
      }
      case "Throttle":
        return this.attempt("throttle", run, () => {
          this.executed("throttle")
          const decision = this.decide(fx)
          return decision._tag === "Run"
            ? this.interpret(fx.fx, run)
            : decision._tag === "Later"
            ? this.runUnder(decision.handle, decision.delay, fx.fx, run)
            : Effect.void
        })
      case "Timeout":
        return fx.mode === "deadline"
          ? this.attempt("timeout", run, () => {
            this.executed("timeout")
            return Effect.timeoutOption(this.interpret(fx.fx, run), fx.duration).pipe(
              Effect.flatMap((finished) => {
                if (Option.isSome(finished)) return Effect.void
                this.markTimedOut(fx, run)
                return Option.isSome(fx.onTimeout) ? this.feed(fx.onTimeout.value, run) : Effect.void
              })
            )
          })
          : this.leaf("timeout", run, (span) => feedStream(this.host, this.streams.of(fx, run), true, run.withSpan(span), span))
      case "Batch":
      case "RateLimit":
        return this.leaf(
          fx._tag === "Batch" ? "batch" : "rate_limit",
          run,
          (span) => feedStream(this.host, this.streams.of(fx, run), true, run.withSpan(span), span)
        )
      case "Future":
        return this.leaf("future", run, (span) =>
          Effect.flatMap(fx.effect, (result) =>
            Option.isSome(result) ? this.feed(result.value, run.withSpan(span)) : Effect.void))
      case "Delay":
        return this.leaf("delay", run, (span) =>
          Effect.zipRight(Effect.sleep(fx.duration), this.feed(fx.action, run.withSpan(span))))
      case "Stream":
        return this.leaf("stream", run, (span) => feedStream(this.host, fx.stream, false, run.withSpan(span), span))
      case "Subscribe":
        // Inside a fiber (a step of a sequence, under a timeout): the fiber waits for the source to end,
        // so the combinators around it see it run; interrupting the fiber stops the source.
        return Effect.suspend(() => {
          const source = new Source<A>(this, run, fx.bufferSize, fx.overflow)
          let over = false
          source.onEnd = () => void (over = true)
          const untilEnded = Effect.async<void>((resume) => {
            if (over) return resume(Effect.void)
            source.onEnd = () => resume(Effect.void)
            return Effect.sync(() => source.stop())
          })
          return Effect.zipRight(this.registerSource(fx, source, run), untilEnded)
        })
      default:
        return this.skipMalformed(fx, run)
    }
  }

  /** Reports a node that is not an `Fx` when the fiber reaches it, and goes on as if it were `Fx.none`. */
  skipMalformed(node: unknown, run: Run<A>): Effect.Effect<void> {
    return Effect.sync(() => this.host.malformed(node, run.cause))
  }

  /**
   * The synchronous part of starting a node inside a fiber (registering its cancellation id, reading its
   * duration, feeding its actions back), as a defect of that effect if it throws: reported, and its
   * siblings (the next steps of an `Fx.sequential`) go on. The reduction that returned it is long done.
   */
  private attempt(
    type: EffectType,
    run: Run<A>,
    body: () => Effect.Effect<void, never, R>
  ): Effect.Effect<void, never, R> {
    return Effect.suspend(() => {
      try {
        return body()
      } catch (defect) {
        return this.died(type, run, Cause.die(defect), undefined)
      }
    })
  }

  /** Reports an effect's defect: counted, recorded on its span, logged with the action that started it. */
  private died(type: EffectType, run: Run<A>, failure: Cause.Cause<unknown>, span: Tracer.Span | undefined): Effect.Effect<void> {
    this.host.metrics.effectDefect()
    this.host.onEffectDefect?.(run.cause, failure)
    span?.attribute("effect.defect", Cause.pretty(failure))
    return Effect.logError(`store "${this.host.label}": a ${type} effect started by ${actionTag(run.cause)} died`, failure)
  }

  /** Runs `inner` in a child fiber under a cancellation handle, after `delay` if given, and waits for it. */
  private runUnder(
    handle: CancelHandle,
    delay: Effect.Effect<void> | undefined,
    inner: Fx.Fx<A, R>,
    run: Run<A>
  ): Effect.Effect<void, never, R> {
    if (handle.cancelled) return Effect.void
    const body = this.interpret(inner, run.under(handle))
    return Effect.fork(delay === undefined ? body : Effect.zipRight(delay, body)).pipe(
      Effect.flatMap((fiber) => {
        handle.attach(fiber)
        return Fiber.await(fiber)
      }),
      Effect.asVoid
    )
  }

  /** Counts a timeout and marks the span; the caller delivers `onTimeout`. */
  markTimedOut(fx: Fx.Timeout<A, R>, run: Run<A>): void {
    this.host.metrics.timedOut()
    if (run.span?._tag === "Span") {
      run.span.event("timeout", this.host.clock.unsafeCurrentTimeNanos(), { "timeout.mode": fx.mode })
    }
  }

  /** Feeds one produced action back, unless its effect was cancelled; waits while a backpressuring subscriber is full. */
  feed(action: A, run: Run<A>): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (!run.alive) return Effect.void
      this.feedback(action, run.task, run.span, run)
      return this.host.actions.mustWait ? this.host.actions.awaitRoom : Effect.void
    })
  }

  /**
   * Wraps one effect that does work: counts it, gives it a span, and turns a defect into a report (log,
   * metric, span attribute) so that it never reaches the store or sibling effects.
   */
  private leaf(
    type: EffectType,
    run: Run<A>,
    body: (span: Tracer.Span | undefined) => Effect.Effect<void, never, R>
  ): Effect.Effect<void, never, R> {
    return Effect.suspend(() => {
      this.executed(type)
      if (!this.host.traced) return this.guard(type, run, body, undefined)
      return Effect.useSpan(
        "store.effect",
        {
          ...(run.span === undefined ? {} : { parent: run.span }),
          attributes: { "store.label": this.host.label, "effect.type": type, "action.tag": actionTag(run.cause) },
          captureStackTrace: false
        },
        (span) => {
          if (run.handle !== undefined) run.handle.span = span
          return this.guard(type, run, body, span)
        }
      )
    })
  }

  /**
   * `body` with `Fx.cancelNow` set for it, its defect turned into a report. The guard's frame stays on the
   * fiber's stack while the effect runs, holding what it wraps and what its handler captures: a thunk,
   * not the built effect tree (about 0.5 KB less per idle stream), made in a scope of its own, which
   * holds these few values rather than `leaf`'s.
   */
  private guard(
    type: EffectType,
    run: Run<A>,
    body: (span: Tracer.Span | undefined) => Effect.Effect<void, never, R>,
    span: Tracer.Span | undefined
  ): Effect.Effect<void, never, R> {
    return Effect.catchAllCause(
      // A delay runs no code of the user's; everything else may call `Fx.cancelNow`. Set on the fiber, not
      // `Effect.locally`: the fiber runs only this store's effects (each leaf sets its own on start), and
      // a locally's restore frames stay on an idle stream's stack (about 1 KB).
      Effect.suspend(() =>
        type === "delay"
          ? body(span)
          : Effect.zipRight(FiberRef.set(currentInEffect, this.inEffect(run)), Effect.suspend(() => body(span)))
      ),
      (failure) => Cause.isInterruptedOnly(failure) ? Effect.failCause(failure) : this.died(type, run, failure, span)
    )
  }

  /**
   * What `Fx.cancelNow(id)` does inside `run`'s effect: exactly what reducing an `Fx.cancel(id)` node of that
   * effect does (see {@link interpret}), synchronously, so the same rules hold (a cancel from a step of a
   * sequence spares what its own effect holds for later steps). Nothing once the effect is cancelled.
   */
  private inEffect(run: Run<A>): InEffect {
    return new InEffect(this, run)
  }

  /** `Fx.cancelNow(id)` in `run`'s effect (see {@link inEffect}). */
  cancelInEffect(run: Run<A>, id: unknown): void {
    if (!run.alive) return
    this.executed("cancel")
    this.cancel(id, run.task)
  }

  executed(type: EffectType): void {
    this.host.metrics.executed(type)
  }
}
