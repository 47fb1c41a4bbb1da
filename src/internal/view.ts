import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Stream from "effect/Stream"
import type * as Store from "../Store.js"
import type { StoreShutdownError } from "../StoreError.js"

/**
 * A projection of a store: child state read through `state`, child actions embedded through `action`.
 * `changes` emits only when the projected state changes by Effect equality.
 *
 * @internal
 */
export class ViewImpl<S, A> implements Store.View<S, A> {
  constructor(
    private readonly source: {
      readonly state: Effect.Effect<unknown>
      readonly changes: Stream.Stream<unknown>
      send(action: unknown): Effect.Effect<Store.Task, StoreShutdownError>
    },
    private readonly project: (state: any) => S,
    private readonly embed: (action: A) => unknown
  ) {}

  get state(): Effect.Effect<S> {
    return Effect.map(this.source.state, this.project)
  }

  get changes(): Stream.Stream<S> {
    return this.source.changes.pipe(Stream.map(this.project), Stream.changesWith<S>(Equal.equals))
  }

  send(action: A): Effect.Effect<Store.Task, StoreShutdownError> {
    return this.source.send(this.embed(action))
  }

  scope<C, CA>(options: { readonly state: (state: S) => C; readonly action: (action: CA) => A }): Store.View<C, CA> {
    return new ViewImpl<C, CA>(this, options.state, options.action as (action: CA) => unknown)
  }
}
