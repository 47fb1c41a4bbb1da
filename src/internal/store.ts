import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import type { Predicate } from "effect/Predicate"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import type * as Fx from "../Fx.js"
import type * as Reducer from "../Reducer.js"
import type * as Store from "../Store.js"
import { ShutdownTimeoutError, StoreShutdownError, WaitTimeoutError } from "../StoreError.js"
import { Hub } from "./hub.js"
import { StoreMetrics } from "./metrics.js"
import { TaskNode } from "./task.js"

type Fork = (effect: Effect.Effect<void>) => Fiber.RuntimeFiber<void, never>

/** Per-item span events beyond this many are only counted, so a long stream's span stays small. */
const MAX_ITEM_EVENTS = 64

const DEFAULT_SHUTDOWN_TIMEOUT: Duration.DurationInput = "10 seconds"

/** @internal */
export const actionTag = (action: unknown): string =>
  typeof action === "object" && action !== null && "_tag" in action && typeof action._tag === "string"
    ? action._tag
    : typeof action === "string"
    ? action
    : typeof action

class TaskHandle implements Store.Task {
  constructor(readonly action: unknown, private readonly node: TaskNode) {}
  get finish() {
    return this.node.awaitDone()
  }
  get cancel() {
    return this.node.interruptAll()
  }
  get isRunning() {
    return Effect.sync(() => this.node.isPending)
  }
}

/** @internal */
export class StoreImpl<S, A, R> implements Store.Store<S, A> {
  readonly label: string
  private current: S
  private closed = false
  private readonly reducer: Reducer.Reducer<S, A, R>
  private readonly root = new TaskNode(undefined, undefined)
  private readonly metrics: StoreMetrics
  private readonly actions: Hub<A>
  private readonly states: Hub<S>

  // Actions waiting to be reduced behind the one being reduced (never re-entered).
  private draining = false
  private readonly queued: Array<A> = []
  private readonly queuedTasks: Array<TaskNode> = []
  private readonly queuedSpans: Array<Tracer.AnySpan | undefined> = []

  constructor(options: Store.Options<S, A, R>, private readonly fork: Fork) {
    this.label = options.label ?? "store"
    this.current = options.initialState
    this.reducer = options.reducer
    this.metrics = new StoreMetrics(this.label)
    const defaults = { capacity: options.subscriberCapacity ?? 1024, overflow: options.subscriberOverflow ?? "sliding" }
    this.actions = new Hub<A>(defaults, this.metrics.onBroadcastDropped)
    this.states = new Hub<S>(defaults, this.metrics.onBroadcastDropped)
  }

  // ---------------------------------------------------------------------------
  // public API
  // ---------------------------------------------------------------------------

  get state(): Effect.Effect<S> {
    return Effect.sync(() => this.current)
  }

  get changes(): Stream.Stream<S> {
    return Stream.unwrapScoped(this.states.subscribe(undefined, () => this.current))
  }

  send(action: A): Effect.Effect<Store.Task, StoreShutdownError> {
    return Effect.useSpan(
      "store.send",
      { attributes: { "store.label": this.label, "action.tag": actionTag(action) } },
      (span) =>
        Effect.suspend(() => {
          if (this.closed) {
            this.metrics.rejectedAction()
            return Effect.fail(new StoreShutdownError({ label: this.label, action }))
          }
          const node = new TaskNode(this.root, action)
          this.dispatch(action, node, span)
          const task = new TaskHandle(action, node)
          return this.actions.mustWait ? Effect.as(this.actions.awaitRoom, task) : Effect.succeed(task)
        })
    )
  }

  subscribe(options?: Store.SubscribeOptions): Effect.Effect<Stream.Stream<A>, never, Scope.Scope> {
    return this.actions.subscribe(options)
  }

  sendAndWaitFor(
    action: A,
    predicate: Predicate<A>,
    options: { readonly timeout: Duration.DurationInput }
  ): Effect.Effect<any, StoreShutdownError | WaitTimeoutError> {
    return Effect.gen(this, function*() {
      const matched = yield* Deferred.make<A>()
      let sawSent = false
      yield* this.actions.listen((reduced) => {
        if (!sawSent && reduced === action) sawSent = true
        else if (sawSent && predicate(reduced)) Deferred.unsafeDone(matched, Exit.succeed(reduced))
      })
      yield* this.send(action)
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
    return Effect.gen(this, function*() {
      if (!this.closed) {
        this.closed = true
        this.metrics.shutdownInitiated()
      }
      const finished = yield* Effect.timeoutOption(this.root.awaitDone(), timeout)
      if (Option.isSome(finished)) {
        this.metrics.shutdownCompleted()
        return yield* this.endSubscribers
      }
      const remaining = this.root.fiberCount
      yield* this.root.interruptAll()
      this.metrics.shutdownTimedOut()
      yield* this.endSubscribers
      return yield* new ShutdownTimeoutError({ label: this.label, remaining, timeout })
    }).pipe(Effect.withSpan("store.shutdown", { attributes: { "store.label": this.label } }))
  }

  /** The scope's finalizer: shutdown with no wait. */
  readonly close: Effect.Effect<void> = Effect.suspend(() => {
    this.closed = true
    return Effect.zipRight(this.root.interruptAll(), this.endSubscribers)
  })

  private readonly endSubscribers = Effect.zipRight(
    Effect.suspend(() => this.actions.close),
    Effect.suspend(() => this.states.close)
  )

  /** Actions that started the effects still running (for test tooling). */
  get runningEffectOrigins(): ReadonlyArray<unknown> {
    return this.root.startedBy()
  }

  // ---------------------------------------------------------------------------
  // reducing
  // ---------------------------------------------------------------------------

  /**
   * Reduces `action` now, or queues it behind the action being reduced. Synchronous, so reductions never
   * interleave, and the queue drains in arrival order before the outermost call returns.
   */
  private dispatch(action: A, task: TaskNode, span: Tracer.AnySpan | undefined): void {
    if (this.draining) {
      this.queued.push(action)
      this.queuedTasks.push(task)
      this.queuedSpans.push(span)
      return
    }
    this.draining = true
    try {
      this.reduce(action, task, span)
      for (let i = 0; i < this.queued.length; i++) {
        this.reduce(this.queued[i]!, this.queuedTasks[i]!, this.queuedSpans[i])
      }
    } finally {
      this.queued.length = 0
      this.queuedTasks.length = 0
      this.queuedSpans.length = 0
      this.draining = false
    }
  }

  private reduce(action: A, task: TaskNode, span: Tracer.AnySpan | undefined): void {
    const started = performance.now()
    let result: readonly [S, Fx.Fx<A, R>]
    try {
      result = this.reducer(this.current, action)
    } catch (defect) {
      // A throwing reducer is a bug: keep the previous state, report, and go on with the next action.
      this.metrics.reducerDefect()
      this.fork(Effect.logError(`store "${this.label}": reducer threw on ${actionTag(action)}`, Cause.die(defect)))
      return
    }
    this.metrics.reduced((performance.now() - started) / 1000)
    const [next, fx] = result
    const changed = next !== this.current
    this.current = next
    this.actions.publish(action)
    if (changed) this.states.publish(next)
    this.start(fx, task, span, action)
  }

  // ---------------------------------------------------------------------------
  // running effects
  // ---------------------------------------------------------------------------

  /**
   * Starts a freshly returned `Fx` synchronously: `Send` actions are queued, `Parallel` branches started,
   * and anything that takes time gets its own fiber, registered in the task and the store's `FiberSet`.
   */
  private start(fx: Fx.Fx<A, R>, task: TaskNode, span: Tracer.AnySpan | undefined, cause: A): void {
    switch (fx._tag) {
      case "None":
        return this.metrics.executed("none")
      case "Send":
        this.metrics.executed("send")
        for (const action of fx.actions) this.dispatch(action, task, span)
        return
      case "Parallel":
        this.metrics.executed("parallel")
        for (const branch of fx.fxs) this.start(branch, task, span, cause)
        return
      default:
        task.add(this.fork(this.interpret(fx, task, span, cause) as Effect.Effect<void>), cause)
    }
  }

  /** Runs an `Fx` inside the current fiber, feeding produced actions back under `task`. */
  private interpret(
    fx: Fx.Fx<A, R>,
    task: TaskNode,
    span: Tracer.AnySpan | undefined,
    cause: A
  ): Effect.Effect<void, never, R> {
    switch (fx._tag) {
      case "None":
        return Effect.sync(() => this.metrics.executed("none"))
      case "Send":
        return Effect.suspend(() => {
          this.metrics.executed("send")
          for (const action of fx.actions) this.dispatch(action, task, span)
          return this.actions.mustWait ? this.actions.awaitRoom : Effect.void
        })
      case "Parallel":
        return Effect.suspend(() => {
          this.metrics.executed("parallel")
          return Effect.forEach(fx.fxs, (branch) => this.interpret(branch, task, span, cause), {
            concurrency: "unbounded",
            discard: true
          })
        })
      case "Sequential":
        return Effect.suspend(() => {
          this.metrics.executed("sequential")
          return Effect.forEach(fx.fxs, (step) => {
            const stepTask = new TaskNode(task, cause)
            return Effect.zipRight(this.interpret(step, stepTask, span, cause), stepTask.awaitDone())
          }, { discard: true })
        })
      case "Future":
        return this.leaf("future", span, cause, (effectSpan) =>
          Effect.flatMap(fx.effect, (result) =>
            Option.isSome(result) ? this.feed(result.value, task, effectSpan) : Effect.void))
      case "Delay":
        return this.leaf("delay", span, cause, (effectSpan) =>
          Effect.zipRight(Effect.sleep(fx.duration), this.feed(fx.action, task, effectSpan)))
      case "Stream":
        return this.leaf("stream", span, cause, (effectSpan) => this.runStream(fx.stream, task, effectSpan))
    }
  }

  private runStream(
    stream: Stream.Stream<A, never, R>,
    task: TaskNode,
    span: Tracer.Span
  ): Effect.Effect<void, never, R> {
    return Clock.clockWith((clock) => {
      let items = 0
      return Stream.runForEach(stream, (action) => {
        items++
        this.metrics.streamItem()
        if (items <= MAX_ITEM_EVENTS) span.event("stream.item", clock.unsafeCurrentTimeNanos(), { "item": items })
        return this.feed(action, task, span)
      }).pipe(
        Effect.ensuring(Effect.sync(() => {
          span.attribute("stream.items", items)
          this.metrics.streamEnded(items)
        }))
      )
    })
  }

  /** Feeds one produced action back; waits if a backpressuring subscriber is full. */
  private feed(action: A, task: TaskNode, span: Tracer.AnySpan): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.dispatch(action, task, span)
      return this.actions.mustWait ? this.actions.awaitRoom : Effect.void
    })
  }

  /**
   * Wraps one leaf effect: counts it, gives it a span, and turns a defect into a report (log, metric,
   * span attribute) so that it never reaches the store or sibling effects.
   */
  private leaf(
    type: "future" | "delay" | "stream",
    parent: Tracer.AnySpan | undefined,
    cause: A,
    run: (span: Tracer.Span) => Effect.Effect<void, never, R>
  ): Effect.Effect<void, never, R> {
    this.metrics.executed(type)
    return Effect.useSpan(
      "store.effect",
      {
        ...(parent === undefined ? {} : { parent }),
        attributes: { "store.label": this.label, "effect.type": type, "action.tag": actionTag(cause) }
      },
      (span) =>
        Effect.catchAllCause(run(span), (failure) => {
          if (Cause.isInterruptedOnly(failure)) return Effect.failCause(failure)
          this.metrics.effectDefect()
          span.attribute("effect.defect", Cause.pretty(failure))
          return Effect.logError(
            `store "${this.label}": a ${type} effect started by ${actionTag(cause)} died`,
            failure
          )
        })
    )
  }
}

/** @internal */
export const make = <S, A, R = never>(
  options: Store.Options<S, A, R>
): Effect.Effect<Store.Store<S, A>, never, Scope.Scope | R> =>
  Effect.gen(function*() {
    const fibers = yield* FiberSet.make<void, never>()
    const fork = yield* FiberSet.runtime(fibers)<R>()
    const store = new StoreImpl<S, A, R>(options, (effect) => fork(effect))
    yield* Effect.addFinalizer(() => store.close)
    return store
  })
