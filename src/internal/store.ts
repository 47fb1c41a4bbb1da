import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type { Predicate } from "effect/Predicate"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Supervisor from "effect/Supervisor"
import type * as Tracer from "effect/Tracer"
import type * as Fx from "../Fx.js"
import type * as Reducer from "../Reducer.js"
import type * as Store from "../Store.js"
import { ShutdownTimeoutError, StoreShutdownError, WaitTimeoutError } from "../StoreError.js"
import { show } from "./diff.js"
import { isFx } from "./fx.js"
import { Hub, overflows } from "./hub.js"
import { currentStoreLabel, currentUnhandledHook, type UnhandledHook } from "./label.js"
import { StoreMetrics } from "./metrics.js"
import { actionTag, type Host, Runner } from "./runner.js"
import { SendEffect, type Sender } from "./send.js"
import { type Running, TaskNode } from "./task.js"
import { requireDuration, requireOneOf, requirePositive } from "./validate.js"
import { ViewImpl } from "./view.js"

const DEFAULT_SHUTDOWN_TIMEOUT: Duration.DurationInput = "10 seconds"


/**
 * How many actions sends made in place may reduce before the sending generator yields, as the run loop
 * would after so many operations: half the default subscriber capacity, so a subscriber drains in time.
 */
const IN_PLACE_ACTIONS_PER_TURN = 512

/**
 * Actions reduced by in-place sends since one last yielded, across every store: a loop over many stores
 * must yield as often as a loop over one. (The run loop counts per fiber; one fiber runs at a time.)
 */
let inPlaceActions = 0

/**
 * Whether `fiber`, which is running, was sent a message (an interruption) that it has not read yet: what
 * Effect's run loop checks before each operation. Effect keeps them in the fiber's `_queue`, which its
 * types do not show; a fiber without one (another version of Effect) counts as told, so the send takes
 * the run loop's turn, as every send whose reduction started or cancelled an effect did before.
 */
const toldWhileSending = (fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean =>
  (fiber as unknown as { readonly _queue?: ReadonlyArray<unknown> })._queue?.length !== 0

/**
 * The tracer Effect uses when none is installed. Spans made for it are never exported, so the store makes
 * none: a span per send would otherwise dominate the cost of a send.
 */
let native: Tracer.Tracer | undefined
const nativeTracer = (): Tracer.Tracer => native ??= Effect.runSync(Effect.tracer)

/**
 * What a store forks once its scope has closed: a fiber already interrupted, shared by every store (what a
 * closed `FiberSet` answers), so an effect started after then never runs.
 */
let interrupted: Fiber.RuntimeFiber<void, never> | undefined
const interruptedFiber = (): Fiber.RuntimeFiber<void, never> => interrupted ??= Effect.runFork(Effect.interrupt)

/**
 * Actions queued behind the one being reduced, with their tasks and spans; made the first time a store
 * queues one (an effect fed an action back while it reduced), then kept.
 */
class Queued<A> {
  readonly actions: Array<A> = []
  readonly tasks: Array<TaskNode> = []
  readonly spans: Array<Tracer.AnySpan | undefined> = []
}

/** @internal */
export class StoreImpl<S, A, R> implements Store.Store<S, A>, Host<A>, Sender<A> {
  readonly label: string
  private current: S
  private closed = false
  private readonly reducer: Reducer.Reducer<S, A, R>
  private readonly root = new TaskNode(undefined, undefined)
  readonly metrics: StoreMetrics
  readonly actions: Hub<A>
  /** Made with the first effect other than `Fx.none`: a store that starts none never needs one. */
  private runner: Runner<A, R> | undefined = undefined
  private readonly states: Hub<S>

  // Actions waiting to be reduced behind the one being reduced (never re-entered).
  private draining = false
  private queued: Queued<A> | undefined = undefined

  /**
   * Where effects' fibers start: the runtime of the fiber that made the store (its services `R`, its
   * fiber refs), and once the first effect starts, that runtime with the store's label and unhandled-action
   * hook set. Made then rather than here: a store whose reducer returns no effect never needs it.
   */
  private runtime: Runtime.Runtime<R>
  private forked = false
  /** Set when the store's scope closes: nothing forks after that. */
  private ended = false

  constructor(
    options: Store.Options<S, A, R>,
    runtime: Runtime.Runtime<R>,
    readonly clock: Clock.Clock,
    readonly traced: boolean
  ) {
    this.label = options.label ?? "store"
    this.current = options.initialState
    this.reducer = options.reducer
    this.runtime = runtime
    // One label's metrics are one set of series: the stores that share a label share their handles.
    this.metrics = StoreMetrics.forLabel(this.label)
    const capacity = options.subscriberCapacity ?? 1024
    const overflow = options.subscriberOverflow ?? "sliding"
    this.actions = new Hub<A>(capacity, overflow, this.metrics.onBroadcastDropped)
    // States never backpressure: a slow reader of `changes` wants the newest state, not to stall senders.
    this.states = new Hub<S>(capacity, overflow === "backpressure" ? "sliding" : overflow, this.metrics.onBroadcastDropped)
  }

  /** Starts `effect` in a fiber of the store's runtime (see {@link runtime}). */
  fork(effect: Effect.Effect<void>): Fiber.RuntimeFiber<void, never> {
    if (this.ended) return interruptedFiber()
    if (!this.forked) {
      this.forked = true
      // Every effect's fiber knows its store's label, and reports unrouted child actions to its store.
      const hook: UnhandledHook = (combinator, action, detail) => this.onUnhandledChildAction?.(combinator, action, detail)
      this.runtime = Runtime.setFiberRef(Runtime.setFiberRef(this.runtime, currentStoreLabel, this.label), currentUnhandledHook, hook)
    }
    return Runtime.runFork(this.runtime, effect as Effect.Effect<void, never, R>)
  }

  // ---------------------------------------------------------------------------
  // public API
  // ---------------------------------------------------------------------------

  get state(): Effect.Effect<S> {
    return Effect.sync(() => this.current)
  }

  get stateNow(): S {
    return this.current
  }

  get changes(): Stream.Stream<S> {
    return Stream.unwrapScoped(this.states.subscribe(undefined, () => this.current))
  }

  send(action: A): Effect.Effect<Store.Task, StoreShutdownError> {
    return new SendEffect(this, action)
  }

  /** `task`, when given, is the one the send makes: `sendAndWaitFor` knows its own send's reduction by it. */
  sendViaRunLoop(action: A, task?: TaskNode): Effect.Effect<Store.Task, StoreShutdownError> {
    return Effect.withFiberRuntime((fiber) =>
      fiber.currentTracer === nativeTracer()
        ? this.sendNow(action, undefined, task)
        : Effect.useSpan(
          "store.send",
          { attributes: { "store.label": this.label, "action.tag": actionTag(action) }, captureStackTrace: false },
          (span) => Effect.suspend(() => this.sendNow(action, span, task))
        )
    )
  }

  /** How many actions this store has reduced (for the in-place send's yield budget). */
  private reductions = 0

  sendInline(
    action: A,
    fiber: Fiber.RuntimeFiber<unknown, unknown>
  ): TaskNode | Effect.Effect<Store.Task, StoreShutdownError> | undefined {
    // A span to make, or a supervisor that expects to see every operation: the run loop's path.
    if (fiber.currentTracer !== nativeTracer() || fiber.currentSupervisor !== Supervisor.none) return undefined
    // A send made while the store is reducing (from an effect that started then) only queues its action:
    // never yield there, or whether it is reduced in this drain would depend on unrelated earlier sends.
    if (inPlaceActions >= IN_PLACE_ACTIONS_PER_TURN && !this.draining) {
      // The run loop would have yielded by now: yield, so subscribers drain and other fibers run.
      inPlaceActions = 0
      return Effect.zipRight(Effect.yieldNow(), this.sendViaRunLoop(action))
    }
    const reductions = this.reductions
    const sent = this.accept(action, undefined, new TaskNode(this.root, action))
    inPlaceActions += this.reductions - reductions
    // What the reduction started or cancelled may have interrupted the sending fiber itself: then the run
    // loop must have a turn, which reads the interruption before the code after the send runs.
    if (!toldWhileSending(fiber)) return sent
    return Effect.suspend(() => sent instanceof TaskNode ? Exit.succeed(sent) : sent)
  }

  private sendNow(
    action: A,
    span: Tracer.AnySpan | undefined,
    task = new TaskNode(this.root, action)
  ): Effect.Effect<Store.Task, StoreShutdownError> {
    const sent = this.accept(action, span, task)
    return sent instanceof TaskNode ? Exit.succeed(sent) : sent
  }

  /**
   * Reduces `action` (or queues it behind the one being reduced) unless the store is closed. Returns its
   * task when the send is done, or the effect that ends it: the refusal, or the wait for a backpressuring
   * subscriber's room. No `Exit` for the common case: the in-place send hands the task straight back.
   */
  private accept(action: A, span: Tracer.AnySpan | undefined, task: TaskNode): TaskNode | Effect.Effect<Store.Task, StoreShutdownError> {
    if (this.closed) {
      this.metrics.rejectedAction()
      return Exit.fail(new StoreShutdownError({ label: this.label, action }))
    }
    this.dispatch(action, task, span)
    return this.actions.mustWait ? Effect.as(this.actions.awaitRoom, task) : task
  }

  scope<C, CA>(options: { readonly state: (state: S) => C; readonly action: (action: CA) => A }): Store.View<C, CA> {
    return new ViewImpl<C, CA>(this, options.state, options.action)
  }

  subscribe(options?: Store.SubscribeOptions): Effect.Effect<Stream.Stream<A>, never, Scope.Scope> {
    if (options?.capacity !== undefined) requirePositive("store.subscribe", "capacity", options.capacity, true)
    if (options?.overflow !== undefined) requireOneOf("store.subscribe", "overflow", options.overflow, overflows)
    return this.actions.subscribe(options)
  }

  sendAndWaitFor(
    action: A,
    predicate: Predicate<A>,
    options: { readonly timeout: Duration.DurationInput }
  ): Effect.Effect<any, StoreShutdownError | WaitTimeoutError> {
    // Refused before anything is sent: read only after the send, it would fail a wait whose action is in.
    requireDuration("store.sendAndWaitFor", "timeout", options.timeout)
    return Effect.gen(this, function*() {
      const matched = yield* Deferred.make<A, StoreShutdownError>()
      const end = () => Deferred.unsafeDone(matched, Exit.fail(new StoreShutdownError({ label: this.label, action })))
      // Ended as soon as a shutdown begins, not when it has drained: a server waiting on it can close.
      yield* Effect.acquireRelease(
        Effect.sync(() => (this.waits ??= new Set()).add(end)),
        () => Effect.sync(() => this.waits!.delete(end))
      )
      // The send's own reduction is told by its task, not by comparing actions: an equal action reduced
      // just before would pass for it, and `NaN` would never pass (it equals nothing, by `===` or `Equal`).
      const sent = this.newTask(action)
      let sawSent = false
      yield* this.actions.listen(
        (reduced) => {
          if (!sawSent) {
            sawSent = this.publishing === sent
            return
          }
          // The predicate runs inside the reduction: a throw must fail this wait, not the store's drain.
          try {
            if (predicate(reduced)) Deferred.unsafeDone(matched, Exit.succeed(reduced))
          } catch (defect) {
            Deferred.unsafeDone(matched, Exit.die(defect))
          }
        },
        // The store closed before a match: nothing more will be reduced, so stop waiting now.
        end
      )
      yield* this.sendViaRunLoop(action, sent)
      return yield* Deferred.await(matched).pipe(
        Effect.timeoutFail({
          duration: options.timeout,
          onTimeout: () => new WaitTimeoutError({ label: this.label, action, timeout: options.timeout })
        })
      )
    }).pipe(Effect.scoped)
  }

  shutdown(options?: { readonly timeout?: Duration.DurationInput }): Effect.Effect<void, ShutdownTimeoutError> {
    const timeout = options?.timeout ?? DEFAULT_SHUTDOWN_TIMEOUT
    // Refused before the store stops: an invalid call changes nothing.
    requireDuration("store.shutdown", "timeout", timeout)
    return Effect.gen(this, function*() {
      if (!this.closed) {
        this.closed = true
        this.metrics.shutdownInitiated()
        this.endWaits()
      }
      // Interruptible on purpose: shutdown often runs in a scope finalizer, where interruption is off, and
      // the timeout can only cut the wait by interrupting it.
      const finished = yield* Effect.timeoutOption(Effect.interruptible(this.root.awaitDone()), timeout)
      if (Option.isSome(finished)) {
        this.metrics.shutdownCompleted()
        return yield* this.endSubscribers()
      }
      const remaining = this.root.fiberCount
      yield* this.root.interruptAll()
      this.metrics.shutdownTimedOut()
      yield* this.endSubscribers()
      return yield* new ShutdownTimeoutError({ label: this.label, remaining, timeout })
    }).pipe(Effect.withSpan("store.shutdown", { attributes: { "store.label": this.label } }))
  }

  /** The scope's finalizer: shutdown with no wait. Made when the scope closes, not held by every store. */
  close(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.closed = true
      this.ended = true
      this.endWaits()
      return Effect.zipRight(this.root.interruptAll(), this.endSubscribers())
    })
  }

  /** The `sendAndWaitFor` calls waiting for their answer; each fails with `StoreShutdownError` when ended. */
  private waits: Set<() => void> | undefined = undefined

  private endWaits(): void {
    if (this.waits !== undefined) for (const end of this.waits) end()
  }

  private endSubscribers(): Effect.Effect<void> {
    return Effect.suspend(() => Effect.zipRight(this.actions.close(), Effect.suspend(() => this.states.close())))
  }

  /** Told of every reducer defect; the TestStore sets it, so a test fails where a store would go on. */
  onReducerDefect: ((action: A, defect: unknown) => void) | undefined = undefined

  /** Told of every effect that died (a defect in its body), with the action that started it; the TestStore sets it. */
  onEffectDefect: ((action: A, cause: Cause.Cause<unknown>) => void) | undefined = undefined

  /** Told of every child action `ifLet` / `forEach` could not route; the TestStore sets it too. */
  onUnhandledChildAction: UnhandledHook | undefined = undefined

  /** How many effects (fibers and fiberless sources) are running (for test tooling; allocates nothing). */
  get runningEffectCount(): number {
    return this.root.fiberCount
  }

  /** The effects running (fibers, and sources without one), each with the action that started it (for test tooling). */
  get runningEffects(): ReadonlyArray<readonly [Running, unknown]> {
    return this.root.running()
  }

  /** Interrupts every running effect (for test tooling). */
  interruptEffects(): Effect.Effect<void> {
    return this.root.interruptAll()
  }

  // ---------------------------------------------------------------------------
  // reducing
  // ---------------------------------------------------------------------------

  /**
   * Reduces `action` now, or queues it behind the action being reduced. Synchronous, so reductions never
   * interleave, and the queue drains in arrival order before the outermost call returns.
   */
  dispatch(action: A, task: TaskNode, span: Tracer.AnySpan | undefined): void {
    if (this.draining) {
      // Held until reduced: a step of `Fx.sequential` that fed this back is not done before it is.
      task.hold()
      const queued = this.queued ??= new Queued()
      if (this.insertAt === undefined) {
        queued.actions.push(action)
        queued.tasks.push(task)
        queued.spans.push(span)
      } else {
        const at = this.insertAt++
        queued.actions.splice(at, 0, action)
        queued.tasks.splice(at, 0, task)
        queued.spans.splice(at, 0, span)
      }
      return
    }
    this.draining = true
    let next = 0
    try {
      this.reduce(action, task, span)
      // Read after the reduction: what it queued is what it made.
      const queued = this.queued
      while (queued !== undefined && next < queued.actions.length) {
        const i = next++
        try {
          this.reduce(queued.actions[i]!, queued.tasks[i]!, queued.spans[i])
        } finally {
          // Letting go of its hold may end a step of a sequence, which starts the next step at once: what
          // that feeds back is reduced next, ahead of what was queued meanwhile, so the steps of a sequence
          // that need no time run back to back (as TCA's `.concatenate`).
          this.insertAt = next
          try {
            queued.tasks[i]!.release()
          } finally {
            this.insertAt = undefined
          }
        }
      }
    } finally {
      // Only after a defect escaped `reduce`: what is left was never reduced; let go of its holds, once the
      // queue is empty and the store no longer draining (what a release starts at once is then reduced).
      const queued = this.queued
      const unreduced = queued !== undefined && next < queued.tasks.length ? queued.tasks.slice(next) : undefined
      if (queued !== undefined && queued.actions.length > 0) {
        queued.actions.length = 0
        queued.tasks.length = 0
        queued.spans.length = 0
      }
      this.draining = false
      if (unreduced !== undefined) for (const held of unreduced) held.release()
    }
  }

  /** While the action just reduced lets go of its hold: where what that feeds back is queued. */
  private insertAt: number | undefined = undefined

  private reduce(action: A, task: TaskNode, span: Tracer.AnySpan | undefined): void {
    const timed = this.metrics.timeNext()
    const started = timed ? performance.now() : 0
    let result: readonly [S, Fx.Fx<A, R>]
    try {
      result = this.reducer(this.current, action)
      // Only a reducer cast past its types can return anything else; it is the same bug as a throw.
      if (!Array.isArray(result) || !isFx(result[1])) throw new TypeError("the reducer did not return [state, fx]")
    } catch (defect) {
      // A throwing reducer is a bug: keep the previous state, report, and go on with the next action.
      return this.reducerDefect(action, defect, `reducer threw on ${actionTag(action)}`)
    }
    if (timed) this.metrics.reducerTook((performance.now() - started) / 1000)
    const [next, fx] = result
    const previous = this.current
    // Set before the effects start: an effect that runs at once (and reads the state) sees the new one.
    this.current = next
    try {
      if (fx._tag === "None") this.metrics.executedNone()
      else (this.runner ??= new Runner(this)).startReduced(fx, task, span, action)
    } catch (defect) {
      // What the reducer returned could not be started (a cancellation id whose `Hash` throws, a node cast
      // past its types): the same bug as a throw in the reducer, and the runner has undone what it started.
      this.current = previous
      return this.reducerDefect(action, defect, `starting the effects of ${actionTag(action)} threw`)
    }
    this.metrics.reduced()
    this.reductions++
    // Broadcast once the effects have started, so an action whose effects could not start never is.
    this.publishing = task
    this.actions.publish(action)
    this.publishing = undefined
    if (next !== previous) this.states.publish(next)
  }

  malformed(node: unknown, cause: A): void {
    const defect = new TypeError(`not an Fx: ${show(node)}`)
    this.reducerDefect(
      cause,
      defect,
      `the effect returned for ${actionTag(cause)} holds something that is not an Fx; it was skipped, the rest of the effect runs`
    )
  }

  /**
   * The task of the action being broadcast, while it is: how `sendAndWaitFor` (and the TestStore) tell
   * their own send's reduction from any other.
   */
  publishing: TaskNode | undefined = undefined

  /** A task for a send, to pass to {@link sendViaRunLoop} and recognise in {@link publishing}. */
  newTask(action: A): TaskNode {
    return new TaskNode(this.root, action)
  }

  /** Reports a bug in the reducer (or in what it returned) on `action`: logged, counted, told to the TestStore. */
  private reducerDefect(action: A, defect: unknown, what: string): void {
    this.metrics.reducerDefect()
    this.fork(Effect.logError(`store "${this.label}": ${what}`, Cause.die(defect)))
    this.onReducerDefect?.(action, defect)
  }
}

/** @internal */
export const make: <S, A, R = never>(
  options: Store.Options<S, A, R>
) => Effect.Effect<Store.Store<S, A>, never, Scope.Scope | R> = (options) => makeImpl(options)

/** @internal */
export const makeImpl = <S, A, R = never>(
  options: Store.Options<S, A, R>
): Effect.Effect<StoreImpl<S, A, R>, never, Scope.Scope | R> => {
  // Refused where the store is described, as an `Fx`'s counts are: a buffer of `NaN` would never be full.
  if (options.subscriberCapacity !== undefined) {
    requirePositive("Store.make", "subscriberCapacity", options.subscriberCapacity, true)
  }
  if (options.subscriberOverflow !== undefined) {
    requireOneOf("Store.make", "subscriberOverflow", options.subscriberOverflow, overflows)
  }
  return Effect.gen(function*() {
    const scope = yield* Effect.scope
    // Effects run with the services and fiber refs of the fiber that made the store (see `fork`).
    const runtime = yield* Effect.runtime<R>()
    const clock = yield* Effect.clock
    const tracer = yield* Effect.tracer
    const store = new StoreImpl<S, A, R>(options, runtime, clock, tracer !== nativeTracer())
    // On the scope itself, not with `Effect.addFinalizer`: that keeps a copy of the fiber's refs per
    // finalizer, to run it with, and `close` needs none of them.
    yield* Scope.addFinalizerExit(scope, closeWith(store))
    return store
  })
}

/** The scope's finalizer for `store`, made where it captures nothing else. */
const closeWith = (store: StoreImpl<any, any, any>) => (): Effect.Effect<void> => store.close()
