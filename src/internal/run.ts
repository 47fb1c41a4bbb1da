import type * as Fx from "../Fx.js"
import type { CancelHandle } from "./cancel.js"
import type { TaskNode } from "./task.js"
import type * as Tracer from "effect/Tracer"

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
    /** Handles registered when the action was reduced, for cancellable nodes the fiber has not reached. */
    readonly prepared: Map<Fx.Fx<A, any>, CancelHandle> | undefined
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

  /** The same run under a cancellation handle. */
  under(handle: CancelHandle): Run<A> {
    return new Run(this.task, this.span, this.cause, handle, this, this.prepared)
  }

  /** The same run feeding a different task (a step of `Fx.sequential`). */
  withTask(task: TaskNode): Run<A> {
    return new Run(task, this.span, this.cause, undefined, this, this.prepared)
  }

  /** The same run nesting under a new span. */
  withSpan(span: Tracer.AnySpan | undefined): Run<A> {
    return span === undefined ? this : new Run(this.task, span, this.cause, undefined, this, this.prepared)
  }

  /** Takes the handle prepared for `node`, if the action's reduction registered one. */
  takePrepared(node: Fx.Fx<A, any>): CancelHandle | undefined {
    const handle = this.prepared?.get(node)
    if (handle !== undefined) this.prepared!.delete(node)
    return handle
  }
}
