import type * as Fx from "../Fx.js"
import type { CancelHandle } from "./cancel.js"
import type { TaskNode } from "./task.js"
import type * as Tracer from "effect/Tracer"

/** What {@link Run.current} answers for an action that must not be fed back. @internal */
export const Dropped: unique symbol = Symbol.for("composable-effect/Dropped")

/**
 * An action produced inside an item combinator (`Fx.batch`, `Fx.rateLimit`, `Fx.idleTimeout`), with the
 * run that produced it. Items wait in the combinators' buffers, and a group may come out of a batch after
 * some of its items' effects were cancelled, so what may be fed back is decided when it comes out: see
 * {@link Run.current}.
 *
 * @internal
 */
export interface Produced<A> {
  readonly action: A
  readonly run: Run<A>
}

/**
 * Where one running effect belongs: the task that waits for it, the span its work nests under, the action
 * whose reduction started it, and the cancellation handles around it. Actions are fed back only while the
 * run is alive, i.e. no enclosing cancellable effect has been cancelled.
 *
 * @internal
 */
export class Run<A> {
  constructor(
    readonly task: TaskNode,
    readonly span: Tracer.AnySpan | undefined,
    readonly cause: A,
    readonly handle: CancelHandle | undefined,
    readonly parent: Run<A> | undefined,
    /**
     * Handles registered when the action was reduced, for cancellable nodes the fiber has not reached: one
     * per use of the node, in the order the node appears (`Fx.sequential(fx, fx)` uses it twice).
     */
    readonly prepared: Map<Fx.Fx<A, any>, Array<CancelHandle>> | undefined,
    /** Which reduction started the effect (`Runner.reduction`): how a cancel tells its own effect's steps. */
    readonly reduction: number
  ) {}

  get alive(): boolean {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    let run: Run<A> | undefined = this
    while (run !== undefined) {
      if (run.handle?.cancelled) return false
      run = run.parent
    }
    return true
  }

  /**
   * What `action`, produced by this run, has become: itself while the run is alive, `Dropped` once an
   * enclosing cancellable effect was cancelled (TCA: an action of a cancelled effect is never received).
   */
  current(action: A): A | typeof Dropped {
    return this.alive ? action : Dropped
  }

  /** Whether `handle` is one of the cancellation handles around this run. */
  isUnder(handle: CancelHandle): boolean {
    for (let run: Run<A> | undefined = this; run !== undefined; run = run.parent) {
      if (run.handle === handle) return true
    }
    return false
  }

  /** Pins every cancellation handle around this run (see `CancelHandle.pin`); undone by {@link unpin}. */
  pin(): void {
    for (let run: Run<A> | undefined = this; run !== undefined; run = run.parent) run.handle?.pin()
  }

  unpin(): void {
    for (let run: Run<A> | undefined = this; run !== undefined; run = run.parent) run.handle?.unpin()
  }

  /** The same run under a cancellation handle. */
  under(handle: CancelHandle): Run<A> {
    return new Run(this.task, this.span, this.cause, handle, this, this.prepared, this.reduction)
  }

  /** The same run feeding a different task (a step of `Fx.sequential`). */
  withTask(task: TaskNode): Run<A> {
    return new Run(task, this.span, this.cause, undefined, this, this.prepared, this.reduction)
  }

  /** The same run nesting under a new span. */
  withSpan(span: Tracer.AnySpan | undefined): Run<A> {
    return span === undefined ? this : new Run(this.task, span, this.cause, undefined, this, this.prepared, this.reduction)
  }

  /** Takes a handle prepared for `node`, if the action's reduction registered one that is still left. */
  takePrepared(node: Fx.Fx<A, any>): CancelHandle | undefined {
    const handles = this.prepared?.get(node)
    if (handles === undefined) return undefined
    const handle = handles.shift()
    if (handles.length === 0) this.prepared!.delete(node)
    return handle
  }
}

/**
 * The run of one group of `Fx.batch`: the group's items may come from several runs (a batch of
 * `Fx.parallel` branches), each of which may be cancelled on its own. The group keeps the items whose run
 * is alive, rebuilt with `toAction` (as a store, which groups the next items only after reducing the last
 * group, would have built it), and is dropped once none is left.
 *
 * @internal
 */
export class BatchRun<A> extends Run<A> {
  constructor(
    batch: Run<A>,
    /** The group's items as they were when it was built (each with the run that produced it). */
    private readonly items: ReadonlyArray<Produced<unknown>>,
    private readonly toAction: (items: ReadonlyArray<unknown>) => A
  ) {
    super(batch.task, batch.span, batch.cause, undefined, batch, undefined, batch.reduction)
  }

  override get alive(): boolean {
    return this.items.some((item) => item.run.alive)
  }

  override pin(): void {
    super.pin()
    for (const item of this.items) item.run.pin()
  }

  override unpin(): void {
    super.unpin()
    for (const item of this.items) item.run.unpin()
  }

  override current(action: A): A | typeof Dropped {
    const now = this.items.map((item) => item.run.current(item.action))
    if (now.every((item, i) => item === this.items[i]!.action)) return action
    const kept = now.filter((item) => item !== Dropped)
    return kept.length === 0 ? Dropped : this.toAction(kept)
  }
}
