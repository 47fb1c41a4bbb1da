import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Store from "../Store.js"

/** A reduced action with its position in the log. @internal */
export interface LogEvent<A> {
  readonly id: number
  readonly action: A
}

/**
 * The store's reduced actions, numbered in reduce order, for web clients: a sliding `PubSub` (a slow
 * client loses its oldest events, never stalls the store or other clients) that replays the last
 * `replay` events to each new subscriber, so a client can resume after `Last-Event-ID`.
 *
 * @internal
 */
export class EventLog<A> {
  private constructor(private readonly pubsub: PubSub.PubSub<LogEvent<A>>) {}

  static make<S, A>(
    store: Store.Store<S, A>,
    options: { readonly replay: number; readonly clientBuffer: number }
  ): Effect.Effect<EventLog<A>, never, Scope.Scope> {
    return Effect.gen(function*() {
      const pubsub = yield* Effect.acquireRelease(
        PubSub.sliding<LogEvent<A>>({ capacity: Math.max(options.clientBuffer, options.replay, 1), replay: options.replay }),
        PubSub.shutdown
      )
      const actions = yield* store.subscribe({ overflow: "unbounded" })
      let id = 0
      // When the store shuts down its subscription ends; shutting the PubSub down ends every client stream.
      yield* Stream.runForEach(actions, (action) => PubSub.publish(pubsub, { id: ++id, action })).pipe(
        Effect.ensuring(PubSub.shutdown(pubsub)),
        Effect.forkScoped
      )
      return new EventLog(pubsub)
    })
  }

  /** Events after `lastEventId` still in the replay buffer, then live events; ends when the store does. */
  subscribe(lastEventId: number | undefined): Effect.Effect<Stream.Stream<LogEvent<A>>, never, Scope.Scope> {
    return Effect.map(PubSub.subscribe(this.pubsub), (queue) => {
      const events = Stream.fromQueue(queue).pipe(
        Stream.catchAllCause(() => Stream.empty),
        Stream.ensuring(Queue.shutdown(queue))
      )
      return lastEventId === undefined ? events : Stream.filter(events, (event) => event.id > lastEventId)
    })
  }
}
