import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as MutableQueue from "effect/MutableQueue"
import type * as Scope from "effect/Scope"
import type * as Store from "../Store.js"
import { makeFlusher } from "./flusher.js"
import { follow } from "./follow.js"
import { StoreImpl } from "./store.js"

/** A reduced action with its position in the log. @internal */
export interface LogEvent<A> {
  readonly id: number
  readonly action: A
  /** The action as sent on the wire, encoded by the first client that needed it: every client shares it. */
  encoded?: string
}

/**
 * Events delivered together, ids ascending. Most subscribers get the same batch object, so a route
 * encodes it once (`frames`) and writes the same bytes to every client.
 *
 * @internal
 */
export interface Batch<A> {
  readonly events: ReadonlyArray<LogEvent<A>>
  /** The batch encoded for clients, by the first one that needed it, with the id of its first event. */
  frames?: EncodedEvents
  /** Its newest events only, for clients that may not be sent that many at once. */
  tail?: EncodedEvents
}

/** Consecutive events encoded for the wire, from `first`. @internal */
export interface EncodedEvents {
  readonly first: number
  readonly bytes: Uint8Array
}

/** Someone reading the log: `deliver` gets every event after its starting point, `end` once the store shut down. @internal */
export interface LogSubscriber<A> {
  readonly deliver: (batch: Batch<A>) => void
  readonly end: () => void
}

/** What a client subscribing with a `Last-Event-ID` gets first, before the live events. @internal */
export type Resume =
  | { readonly _tag: "Fresh" }
  | { readonly _tag: "Replay"; readonly after: number }
  /** The id is ahead of this log (it restarted since): the client cannot know what it missed. */
  | { readonly _tag: "Unknown"; readonly latest: number }

interface Reader<A> {
  readonly subscriber: LogSubscriber<A>
  /** The id of the last event it was given. */
  after: number
}

/**
 * The store's reduced actions, numbered in reduce order, for web clients. It keeps the last `replay`
 * events, so a client can resume after `Last-Event-ID`, and fans new events out to its subscribers in
 * batches: whatever was reduced since the last flush goes to every subscriber at once ({@link makeFlusher}),
 * so a thousand listening clients cost one write each per flush, not the store's sends their time.
 *
 * Actions are numbered synchronously, as they are reduced (a listener on the store's broadcast), so that
 * a request that sends an action knows its id as soon as the send returns, and knows when there is none
 * (the reducer threw, so the action was never broadcast).
 *
 * @internal
 */
export class EventLog<A> {
  private latest = 0
  /** The id of the last event given to subscribers; later ones wait in `pending`. */
  private flushed = 0
  private pending: Array<LogEvent<A>> = []
  private readonly readers = new Set<Reader<A>>()
  private readonly recent: MutableQueue.MutableQueue<LogEvent<A>> | undefined
  private wake: () => void = () => undefined
  /** Whether the store has shut down: nothing more will be logged. */
  ended = false
  /** Sends in progress, each waiting for its action's id (first come, first served among equal actions). */
  private readonly claims: Array<{ readonly action: A; id: number | undefined }> = []

  private constructor(
    replay: number,
    /** Whether actions are numbered as they are reduced (a store made by `Store.make`), or later. */
    readonly synchronous: boolean,
    /**
     * Names this log among the logs one store may have over time (a host's store, passivated and
     * activated again, gets a new log): its ids on the wire are `<epoch>-<n>`. Without one they are `n`.
     */
    readonly epoch: string | undefined,
    private readonly onEnd: (() => void) | undefined
  ) {
    this.recent = replay > 0 ? MutableQueue.bounded<LogEvent<A>>(replay) : undefined
  }

  /** `onEnd` runs once the log has ended (the store shut down), after its subscribers were ended. */
  static make<S, A>(
    store: Store.Store<S, A>,
    options: { readonly replay: number; readonly epoch?: string | undefined; readonly onEnd?: (() => void) | undefined }
  ): Effect.Effect<EventLog<A>, never, Scope.Scope> {
    return Effect.gen(function*() {
      const log = new EventLog<A>(options.replay, store instanceof StoreImpl, options.epoch, options.onEnd)
      log.wake = (yield* makeFlusher(() => log.flush())).wake
      if (store instanceof StoreImpl) {
        yield* store.actions.listen((action: A) => log.append(action), () => log.end())
      } else {
        // A store implemented elsewhere: number its broadcast as it arrives.
        const actions = yield* store.subscribe({ overflow: "unbounded" })
        yield* follow(actions, (action) => log.append(action), () => log.end())
      }
      return log
    })
  }

  private append(action: A): void {
    const event = { id: ++this.latest, action }
    if (this.claims.length > 0) {
      const index = this.claims.findIndex((c) => c.action === action)
      if (index >= 0) this.claims.splice(index, 1)[0]!.id = event.id
    }
    if (this.recent !== undefined) {
      if (MutableQueue.length(this.recent) >= MutableQueue.capacity(this.recent)) MutableQueue.poll(this.recent, undefined)
      MutableQueue.offer(this.recent, event)
    }
    // No one to tell (and nothing waiting for a flush): the event is only kept for replay.
    if (this.readers.size === 0 && this.pending.length === 0) {
      this.flushed = event.id
      return
    }
    this.pending.push(event)
    if (this.pending.length === 1) this.wake()
  }

  /** Gives every subscriber what was logged since the last flush; a subscriber that throws is dropped. */
  private flush(): Effect.Effect<void> {
    if (this.pending.length === 0) return Effect.void
    const batch: Batch<A> = { events: this.pending }
    this.pending = []
    this.flushed = batch.events[batch.events.length - 1]!.id
    let failures: Cause.Cause<never> = Cause.empty
    for (const reader of this.readers) {
      try {
        this.give(reader, batch)
      } catch (defect) {
        this.readers.delete(reader)
        failures = Cause.sequential(failures, Cause.die(defect))
      }
    }
    return Cause.isEmpty(failures) ? Effect.void : Effect.logError("StoreHttp: a client's delivery failed; it was let go", failures)
  }

  /** Gives `reader` the events of `batch` it has not had: the shared batch, or (rarely) its tail. */
  private give(reader: Reader<A>, batch: Batch<A>): void {
    const { events } = batch
    const last = events[events.length - 1]!.id
    if (last <= reader.after) return
    const own = events[0]!.id > reader.after ? batch : { events: events.filter((event) => event.id > reader.after) }
    reader.after = last
    reader.subscriber.deliver(own)
  }

  private end(): void {
    if (this.ended) return
    // What was reduced before the shutdown still reaches everyone, then their streams end.
    Effect.runSync(this.flush())
    this.ended = true
    for (const reader of this.readers) reader.subscriber.end()
    this.readers.clear()
    this.onEnd?.()
  }

  /** Event `n` as clients see it: `n`, or `<epoch>-<n>` for a log with an epoch. */
  wireId(n: number): number | string {
    return this.epoch === undefined ? n : `${this.epoch}-${n}`
  }

  /**
   * Sends `action` with `send` and returns the id it got, or `undefined` if it was not broadcast (the
   * reducer threw), with what `send` returned. A send reduces its action before it returns, so the id is
   * known even when `send` goes on waiting (`sendAndWaitFor`). Without synchronous numbering
   * (`synchronous` false) the id is not known yet, and `undefined` means only that.
   */
  idOfSend<X, E>(action: A, send: Effect.Effect<X, E>): Effect.Effect<readonly [id: number | undefined, result: X], E> {
    return Effect.suspend(() => {
      const claim: { readonly action: A; id: number | undefined } = { action, id: undefined }
      this.claims.push(claim)
      return send.pipe(
        Effect.ensuring(Effect.sync(() => {
          const index = this.claims.indexOf(claim)
          if (index >= 0) this.claims.splice(index, 1)
        })),
        Effect.map((result) => [claim.id, result] as const)
      )
    })
  }

  /**
   * Where a client resumes: from scratch (no id: only live events), after `lastEventId` (the replay
   * buffer, then live events), or nowhere known (an id this log never gave: ahead of it, or of another
   * epoch, given by an earlier log of the same store).
   */
  resume(lastEventId: number | undefined, epoch: string | undefined = this.epoch): Resume {
    if (lastEventId === undefined) return { _tag: "Fresh" }
    return lastEventId > this.latest || epoch !== this.epoch
      ? { _tag: "Unknown", latest: this.latest }
      : { _tag: "Replay", after: lastEventId }
  }

  /**
   * Subscribes at once: the events after `resume`'s point still in the replay buffer are delivered before
   * this returns, then every later event as it is flushed; after the store shut down, `end` is called at
   * once. Returns the unsubscribe.
   */
  subscribe(resume: Resume, subscriber: LogSubscriber<A>): () => void {
    if (this.ended) {
      subscriber.end()
      return () => undefined
    }
    const after = resume._tag === "Replay" ? resume.after : this.latest
    const reader: Reader<A> = { subscriber, after }
    if (after < this.flushed && this.recent !== undefined) {
      const replayed: Array<LogEvent<A>> = []
      for (const event of this.recent) if (event.id > after && event.id <= this.flushed) replayed.push(event)
      if (replayed.length > 0) subscriber.deliver({ events: replayed })
    }
    reader.after = Math.max(after, this.flushed)
    this.readers.add(reader)
    return () => void this.readers.delete(reader)
  }

  /** {@link subscribe} for the life of the scope. */
  subscribeScoped(resume: Resume, subscriber: LogSubscriber<A>): Effect.Effect<void, never, Scope.Scope> {
    return Effect.map(Effect.acquireRelease(Effect.sync(() => this.subscribe(resume, subscriber)), (unsubscribe) => Effect.sync(unsubscribe)), () => undefined)
  }
}
