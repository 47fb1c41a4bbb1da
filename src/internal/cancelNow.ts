import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Stream from "effect/Stream"
import { show } from "./diff.js"
import { ScopedId } from "./scopedId.js"

/**
 * What the effect code a store runs can cancel by id with: the store's cancel registry, seen from the run
 * of the effect (its task, so a cancel from a step of a sequence is known as one), with the ids of the
 * child reducer that returned the effect put under its scopes, as `Fx.cancel` in that reducer's `Fx` is.
 *
 * @internal
 */
export class InEffect {
  constructor(private readonly owner: Canceller, private readonly run: unknown) {}

  cancel(id: unknown): void {
    this.owner.cancelInEffect(this.run, id)
  }

  /** The same, for the effects of a child whose ids `scopeIds` puts under `scope`. */
  scoped(scope: unknown): InEffect {
    return new InEffect(new ScopedCanceller(this, scope), undefined)
  }
}

/**
 * What cancels for an {@link InEffect}: the store's runner, told the run of the effect. An object and a
 * run rather than a closure over the run: every running effect holds one `InEffect` for as long as it runs.
 *
 * @internal
 */
export interface Canceller {
  cancelInEffect(run: unknown, id: unknown): void
}

/** Cancels under a child's scope, through the `InEffect` around it. */
class ScopedCanceller implements Canceller {
  constructor(private readonly outer: InEffect, private readonly scope: unknown) {}

  cancelInEffect(_run: unknown, id: unknown): void {
    this.outer.cancel(new ScopedId({ scope: this.scope, id }))
  }
}

/**
 * Set by the runner around the work of every effect it runs (an `Fx.future`'s effect, an `Fx.stream`,
 * the items of `Fx.batch` / `Fx.rateLimit` / `Fx.idleTimeout`); `undefined` anywhere else.
 *
 * @internal
 */
export const currentInEffect: FiberRef.FiberRef<InEffect | undefined> = FiberRef.unsafeMake<InEffect | undefined>(undefined)

const scopeOf = (scope: unknown) => (inEffect: InEffect | undefined): InEffect | undefined => inEffect?.scoped(scope)

/** `effect`, whose `Fx.cancelNow(id)` cancels `id` as a child under `scope` would. @internal */
export const scopeEffect = <A, E, R>(effect: Effect.Effect<A, E, R>, scope: unknown): Effect.Effect<A, E, R> =>
  Effect.locallyWith(effect, currentInEffect, scopeOf(scope))

/** The same for a stream. @internal */
export const scopeStream = <A, E, R>(stream: Stream.Stream<A, E, R>, scope: unknown): Stream.Stream<A, E, R> =>
  Stream.unwrapScoped(Effect.as(Effect.locallyScopedWith(currentInEffect, scopeOf(scope)), stream))

/** @internal */
export const cancelNow = (id: unknown): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    const inEffect = fiber.getFiberRef(currentInEffect)
    if (inEffect === undefined) {
      return Effect.dieMessage(
        `Fx.cancelNow(${show(id)}) ran outside the effects of a store: it cancels by id only from the code of ` +
          `an effect a Store or TestStore runs (an Fx.future's effect, an Fx.stream, or a fiber they fork); ` +
          `from a reducer, return Fx.cancel(id) instead`
      )
    }
    inEffect.cancel(id)
    return Effect.void
  })
