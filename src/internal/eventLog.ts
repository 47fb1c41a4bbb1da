import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Store from "../Store.js"
import { StoreImpl } from "./store.js"

/** A reduced action with its position in the log. @internal */
export interface LogEvent<A> {
  readonly id: number
  readonly action: A
  /** The action as sent on the wire, encoded by the first client that needed it: every client shares it. */
  encoded?: string
}

/** What a client subscribing with a `Last-Event-ID` gets first, before the live events. @internal */
export type Resume =
  | { readonly _tag: "Fresh" }
  | { readonly _tag: "Replay"; readonly after: number }
  /** The id is ahead of this log (it restarted since): the client cannot know what it missed. */
  | { readonly _tag: "Unknown"; readonly latest: number }

/**
 * The store's reduced actions, numbered in reduce order, for web clients: a sliding `PubSub` (a slow
 * client loses its oldest events, never stalls the store or other clients) that keeps the last `replay`
 * events, so a client can resume after `Last-Event-ID`.
 *
 * Actions are numbered synchronously, as they are reduced (a listener on the store's broadcast), so that
 * a request that sends an action knows its id as soon as the send returns, and knows when there is none
 * (the reducer threw, so the action was never broadcast).
 *
 * @internal
 */
export class EventLog<A> {
  private latest = 0
  /** Whether the store has shut down: nothing more will be logged. */
  ended = false
  /** Sends in progress, each waiting for its action's id (first come, first served among equal actions). */
  private readonly claims: Array<{ readonly action: A; id: number | undefined }> = []

  private constructor(
    private readonly pubsub: PubSub.PubSub<LogEvent<A>>,
    /** Whether actions are numbered as they are reduced (a store made by `Store.make`), or later. */
    readonly synchronous: boolean
  ) {}

  static make<S, A>(
    store: Store.Store<S, A>,
    options: { readonly replay: number; readonly clientBuffer: number }
  ): Effect.Effect<EventLog<A>, never, Scope.Scope> {
    return Effect.gen(function*() {
      const pubsub = yield* Effect.acquireRelease(
        PubSub.sliding<LogEvent<A>>({ capacity: Math.max(options.clientBuffer, options.replay, 1), replay: options.replay }),
        PubSub.shutdown
      )
      const log = new EventLog<A>(pubsub, store instanceof StoreImpl)
      // When the store shuts down, shutting the PubSub down ends every client stream.
      const end = () => {
        log.ended = true
        Effect.runFork(PubSub.shutdown(pubsub))
      }
      if (store instanceof StoreImpl) {
        yield* store.actions.listen((action: A) => log.append(action), end)
      } else {
        // A store implemented elsewhere: number its broadcast as it arrives.
        const actions = yield* store.subscribe({ overflow: "unbounded" })
        yield* Stream.runForEach(actions, (action) => Effect.sync(() => log.append(action))).pipe(
          Effect.ensuring(Effect.sync(end)),
          Effect.forkScoped
        )
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
    // `unsafeOffer` drops the new event when the PubSub is full, sliding or not (only the effectful publish
    // slides): one client that stopped reading would hold back every client's events, and the replay.
    if (!this.pubsub.unsafeOffer(event)) Effect.runSyncExit(PubSub.publish(this.pubsub, event))
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
   * buffer, then live events), or nowhere known (an id this log never gave).
   */
  resume(lastEventId: number | undefined): Resume {
    if (lastEventId === undefined) return { _tag: "Fresh" }
    return lastEventId > this.latest ? { _tag: "Unknown", latest: this.latest } : { _tag: "Replay", after: lastEventId }
  }

  /** The events after `resume`'s point still in the replay buffer, then live events; ends when the store does. */
  subscribe(resume: Resume): Effect.Effect<Stream.Stream<LogEvent<A>>, never, Scope.Scope> {
    return Effect.map(PubSub.subscribe(this.pubsub), (queue) => {
      // Taken as the subscription starts: the PubSub replays older events to every new subscriber.
      const after = resume._tag === "Replay" ? resume.after : this.latest
      return Stream.fromQueue(queue).pipe(
        Stream.catchAllCause(() => Stream.empty),
        Stream.ensuring(Queue.shutdown(queue)),
        Stream.filter((event) => event.id > after)
      )
    })
  }
}
