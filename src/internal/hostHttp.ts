import type * as HttpRouter from "@effect/platform/HttpRouter"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import type * as Store from "../Store.js"
import type * as StoreHost from "../StoreHost.js"
import type * as StoreHttp from "../StoreHttp.js"
import { type Held, routerOf, type Serving, type Sourcing, type Target } from "./http.js"
import { type Layout, storeFailure, storeShutDown } from "./httpGuard.js"
import { type Refusal, refusal } from "./httpInput.js"

/**
 * A host's stores served under a path segment naming each: `/:id/actions`, `/:id/events`, and so on.
 *
 * A request for an id holds its store (`host.get(id)`, so the host keeps it resident) while it is
 * answered, and an SSE, `/changes` or WebSocket client for as long as it is connected. What the routes
 * keep for a store (its event log with the replay buffer, its state feed) is made on its first request
 * and lives as long as the store stays resident: the store's passivation (or shutdown) ends it, so the
 * routes never keep more of these than the host keeps stores.
 *
 * Each of these event logs has an epoch, a random name, and its ids go out as `<epoch>-<n>`: a store
 * passivated and activated again starts a new log, whose ids no client has seen, and a client resuming
 * with an id of an earlier epoch is told `reset` (what it missed is gone with the old log), never
 * replayed events under ids it saw for others.
 */

/** Most characters a percent-encoded id segment can have: three per character of the longest id. */
const MAX_SEGMENT = 128 * 3

const idPattern = /^[A-Za-z0-9._~-]{1,128}$/

const invalidId = refusal(
  400,
  "InvalidId",
  "a store id is 1 to 128 of the characters A-Z a-z 0-9 . _ ~ - (percent-encoded or not), and not . or .."
)

/** A host route's id segment, percent-decoded and checked; a refusal never quotes it back. @internal */
export const parseStoreId = (segment: string): Either.Either<string, Refusal> => {
  if (segment.length > MAX_SEGMENT) return Either.left(invalidId)
  let id: string
  try {
    id = decodeURIComponent(segment)
  } catch {
    return Either.left(invalidId)
  }
  return idPattern.test(id) && id !== "." && id !== ".." ? Either.right(id) : Either.left(invalidId)
}

/**
 * The routes under `/<id>`: the id is the path's first segment, the route the rest, spelled exactly.
 *
 * @internal
 */
export const hostLayout: Layout<string> = {
  // One catch-all pattern: the platform's router matches no empty segment (`//actions`), which must be
  // answered `400 InvalidId` like any other bad id, not `404`.
  patterns: () => ["/*"],
  locate: (path) => {
    const slash = path.indexOf("/", 1)
    if (!path.startsWith("/") || slash < 0) return undefined
    return { route: path.slice(slash), key: parseStoreId(path.slice(1, slash)) }
  }
}

/** An event log's epoch: 48 random bits, so no two logs of one store (in this process or a later one) share it. */
const newEpoch = (): string => randomBytes(6).toString("hex")

/** What the routes keep for one resident store: its serving state, made once for every request of it. */
class Slot<S, A> {
  scope: Scope.CloseableScope | undefined = undefined
  readonly ready = Deferred.unsafeMake<Serving<S, A>>(FiberId.none)
  constructor(readonly store: Store.Store<S, A>) {}
}

/**
 * The stores of `host`, by id: each request holds its store with a lease of its own; their serving
 * states live in the router's scope, one per resident store, until the store ends.
 *
 * @internal
 */
export const hostStores = <S, A>(host: StoreHost.StoreHost<S, A>): Sourcing<string, S, A> => (make) =>
  Effect.map(Effect.scope, (parent) => {
    const slots = new Map<string, Slot<S, A>>()

    const drop = (id: string, slot: Slot<S, A>): void => {
      if (slots.get(id) === slot) slots.delete(id)
      if (slot.scope !== undefined) Effect.runFork(Scope.close(slot.scope, Exit.void))
    }

    // Through the host, not the store: a `durability: "sync"` host answers a send once it is committed.
    const targetOf = (id: string): Target<S, A> => ({
      send: (action) => Effect.suspend(() => host.send(id, action)),
      sendAndWaitFor: (action, predicate, options) => Effect.suspend(() => host.sendAndWaitFor(id, action, predicate, options)),
      state: Effect.suspend(() => host.state(id))
    })

    /** The serving state of `store`, the store resident for `id` now: the one made already, or a new one. */
    const servingOf = (id: string, store: Store.Store<S, A>): Effect.Effect<Serving<S, A>> =>
      Effect.suspend(() => {
        const slot = slots.get(id)
        if (slot !== undefined && slot.store === store) return Deferred.await(slot.ready)
        // Left by an earlier activation whose end is still being told: it goes now.
        if (slot !== undefined) drop(id, slot)
        // In the map before anything else runs, so concurrent requests of the store share this one.
        const fresh = new Slot(store)
        slots.set(id, fresh)
        const made = Effect.gen(function*() {
          const scope = fresh.scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
          return yield* Scope.extend(make(store, targetOf(id), { epoch: newEpoch(), onEnd: () => drop(id, fresh) }), scope)
        })
        // Made on a fiber of its own, interruptible: `hold` runs uninterruptibly, and the fibers the log
        // and the feed fork would inherit that, so closing their scope could never interrupt them. Nor
        // does a request that is interrupted meanwhile interrupt what the others wait for.
        const own = Effect.flatMap(Effect.forkDaemon(Effect.interruptible(made)), Fiber.await)
        return Effect.flatMap(own, (exit) => {
          if (Exit.isFailure(exit)) drop(id, fresh)
          return Effect.zipRight(Deferred.done(fresh.ready, exit), exit)
        })
      })

    const hold = (id: string): Effect.Effect<Held<S, A>, Refusal> =>
      Effect.flatMap(Scope.make(), (lease) => {
        const release = () => void Effect.runFork(Scope.close(lease, Exit.void))
        // Only the wait for the store is interruptible: once it is leased, the lease is either handed
        // over or let go here.
        return Effect.uninterruptibleMask((restore) =>
          restore(Scope.extend(Effect.suspend(() => host.get(id)), lease)).pipe(
            Effect.flatMap((store) => servingOf(id, store)),
            Effect.catchAll((error) => Effect.flatMap(storeFailure(error), Effect.fail)),
            // A store shutting down with its host is still resident, its log already ended.
            Effect.filterOrFail((serving) => !serving.log.ended, () => storeShutDown),
            Effect.map((serving): Held<S, A> => ({ serving, release })),
            Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Scope.close(lease, Exit.void))
          )
        )
      })

    return { layout: hostLayout, hold, fixed: undefined, name: (id: string) => id }
  })

/** @internal */
export const hostRouter = <S, A, I, SI>(
  host: StoreHost.StoreHost<S, A>,
  options: StoreHttp.Options<S, A, I, SI>
): Effect.Effect<HttpRouter.HttpRouter, never, Scope.Scope> => routerOf(hostStores(host), options)
