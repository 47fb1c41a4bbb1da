import type * as HttpRouter from "@effect/platform/HttpRouter"
import type * as Sharding from "@effect/cluster/Sharding"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { randomBytes } from "node:crypto"
import type * as Store from "../Store.js"
import type * as StoreEntity from "../StoreEntity.js"
import type * as StoreHttp from "../StoreHttp.js"
import { client } from "./entity.js"
import { hostLayout } from "./hostHttp.js"
import { type Held, routerOf, type Serving, type Sourcing, type Target } from "./http.js"
import { storeFailure, storeShutDown } from "./httpGuard.js"
import type { Refusal } from "./httpInput.js"

/**
 * A cluster's stores served under a path segment naming each (`/:id/actions`, `/:id/events`, ...), as a
 * host's are: a request reaching any runner reaches the store wherever it lives.
 *
 * What the routes keep for a store (its event log, its state feed) is fed by the store's client: a
 * subscription and a `changes` stream over the cluster, opened on the first request for the id and
 * closed `linger` after its last request or client has gone. A store moved meanwhile is followed by the
 * client's streams; if one ends (or fails), the log ends, its clients are told to reconnect, and the next
 * request opens a new log under a new epoch.
 */

/** An event log's epoch: 48 random bits, so no two logs of one store share it. */
const newEpoch = (): string => randomBytes(6).toString("hex")

/** How long the routes keep a store's log and feed open after its last request or client has gone. */
const LINGER = Duration.seconds(30)

/**
 * The part of a `Store` the event log and state feed use, over a client: its broadcast and its state.
 * The streams end when the client's do (the store unreachable for good): the log ends with them.
 */
const remoteStore = <S, A>(store: StoreEntity.Client<S, A>): Store.Store<S, A> =>
  ({
    state: Effect.orDie(store.state),
    changes: Stream.catchAll(store.changes, () => Stream.empty),
    subscribe: (options?: Store.SubscribeOptions) =>
      Effect.map(Effect.either(store.subscribe(options)), (opened) =>
        opened._tag === "Left" ? Stream.empty : Stream.catchAll(opened.right, () => Stream.empty))
  }) as unknown as Store.Store<S, A>

const targetOf = <S, A>(store: StoreEntity.Client<S, A>): Target<S, A> => ({
  send: store.send,
  sendAndWaitFor: store.sendAndWaitFor,
  state: store.state
})

/** What the routes keep for one id while it has requests or clients. */
class Slot<S, A> {
  scope: Scope.CloseableScope | undefined = undefined
  readonly ready = Deferred.unsafeMake<Serving<S, A>, Refusal>(FiberId.none)
  holds = 0
  /** The wait before closing, after the last hold was let go. */
  closing: Fiber.RuntimeFiber<void> | undefined = undefined
}

/** @internal */
export const entityStores = <S, A>(clientOf: (id: string) => StoreEntity.Client<S, A>): Sourcing<string, S, A> => (make) =>
  Effect.flatMap(Effect.scope, (parent) => {
    const slots = new Map<string, Slot<S, A>>()
    // Once the router's scope has closed, a slot made in it would never be ready: refused at once.
    let closed = false

    const drop = (id: string, slot: Slot<S, A>): void => {
      if (slots.get(id) === slot) slots.delete(id)
      if (slot.scope !== undefined) Effect.runFork(Scope.close(slot.scope, Exit.void))
    }

    const open = (id: string): Slot<S, A> => {
      const slot = new Slot<S, A>()
      // In the map before anything else runs, so concurrent requests for the id share this one.
      slots.set(id, slot)
      const store = clientOf(id)
      const made = Effect.gen(function*() {
        // Reached first: a store that cannot be restored or reached is refused, not served.
        yield* Effect.catchAll(store.state, (error) => Effect.flatMap(storeFailure(error), Effect.fail))
        const scope = slot.scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
        return yield* Scope.extend(make(remoteStore(store), targetOf(store), { epoch: newEpoch(), onEnd: () => drop(id, slot) }), scope)
      })
      // On a fiber of its own, interruptible: a request interrupted meanwhile does not interrupt what the
      // others wait for.
      // In the router's scope: its closing interrupts it (and no timer of it outlives the server). The
      // requests waiting are then refused as for a store shut down, not left waiting for good: an open
      // request would hold the server's close.
      Effect.runFork(Effect.forkIn(
        Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(Effect.exit(restore(made)), (exit) => {
            if (Exit.isFailure(exit)) drop(id, slot)
            return Deferred.done(slot.ready, Exit.isInterrupted(exit) ? Exit.fail(storeShutDown) : exit)
          })
        ),
        parent
      ))
      return slot
    }

    const letGo = (id: string, slot: Slot<S, A>): void => {
      if (--slot.holds > 0) return
      Effect.runFork(Effect.tap(
      Effect.forkIn(
        Effect.delay(
          Effect.sync(() => {
            if (slot.holds === 0) drop(id, slot)
          }),
          LINGER
        ),
        parent
      ),
      (fiber) => Effect.sync(() => (slot.closing = fiber))
    ))
    }

    const hold = (id: string): Effect.Effect<Held<S, A>, Refusal> =>
      Effect.suspend(() => {
        if (closed) return Effect.fail(storeShutDown)
        const slot = slots.get(id) ?? open(id)
        slot.holds++
        if (slot.closing !== undefined) {
          Effect.runFork(Fiber.interrupt(slot.closing))
          slot.closing = undefined
        }
        let released = false
        const release = () => {
          if (released) return
          released = true
          letGo(id, slot)
        }
        return Deferred.await(slot.ready).pipe(
          Effect.filterOrFail((serving) => !serving.log.ended, () => storeShutDown),
          Effect.map((serving): Held<S, A> => ({ serving, release })),
          Effect.onExit((exit) => Effect.sync(() => Exit.isFailure(exit) && release()))
        )
      })

    return Effect.as(
      Scope.addFinalizer(parent, Effect.sync(() => (closed = true))),
      { layout: hostLayout, hold, fixed: undefined, name: (id: string) => id }
    )
  })

/** @internal */
export const httpRouter = <S, A, I, SI>(
  entity: StoreEntity.StoreEntity<S, A>,
  options: StoreHttp.Options<S, A, I, SI> & { readonly client?: StoreEntity.ClientOptions | undefined }
): Effect.Effect<HttpRouter.HttpRouter, never, Scope.Scope | Sharding.Sharding> =>
  Effect.flatMap(client(entity, options.client), (clientOf) => routerOf(entityStores(clientOf), options))
