import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"
import * as TestServices from "effect/TestServices"
import type * as Tracer from "effect/Tracer"
import type * as Store from "../Store.js"
import type * as TestStore from "../TestStore.js"
import { diff, equals, show } from "./diff.js"
import { actionTag } from "./runner.js"
import { makeImpl, type StoreImpl } from "./store.js"
import { Dropped, type Run } from "./run.js"
import type { TaskNode } from "./task.js"
import { requireDuration } from "./validate.js"

/** @internal */
export class TestStoreError extends Data.TaggedError("TestStoreError")<{
  readonly reason: TestStore.FailureReason
  readonly message: string
}> {}

interface Held<A> {
  /** Rebuilt when a group of `Fx.batch` loses items to a cancel (see `Run.current`). */
  action: A
  readonly task: TaskNode
  readonly span: Tracer.AnySpan | undefined
  /** The effect that produced it, when it ran in a fiber (not an `Fx.send` of the reduction). */
  readonly run: Run<A> | undefined
}

const DEFAULT_RECEIVE_TIMEOUT: Duration.DurationInput = "1 second"

/** Scheduler turns `finish` gives running effects to end: plenty for work that needs no time. */
const SETTLE_TURNS = 1000

/** Turns without any effect ending after which `finish` stops waiting for the rest. */
const STILL_TURNS = 250

const fail = (reason: TestStore.FailureReason, lines: ReadonlyArray<string>) =>
  Effect.fail(new TestStoreError({ reason, message: lines.join("\n") }))

const describeMatcher = (matcher: unknown): string =>
  typeof matcher === "function" ? "an action matching the predicate" : show(matcher)

const matches = <A>(matcher: TestStore.Matcher<A>, action: A): boolean =>
  typeof matcher === "function"
    ? (matcher as (a: A) => boolean)(action)
    : typeof matcher === "string"
    ? action === matcher || actionTag(action) === matcher
    : equals(matcher, action)

/** @internal */
export class TestStoreImpl<S, A, R> implements TestStore.TestStore<S, A> {
  private readonly held: Array<Held<A>> = []
  private readonly defects: Array<{ readonly action: A; readonly defect: unknown }> = []
  private readonly unhandled: Array<string> = []
  private arrival: Deferred.Deferred<void> | undefined
  private finished = false
  readonly exhaustive: boolean
  private readonly receiveTimeout: Duration.DurationInput

  constructor(readonly store: StoreImpl<S, A, R>, options: TestStore.Options<S, A, R>) {
    this.exhaustive = (options.exhaustivity ?? "exhaustive") === "exhaustive"
    this.receiveTimeout = options.receiveTimeout ?? DEFAULT_RECEIVE_TIMEOUT
    store.onReducerDefect = (action, defect) => void this.defects.push({ action, defect })
    store.onUnhandledChildAction = (combinator, action, detail) =>
      void this.unhandled.push(`  Reducer.${combinator}: ${detail}: ${show(action)}`)
    store.feedback = (action, task, span, run) => {
      // Pending on its task until the test reduces it, as a queued action is in a store.
      task.hold()
      // A cancel reduced while it is held must find its effect, even one that has ended since.
      run?.pin()
      this.held.push({ action, task, span, run })
      if (this.arrival !== undefined) Deferred.unsafeDone(this.arrival, Exit.void)
    }
  }

  get state(): Effect.Effect<S> {
    return this.store.state
  }

  get received(): Effect.Effect<ReadonlyArray<A>> {
    return Effect.sync(() => {
      this.prune()
      return this.held.map((held) => held.action)
    })
  }

  send(action: A, expected?: TestStore.Expectation<S>): Effect.Effect<Store.Task, TestStoreError> {
    return Effect.gen(this, function*() {
      this.prune()
      if (this.held.length > 0) {
        if (this.exhaustive) {
          return yield* fail("UnassertedReceivedActions", [
            `Must handle ${this.held.length} received action(s) before sending ${show(action)}:`,
            ...this.held.map((held) => `  ${show(held.action)}`),
            "Assert them with receive(...), or call skipReceivedActions()."
          ])
        }
        this.reduceHeld(this.held.splice(0))
      }
      const before = this.store.stateNow
      const task = yield* Effect.orDie(this.store.send(action))
      yield* this.check(`sending ${show(action)}`, before, expected)
      return task
    })
  }

  receive(
    matcher: TestStore.Matcher<A>,
    expected?: TestStore.Expectation<S>,
    options?: { readonly timeout?: Duration.DurationInput }
  ): Effect.Effect<void, TestStoreError> {
    if (options?.timeout !== undefined) requireDuration("TestStore.receive", "timeout", options.timeout)
    return Effect.gen(this, function*() {
      while (true) {
        yield* this.awaitHeld(matcher, options?.timeout ?? this.receiveTimeout)
        this.prune()
        if (this.held.length === 0) continue
        const next = this.held[0]!
        if (matches(matcher, next.action)) {
          this.held.shift()
          const before = this.store.stateNow
          this.reduceHeld([next])
          return yield* this.check(`receiving ${show(next.action)}`, before, expected)
        }
        if (this.exhaustive) {
          return yield* fail("UnexpectedReceivedAction", [
            `Expected to receive ${describeMatcher(matcher)}, but received ${show(next.action)}.`,
            // An expected value of the same tag: say where they differ, as for states.
            ...(typeof matcher === "object" && matcher !== null && actionTag(matcher) === actionTag(next.action)
              ? ["  (- expected, + received)", ...diff(matcher, next.action, "action")]
              : []),
            ...(this.held.length > 1 ? ["Also waiting:", ...this.held.slice(1).map((h) => `  ${show(h.action)}`)] : [])
          ])
        }
        // Non-exhaustive: actions the test does not care about are reduced on the way.
        this.reduceHeld([this.held.shift()!])
      }
    })
  }

  finish(): Effect.Effect<void, TestStoreError> {
    return Effect.gen(this, function*() {
      yield* this.settle
      this.finished = true
      this.prune()
      if (!this.exhaustive) {
        this.reduceHeld(this.held.splice(0))
        yield* this.store.interruptEffects()
        return yield* this.reported("finishing")
      }
      // What a step did not get to report (reduced by skipReceivedActions, or reported late) fails here.
      if (this.anythingReported) {
        yield* this.store.interruptEffects()
        return yield* this.reported("finishing")
      }
      const problems: Array<string> = []
      if (this.held.length > 0) {
        problems.push(
          `${this.held.length} received action(s) were never asserted:`,
          ...this.held.map((held) => `  ${show(held.action)}`),
          "Assert them with receive(...), or call skipReceivedActions()."
        )
      }
      const running = this.store.runningEffectOrigins
      if (running.length > 0) {
        problems.push(
          `${running.length} effect(s) still running, started by:`,
          ...running.map((origin) => `  ${show(origin)}`),
          "Advance the TestClock until they end, cancel them, or call skipInFlightEffects()."
        )
      }
      if (problems.length > 0) {
        yield* this.store.interruptEffects()
        return yield* fail(this.held.length > 0 ? "UnassertedReceivedActions" : "EffectsStillRunning", problems)
      }
    })
  }

  get skipReceivedActions(): Effect.Effect<void> {
    return Effect.sync(() => this.reduceHeld(this.held.splice(0)))
  }

  get skipInFlightEffects(): Effect.Effect<void> {
    return this.store.interruptEffects()
  }

  /** The scope's finalizer: `finish` unless the test already did, or already failed. */
  finalize(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return this.finished || Exit.isFailure(exit) ? Effect.void : Effect.orDie(this.finish())
  }

  private reduceHeld(held: ReadonlyArray<Held<A>>): void {
    for (const h of held) {
      if (this.forgotten(h)) continue
      try {
        this.store.dispatch(h.action, h.task, h.span)
      } finally {
        h.task.release()
        h.run?.unpin()
      }
    }
  }

  /**
   * Whether a held action's effect was cancelled since it was produced. A store pulls a stream's next item
   * only after reducing the last one, so a cancel reduced in between means it was never produced: the
   * TestStore forgets it (this is what a test sees when an item's reduction cancels its own stream). The
   * run is the one that produced the action, also through `Fx.rateLimit`, `Fx.batch` and `Fx.idleTimeout`;
   * a batch's group that lost only some of its items is rebuilt from the others instead.
   */
  private forgotten(held: Held<A>): boolean {
    if (held.run === undefined) return false
    const action = held.run.current(held.action)
    if (action !== Dropped) {
      held.action = action
      return false
    }
    held.task.release()
    held.run.unpin()
    return true
  }

  /**
   * Lets effects that need no time (on the TestClock) run to their end before `finish` looks: yields
   * while any are still running, up to a bound, since an effect waiting on the clock never ends by itself.
   */
  private get settle(): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      // Stop early once nothing runs, or once the count has not moved for a while (the rest waits on time).
      let still = 0
      for (let turn = 0, last = -1; turn < SETTLE_TURNS && still < STILL_TURNS; turn++) {
        const running = this.store.runningEffectCount
        if (running === 0) return
        still = running === last ? still + 1 : 0
        last = running
        yield* Effect.yieldNow()
      }
    })
  }

  /** Forgets held actions whose effect was cancelled; run before looking at what is held. */
  private prune(): void {
    for (let i = this.held.length - 1; i >= 0; i--) if (this.forgotten(this.held[i]!)) this.held.splice(i, 1)
  }

  private awaitHeld(matcher: TestStore.Matcher<A>, timeout: Duration.DurationInput): Effect.Effect<void, TestStoreError> {
    return Effect.suspend(() => {
      this.prune()
      if (this.held.length > 0) return Effect.void
      const arrival = this.arrival = Deferred.unsafeMake<void>(FiberId.none)
      // Real time, not the TestClock: effects waiting on the TestClock never wake by themselves.
      const giveUp = TestServices.liveWith((live) => live.provide(Effect.sleep(timeout)))
      return Effect.raceFirst(
        Deferred.await(arrival),
        Effect.zipRight(
          giveUp,
          // Built when the wait gives up, so it names the effects running then.
          Effect.suspend(() => fail("ReceiveTimeout", [
            `Expected to receive ${describeMatcher(matcher)}, but no action arrived within ${
              Duration.format(Duration.decode(timeout))
            } of real time.`,
            "Effects run on the TestClock: if the action comes after a delay, call TestClock.adjust(...) first.",
            `Effects still running were started by: ${this.store.runningEffectOrigins.map(show).join(", ") || "(none)"}`
          ]))
        )
      ).pipe(Effect.ensuring(Effect.sync(() => this.arrival = undefined)))
    })
  }

  private get anythingReported(): boolean {
    return this.defects.length > 0 || this.unhandled.length > 0
  }

  /**
   * What a store logs and goes on from, and a test must not: a throwing reducer first, then child actions
   * `ifLet` / `forEach` could not route (TCA fails a test on those too).
   */
  private reported(what: string): Effect.Effect<void, TestStoreError> {
    if (this.defects.length > 0) return this.reducerDefects(what)
    if (this.unhandled.length === 0) return Effect.void
    return fail("UnhandledChildAction", [
      `A child action could not be routed (found while ${what}; a store would log it and go on):`,
      ...this.unhandled.splice(0)
    ])
  }

  private reducerDefects(what: string): Effect.Effect<never, TestStoreError> {
    const defects = this.defects.splice(0)
    return fail("ReducerDefect", [
      `The reducer threw while ${what} (the state was left as it was):`,
      ...defects.map(({ action, defect }) =>
        `  on ${show(action)}: ${defect instanceof Error ? defect.stack ?? defect.message : show(defect)}`
      )
    ])
  }

  private check(what: string, before: S, expected: TestStore.Expectation<S> | undefined): Effect.Effect<void, TestStoreError> {
    return Effect.suspend(() => {
      if (this.anythingReported) return this.reported(what)
      const after = this.store.stateNow
      if (expected === undefined) {
        if (!this.exhaustive || equals(before, after)) return Effect.void
        return fail("UnexpectedStateChange", [
          `State changed after ${what}, but no expectation was given:`,
          "  (- before, + after)",
          ...diff(before, after)
        ])
      }
      // Non-exhaustive: the expectation is applied to the actual state, so only what it sets is checked.
      const want = typeof expected === "function"
        ? (expected as (s: S) => S)(this.exhaustive ? before : after)
        : expected
      if (equals(want, after)) return Effect.void
      if (equals(before, after)) {
        return fail("ExpectedStateChange", [
          `Expected state to change after ${what}, but no change occurred:`,
          "  (- expected, + actual)",
          ...diff(want, after)
        ])
      }
      return fail("StateMismatch", [`State after ${what} does not match:`, "  (- expected, + actual)", ...diff(want, after)])
    })
  }
}

/** @internal */
export const make = <S, A, R = never>(
  options: TestStore.Options<S, A, R>
): Effect.Effect<TestStore.TestStore<S, A>, never, Scope.Scope | R> => {
  // `NaN` would read as zero: every `receive` would time out at once, whatever the effects do.
  if (options.receiveTimeout !== undefined) requireDuration("TestStore.make", "receiveTimeout", options.receiveTimeout)
  return Effect.gen(function*() {
    const store = yield* makeImpl({ ...options, label: options.label ?? "test-store" })
    const testStore = new TestStoreImpl(store, options)
    yield* Effect.addFinalizer((exit) => testStore.finalize(exit))
    return testStore
  })
}
