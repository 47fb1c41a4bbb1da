import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import type * as Scheduler from "effect/Scheduler"
import type * as Store from "../Store.js"

/** Whether a node's end is being announced to the fibers waiting for it (see {@link TaskNode.awaitDoneAtOnce}). */
let announcing = false

const atOnceBy = new WeakMap<Scheduler.Scheduler, Scheduler.Scheduler>()

/**
 * `scheduler`, except that the fiber a node's end resumes runs at once, on the stack of whatever ended
 * the node. Only that resumption: what the resumed fiber then wakes in turn is scheduled as usual.
 */
const atOnce = (scheduler: Scheduler.Scheduler): Scheduler.Scheduler => {
  let inline = atOnceBy.get(scheduler)
  if (inline === undefined) {
    inline = {
      shouldYield: (fiber) => scheduler.shouldYield(fiber),
      scheduleTask: (task, priority, fiber) => {
        if (!announcing) return scheduler.scheduleTask(task, priority, fiber)
        announcing = false
        try {
          task()
        } finally {
          announcing = true
        }
      }
    }
    atOnceBy.set(scheduler, inline)
  }
  return inline
}

/**
 * An effect running without a fiber (a push source, `Fx.subscribe`): stopped synchronously, and it tells
 * its task when it has ended (see {@link TaskNode.addJob}).
 *
 * @internal
 */
export interface Job {
  readonly stop: () => void
}

/** What runs for an action: a fiber, or a {@link Job}. @internal */
export type Running = Fiber.RuntimeFiber<unknown, unknown> | Job

const isFiber = (running: Running): running is Fiber.RuntimeFiber<unknown, unknown> => Fiber.isFiber(running)

/**
 * Tracks the fibers (and fiberless jobs) that one action started, and those started by the actions they fed back, so that
 * `task.finish` can wait for all of them and `task.cancel` can interrupt all of them.
 *
 * Nodes form a tree: the store's root, one node per sent action, one node per step of an `Fx.sequential`.
 * A node is pending while it has live fibers or pending children; a pending child counts once in its
 * parent. Nodes are only linked while pending, so finished work is garbage.
 *
 * A sent action's node is also the `Store.Task` that `send` returns: one object per send, not two.
 *
 * @internal
 */
export class TaskNode implements Store.Task {
  private pending = 0
  /**
   * Live fibers and jobs, each with the action whose reduction started it. Most sends start at most one:
   * that one is kept in `only` (a Map costs more than everything else an idle effect holds); the Map is
   * made for the second.
   */
  private only: Running | undefined
  private onlyStartedBy: unknown
  private fibers: Map<Running, unknown> | undefined
  private children: Set<TaskNode> | undefined
  private done: Deferred.Deferred<void> | undefined

  constructor(readonly parent: TaskNode | undefined, readonly origin: unknown) {}

  get action(): unknown {
    return this.origin
  }

  get finish(): Effect.Effect<void> {
    return this.awaitDone()
  }

  get cancel(): Effect.Effect<void> {
    return this.interruptAll()
  }

  get isRunning(): Effect.Effect<boolean> {
    return Effect.sync(() => this.isPending)
  }

  get isPending(): boolean {
    return this.pending > 0
  }

  /** Live fibers and jobs in this node and every pending descendant. */
  get fiberCount(): number {
    let n = (this.fibers?.size ?? 0) + (this.only === undefined ? 0 : 1)
    if (this.children !== undefined) for (const child of this.children) n += child.fiberCount
    return n
  }

  /**
   * Registers a fiber; the node stays pending until {@link fiberEnded}, which the caller's observer of the
   * fiber calls (one observer per fiber for everything that ends with it: each costs a closure).
   */
  add(fiber: Fiber.RuntimeFiber<unknown, unknown>, startedBy: unknown): void {
    this.track(fiber, startedBy)
  }

  /** The fiber has ended. */
  fiberEnded(fiber: Fiber.RuntimeFiber<unknown, unknown>): void {
    if (this.untrack(fiber)) this.decrement()
  }

  /** Registers a job; the node stays pending until {@link endJob}. */
  addJob(job: Job, startedBy: unknown): void {
    this.track(job, startedBy)
  }

  /** The job has ended (it said so, or it was stopped). */
  endJob(job: Job): void {
    if (this.untrack(job)) this.decrement()
  }

  private track(running: Running, startedBy: unknown): void {
    if (this.only === undefined && this.fibers === undefined) {
      this.only = running
      this.onlyStartedBy = startedBy
    } else {
      ;(this.fibers ??= new Map()).set(running, startedBy)
    }
    this.increment()
  }

  private untrack(running: Running): boolean {
    if (this.only === running) {
      this.only = undefined
      this.onlyStartedBy = undefined
      return true
    }
    return this.fibers?.delete(running) ?? false
  }

  /**
   * Keeps the node pending for an action it fed back that is not reduced yet (queued behind the action
   * being reduced, or held by a TestStore), so a sequential step does not count as done before it.
   */
  hold(): void {
    this.increment()
  }

  /** Ends a {@link hold}, once the action was reduced (its own effects are registered by then). */
  release(): void {
    this.decrement()
  }

  private increment(): void {
    if (this.pending++ === 0 && this.parent !== undefined) {
      ;(this.parent.children ??= new Set()).add(this)
      this.parent.increment()
    }
  }

  private decrement(): void {
    if (--this.pending > 0) return
    if (this.done !== undefined) {
      // Cleared first: a fiber resumed at once may make the node pending, and wait for it, again.
      const done = this.done
      this.done = undefined
      const outer = announcing
      announcing = true
      try {
        Deferred.unsafeDone(done, Exit.void)
      } finally {
        announcing = outer
      }
    }
    if (this.parent !== undefined) {
      this.parent.children!.delete(this)
      this.parent.decrement()
    }
  }

  /** Waits until nothing is pending. */
  awaitDone(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.pending === 0) return Effect.void
      this.done ??= Deferred.unsafeMake<void>(FiberId.none)
      return Deferred.await(this.done)
    })
  }

  /**
   * Waits until nothing is pending, and goes on right where the last pending item ends (in the store's
   * reduction of the last action fed back, in the exit of the last fiber) rather than on a later turn of
   * the scheduler, before anything else is reduced: how a step of an `Fx.sequential` follows the one
   * before at once, as TCA's `.concatenate`. An interruption meanwhile is scheduled as usual.
   */
  awaitDoneAtOnce(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.pending === 0) return Effect.void
      const done = this.done ??= Deferred.unsafeMake<void>(FiberId.none)
      return Effect.withFiberRuntime((fiber) => Effect.withScheduler(Deferred.await(done), atOnce(fiber.currentScheduler)))
    })
  }

  /**
   * Stops every job and interrupts every fiber of this node and its descendants, and waits for the
   * fibers to end (a job ends as it is stopped).
   */
  interruptAll(): Effect.Effect<void> {
    return Effect.suspend(() => {
      const running: Array<Running> = []
      this.collect(running)
      const fibers: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
      for (const each of running) {
        if (isFiber(each)) fibers.push(each)
        else each.stop()
      }
      return fibers.length === 0 ? Effect.void : Fiber.interruptAll(fibers)
    })
  }

  /** The fibers and jobs still running here and in pending descendants, each with the action that started it. */
  running(): Array<readonly [Running, unknown]> {
    const out: Array<readonly [Running, unknown]> = this.fibers === undefined ? [] : [...this.fibers]
    if (this.only !== undefined) out.unshift([this.only, this.onlyStartedBy])
    if (this.children !== undefined) for (const child of this.children) out.push(...child.running())
    return out
  }

  private collect(into: Array<Running>): void {
    if (this.only !== undefined) into.push(this.only)
    if (this.fibers !== undefined) for (const running of this.fibers.keys()) into.push(running)
    if (this.children !== undefined) for (const child of this.children) child.collect(into)
  }
}
