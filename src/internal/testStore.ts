import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import type * as Scope from "effect/Scope"
import * as TestServices from "effect/TestServices"
import type * as Store from "../Store.js"
import type * as TestStore from "../TestStore.js"
import { Overrides } from "./dependencies.js"
import { diff, equals, show } from "./diff.js"
import { actionTag } from "./runner.js"
import { makeImpl, type StoreImpl } from "./store.js"
import type { Running, TaskNode } from "./task.js"
import { requireDuration } from "./validate.js"

/** @internal */
export class TestStoreError extends Data.TaggedError("TestStoreError")<{
  readonly reason: TestStore.FailureReason
  readonly message: string
}> {}

/** An action an effect produced, reduced as it arrived, with the state its reduction left. */
interface Received<S, A> {
  readonly action: A
  readonly state: S
}

const DEFAULT_RECEIVE_TIMEOUT: Duration.DurationInput = "1 second"

/** Scheduler turns `finish` gives running effects to end: plenty for work that needs no time. */
const SETTLE_TURNS = 1000

/** Turns without any effect ending after which `finish` stops waiting for the rest. */
const STILL_TURNS = 250

/**
 * Scheduler turns a `send` gives the effects it started to start (a stream over a `PubSub` to subscribe)
 * before it returns, as TCA's `send` waits for `effectDidSubscribe`: each turn lets one more level of
 * forked fibers run to their first suspension.
 */
const START_TURNS = 8

/**
 * Where the test called the step that failed: the stack at the call, minus this file's frames, so the
 * runner's report points at the test's own line first.
 */
class CallSite {
  private readonly error = new Error()

  frames(): string {
    const lines = (this.error.stack ?? "").split("\n").slice(1)
    return lines.filter((line) => !line.includes("internal/testStore.")).join("\n")
  }
}

const failAt = (site: CallSite, reason: TestStore.FailureReason, lines: ReadonlyArray<string>) =>
  Effect.suspend(() => {
    const error = new TestStoreError({ reason, message: lines.join("\n") })
    error.stack = `TestStoreError: ${error.message}\n${site.frames()}`
    return Effect.fail(error)
  })

const describeMatcher = (matcher: unknown): string =>
  typeof matcher === "function" ? "an action matching the predicate" : show(matcher)

const matches = <A>(matcher: TestStore.Matcher<A>, action: A): boolean =>
  typeof matcher === "function"
    ? (matcher as (a: A) => boolean)(action)
    : typeof matcher === "string"
    ? action === matcher || actionTag(action) === matcher
    : equals(matcher, action)

/** Whether `value` has every field `pattern` names, nested patterns for nested plain objects. */
const matchesPattern = (pattern: unknown, value: unknown): boolean => {
  if (!isPlainRecord(pattern)) return equals(pattern, value)
  if (typeof value !== "object" || value === null) return false
  return Object.keys(pattern).every((key) => matchesPattern(pattern[key], (value as Record<string, unknown>)[key]))
}

const isPlainRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && (Object.getPrototypeOf(u) === Object.prototype || Object.getPrototypeOf(u) === null)

/** @internal */
export const like = <A>(pattern: TestStore.Pattern<A>) => (action: A): boolean => matchesPattern(pattern, action)

/**
 * The TestStore on TCA's model: a real store, unchanged, that the test drives, and a recorder of what it
 * reduced. Every action an effect produces is reduced as it arrives, exactly as in production, and
 * recorded with the state it left; `receive` asserts the oldest recorded one against that state.
 *
 * @internal
 */
export class TestStoreImpl<S, A, R> implements TestStore.TestStore<S, A> {
  private readonly recorded: Array<Received<S, A>> = []
  private readonly defects: Array<{ readonly action: A; readonly defect: unknown; readonly where: "reducer" | "effect" }> = []
  private readonly unhandled: Array<string> = []
  /** Effects `skipInFlightEffects` stopped tracking: `finish` does not report them. */
  private readonly untracked = new Set<Running>()
  private arrival: Deferred.Deferred<void> | undefined
  private finished = false
  /** The state the last step asserted (or skipped to): what the next expectation function is given. */
  private asserted: S
  /** The test's own send in progress: its reduction (told by its task) is the send's, not a received one. */
  private sending: { readonly task: TaskNode; reduced: boolean; state: S | undefined } | undefined
  /** While an expectation function runs: what `state` reads (the state before the step). */
  private evaluating: { readonly state: S } | undefined
  readonly exhaustive: boolean
  private readonly showSkipped: boolean
  private readonly receiveTimeout: Duration.DurationInput

  constructor(
    readonly store: StoreImpl<S, A, R>,
    options: TestStore.Options<S, A, R>,
    private readonly overrides: Overrides = new Overrides()
  ) {
    this.exhaustive = (options.exhaustivity ?? "exhaustive") === "exhaustive"
    this.showSkipped = options.showSkippedAssertions ?? false
    this.receiveTimeout = options.receiveTimeout ?? DEFAULT_RECEIVE_TIMEOUT
    this.asserted = store.stateNow
    store.onReducerDefect = (action, defect) => void this.defects.push({ action, defect, where: "reducer" })
    store.onEffectDefect = (action, cause) =>
      void this.defects.push({ action, defect: Cause.squash(cause), where: "effect" })
    store.onUnhandledChildAction = (combinator, action, detail) =>
      void this.unhandled.push(`  Reducer.${combinator}: ${detail}: ${show(action)}`)
  }

  setService<I, Svc>(tag: Context.Tag<I, Svc>, service: Svc): Effect.Effect<void> {
    // Set when the test's line runs: the store reduces one action at a time, so every reduction after it
    // (the next send, or an action an effect feeds back later) returns its effects with the new service.
    return Effect.sync(() => this.overrides.set(tag, service))
  }

  /** Starts recording; every reduction is broadcast, synchronously, with the store's state already set. */
  readonly record: Effect.Effect<void, never, Scope.Scope> = Effect.suspend(() =>
    this.store.actions.listen((action) => {
      // The first reduction under the send's task is its own action; what it fed back shares the task.
      if (this.sending !== undefined && !this.sending.reduced && this.store.publishing === this.sending.task) {
        this.sending.reduced = true
        this.sending.state = this.store.stateNow
        return
      }
      this.recorded.push({ action, state: this.store.stateNow })
      if (this.arrival !== undefined) Deferred.unsafeDone(this.arrival, Exit.void)
    })
  )

  get state(): Effect.Effect<S> {
    return Effect.sync(() => this.evaluating !== undefined ? this.evaluating.state : this.store.stateNow)
  }

  get received(): Effect.Effect<ReadonlyArray<A>> {
    return Effect.sync(() => this.recorded.map((r) => r.action))
  }

  send(action: A, expected?: TestStore.Expectation<S>): Effect.Effect<TestStore.Task, TestStoreError> {
    const site = new CallSite()
    return Effect.gen(this, function*() {
      if (this.recorded.length > 0) {
        if (this.exhaustive) {
          return yield* failAt(site, "UnassertedReceivedActions", [
            `Must handle ${this.recorded.length} received action(s) before sending ${show(action)}:`,
            ...this.recorded.map((r) => `  ${show(r.action)}`),
            "Assert them with receive(...), or call skipReceivedActions()."
          ])
        }
        yield* this.skip(this.recorded.length, `before sending ${show(action)}`)
      }
      const before = this.exhaustive ? this.asserted : this.store.stateNow
      // More steps after a `finish`: the end of the test checks again.
      this.finished = false
      const sending = this.sending = { task: this.store.newTask(action), reduced: false, state: undefined as S | undefined }
      const task = yield* Effect.orDie(this.store.sendViaRunLoop(action, sending.task)).pipe(
        Effect.ensuring(Effect.sync(() => this.sending = undefined))
      )
      // Not reduced: the reducer threw on it (reported below), and the state is what it was.
      const after = sending.reduced ? sending.state as S : before
      // Before checking: an effect that dies as it starts is this send's failure, not the next step's.
      if (yield* task.isRunning) for (let turn = 0; turn < START_TURNS; turn++) yield* Effect.yieldNow()
      // Non-exhaustive (TCA's exhaustivity off): the expectation is applied to the actual next state, so it
      // only sets what the test cares about.
      yield* this.check(site, `sending ${show(action)}`, this.exhaustive ? before : after, after, expected)
      this.asserted = after
      return this.testTask(task)
    })
  }

  /** The store's task, whose waits give up after a timeout of real time (the TestClock may never move). */
  private testTask(task: Store.Task): TestStore.Task {
    const finishWithin = (timeout: Duration.DurationInput): Effect.Effect<void, TestStoreError> => {
      requireDuration("TestStore task.finishWithin", "timeout", timeout)
      const site = new CallSite()
      return this.withinRealTime(task.finish, timeout, () =>
        failAt(site, "TaskTimeout", [
          `Expected the effects of ${show(task.action)} to finish, but they were still in flight after ${
            Duration.format(Duration.decode(timeout))
          } of real time.`,
          "Effects run on the TestClock: advance it with TestClock.adjust(...) (in another fiber) so they can end.",
          this.stillRunning()
        ]))
    }
    const receiveTimeout = this.receiveTimeout
    return {
      action: task.action,
      get finish() {
        return finishWithin(receiveTimeout)
      },
      finishWithin,
      cancel: task.cancel,
      isRunning: task.isRunning
    }
  }

  receive(
    matcher: TestStore.Matcher<A>,
    expected?: TestStore.Expectation<S>,
    options?: { readonly timeout?: Duration.DurationInput }
  ): Effect.Effect<void, TestStoreError> {
    if (options?.timeout !== undefined) requireDuration("TestStore.receive", "timeout", options.timeout)
    const site = new CallSite()
    const timeout = options?.timeout ?? this.receiveTimeout
    const find = Effect.gen(this, function*() {
      while (true) {
        if (this.exhaustive && this.recorded.length > 0) return 0
        const index = this.recorded.findIndex((r) => matches(matcher, r.action))
        if (index >= 0) return index
        yield* this.awaitArrival
      }
    })
    return Effect.gen(this, function*() {
      const found = yield* this.withinRealTime(find, timeout, () =>
        failAt(site, "ReceiveTimeout", [
          `Expected to receive ${describeMatcher(matcher)}, but ${
            this.recorded.length === 0 ? "no action arrived" : "none of the actions that arrived matched"
          } within ${Duration.format(Duration.decode(timeout))} of real time.`,
          ...(this.recorded.length > 0 ? ["Received:", ...this.recorded.map((r) => `  ${show(r.action)}`)] : []),
          ...(this.runningOrigins().length === 0
            // Nothing can send it any more: advancing the clock would not help (TCA says the same).
            ? ["No effect is in flight: was the effect that sends it cancelled, or did it end without sending it?"]
            : [
              "Effects run on the TestClock: if the action comes after a delay, advance it with TestClock.adjust(...) first.",
              this.stillRunning()
            ])
        ]))
      const next = this.recorded[found]!
      if (!matches(matcher, next.action)) {
        return yield* failAt(site, "UnexpectedReceivedAction", [
          `Expected to receive ${describeMatcher(matcher)}, but received ${show(next.action)}.`,
          // An expected value of the same tag: say where they differ, as for states.
          ...(typeof matcher === "object" && matcher !== null && actionTag(matcher) === actionTag(next.action)
            ? ["  (- expected, + received)", ...diff(matcher, next.action, "action")]
            : []),
          ...(this.recorded.length > 1 ? ["Also received:", ...this.recorded.slice(1).map((r) => `  ${show(r.action)}`)] : [])
        ])
      }
      yield* this.skip(found, `before receiving ${show(next.action)}`)
      this.recorded.shift()
      const before = this.exhaustive ? this.asserted : next.state
      yield* this.check(site, `receiving ${show(next.action)}`, before, next.state, expected)
      this.asserted = next.state
    })
  }

  finish(options?: { readonly timeout?: Duration.DurationInput }): Effect.Effect<void, TestStoreError> {
    if (options?.timeout !== undefined) requireDuration("TestStore.finish", "timeout", options.timeout)
    const site = new CallSite()
    return Effect.gen(this, function*() {
      yield* this.settle
      this.finished = true
      // Non-exhaustive (TCA's exhaustivity off): what was received stays for the test to look at or
      // receive, and effects go on; only what a store would report fails.
      if (!this.exhaustive || this.anythingReported) return yield* this.reported(site, "finishing")
      // Effects that end in real time (a promise, a socket) get until the timeout, as in TCA; effects
      // waiting on the TestClock do not end this way, and are reported.
      if (this.runningOrigins().length > 0) {
        yield* this.withinRealTime(this.untilTrackedEnd, options?.timeout ?? this.receiveTimeout, () => Effect.void)
        if (this.anythingReported) return yield* this.reported(site, "finishing")
      }
      const problems: Array<string> = []
      if (this.recorded.length > 0) {
        problems.push(
          `${this.recorded.length} received action(s) were never asserted:`,
          ...this.recorded.map((r) => `  ${show(r.action)}`),
          "Assert them with receive(...), or call skipReceivedActions()."
        )
      }
      const running = this.runningOrigins()
      if (running.length > 0) {
        problems.push(
          `${running.length} effect(s) still running, started by:`,
          ...running.map((origin) => `  ${show(origin)}`),
          "Advance the TestClock until they end, cancel them, or call skipInFlightEffects()."
        )
      }
      if (problems.length > 0) {
        yield* this.store.interruptEffects()
        return yield* failAt(site, this.recorded.length > 0 ? "UnassertedReceivedActions" : "EffectsStillRunning", problems)
      }
    })
  }

  /** Waits, polling in real time, until no tracked effect runs. */
  private get untilTrackedEnd(): Effect.Effect<void> {
    const poll = TestServices.liveWith((live) => live.provide(Effect.sleep(Duration.millis(5))))
    return Effect.suspend(() => this.runningOrigins().length === 0 ? Effect.void : Effect.zipRight(poll, this.untilTrackedEnd))
  }

  skipReceivedActions(options?: { readonly strict?: boolean }): Effect.Effect<void, TestStoreError> {
    const site = new CallSite()
    return Effect.suspend(() => {
      if (this.recorded.length === 0) {
        return this.nothingToSkip(site, options, "skipReceivedActions: there were no received actions to skip.")
      }
      this.asserted = this.recorded[this.recorded.length - 1]!.state
      this.recorded.length = 0
      return Effect.void
    })
  }

  skipInFlightEffects(options?: { readonly strict?: boolean; readonly interrupt?: boolean }): Effect.Effect<void, TestStoreError> {
    const site = new CallSite()
    return Effect.suspend(() => {
      const running = this.tracked()
      if (running.length === 0) {
        return this.nothingToSkip(site, options, "skipInFlightEffects: there were no effects in flight to skip.")
      }
      // TCA stops tracking them and lets them run; interrupting them is asked for by name.
      if (options?.interrupt === true) return this.store.interruptEffects()
      for (const [fiber] of running) this.untracked.add(fiber)
      return Effect.void
    })
  }

  /** The scope's finalizer: `finish` unless the test already did, or already failed. */
  finalize(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return this.finished || Exit.isFailure(exit) ? Effect.void : Effect.orDie(this.finish())
  }

  /** The effects running that the test still tracks (not given up by `skipInFlightEffects`). */
  private tracked(): ReadonlyArray<readonly [Running, unknown]> {
    return this.store.runningEffects.filter(([fiber]) => !this.untracked.has(fiber))
  }

  private runningOrigins(): ReadonlyArray<unknown> {
    return this.tracked().map(([, origin]) => origin)
  }

  /** The line of a timeout's failure that names what still runs. */
  private stillRunning(): string {
    return `Effects still running were started by: ${this.runningOrigins().map(show).join(", ") || "(none)"}`
  }

  /** What an escape hatch with nothing to skip does: fail (strict, the default, as TCA) or nothing. */
  private nothingToSkip(site: CallSite, options: { readonly strict?: boolean | undefined } | undefined, what: string) {
    return options?.strict === false ? Effect.void : failAt(site, "NothingToSkip", [what])
  }

  /** Drops the oldest `count` recorded actions unasserted (non-exhaustive mode), logging them if asked. */
  private skip(count: number, when: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (count === 0) return Effect.void
      const skipped = this.recorded.splice(0, count)
      this.asserted = skipped[skipped.length - 1]!.state
      return this.showSkipped
        ? Effect.logInfo(`TestStore skipped ${count} received action(s) ${when}: ${skipped.map((r) => show(r.action)).join(", ")}`)
        : Effect.void
    })
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

  /** Waits for the next recorded action. */
  private get awaitArrival(): Effect.Effect<void> {
    return Effect.suspend(() => {
      const arrival = this.arrival = Deferred.unsafeMake<void>(FiberId.none)
      return Deferred.await(arrival).pipe(Effect.ensuring(Effect.sync(() => this.arrival = undefined)))
    })
  }

  /** `effect`, or `onTimeout` after `timeout` of real time: effects waiting on the TestClock never wake by themselves. */
  private withinRealTime<X, Y>(
    effect: Effect.Effect<X>,
    timeout: Duration.DurationInput,
    onTimeout: () => Effect.Effect<Y, TestStoreError>
  ): Effect.Effect<X | Y, TestStoreError> {
    const giveUp = TestServices.liveWith((live) => live.provide(Effect.sleep(timeout)))
    // Built when the wait gives up, so it names what arrived and what runs then.
    // Interruptible, so the timeout can end the wait even where interruption is off (`finish` runs in the
    // scope's finalizer).
    return Effect.raceFirst(Effect.interruptible(effect), Effect.zipRight(giveUp, Effect.suspend(onTimeout)))
  }

  private get anythingReported(): boolean {
    return this.defects.length > 0 || this.unhandled.length > 0
  }

  /**
   * What a store logs and goes on from, and a test must not: a throwing reducer or a dying effect first,
   * then child actions `ifLet` / `forEach` could not route (TCA fails a test on those too).
   */
  private reported(site: CallSite, what: string): Effect.Effect<void, TestStoreError> {
    if (this.defects.length > 0) {
      const defects = this.defects.splice(0)
      const render = (defect: unknown) => defect instanceof Error ? defect.stack ?? defect.message : show(defect)
      const reducer = defects.filter((d) => d.where === "reducer")
      if (reducer.length > 0) {
        return failAt(site, "ReducerDefect", [
          `The reducer threw while ${what} (the state was left as it was):`,
          ...reducer.map(({ action, defect }) => `  on ${show(action)}: ${render(defect)}`)
        ])
      }
      return failAt(site, "EffectDefect", [
        `An effect died (found while ${what}; a store would log it and go on):`,
        ...defects.map(({ action, defect }) => `  started by ${show(action)}: ${render(defect)}`)
      ])
    }
    if (this.unhandled.length === 0) return Effect.void
    return failAt(site, "UnhandledChildAction", [
      `A child action could not be routed (found while ${what}; a store would log it and go on):`,
      ...this.unhandled.splice(0)
    ])
  }

  private check(
    site: CallSite,
    what: string,
    before: S,
    after: S,
    expected: TestStore.Expectation<S> | undefined
  ): Effect.Effect<void, TestStoreError> {
    return Effect.suspend(() => {
      if (this.anythingReported) return this.reported(site, what)
      if (expected === undefined) {
        if (!this.exhaustive || equals(before, after)) return Effect.void
        return failAt(site, "UnexpectedStateChange", [
          `State changed after ${what}, but no expectation was given:`,
          "  (- before, + after)",
          ...diff(before, after)
        ])
      }
      // Non-exhaustive: the expectation is applied to the actual state, so only what it sets is checked.
      let want: S
      if (typeof expected === "function") {
        // Nothing but the argument may show the new state: reading the store's state in here gives `before`.
        this.evaluating = { state: before }
        try {
          want = (expected as (s: S) => S)(before)
        } finally {
          this.evaluating = undefined
        }
      } else {
        want = expected
      }
      // TCA: an expectation says the state changes; if it did not, that is its own failure (even when the
      // expectation, a function returning its argument, agrees with the unchanged state).
      if (this.exhaustive && equals(before, after)) {
        return failAt(site, "ExpectedStateChange", [
          `Expected state to change after ${what}, but no change occurred.`,
          ...(equals(want, after) ? [] : ["  (- expected, + actual)", ...diff(want, after)])
        ])
      }
      if (equals(want, after)) return Effect.void
      return failAt(site, "StateMismatch", [`State after ${what} does not match:`, "  (- expected, + actual)", ...diff(want, after)])
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
    const overrides = new Overrides()
    const store = yield* makeImpl({
      ...options,
      label: options.label ?? "test-store",
      reducer: overrides.wrap(options.reducer)
    })
    const testStore = new TestStoreImpl(store, options, overrides)
    yield* testStore.record
    yield* Effect.addFinalizer((exit) => testStore.finalize(exit))
    return testStore
  })
}
