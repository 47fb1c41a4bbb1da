import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import type { LogEvent } from "../../src/internal/eventLog.js"
import { SocketOut } from "../../src/internal/http.js"
import { settle } from "../core/helpers.js"

// What a WebSocket session writes of the store's events, without a writer fiber per socket.

const event = (id: number): LogEvent<string> => ({ id, action: `a${id}` })

describe("SocketOut", () => {
  it.effect("writes each delivery at once once open; before that at most `buffer` events wait, then the end", () =>
    Effect.gen(function*() {
      const written: Array<number> = []
      let ended = 0
      const out = new SocketOut<string>(yield* Effect.runtime<never>(), (e) => Effect.sync(() => void written.push(e.id)), 2, () => void ended++)
      out.deliver([event(1), event(2), event(3)])
      out.end()
      expect([written, ended]).toEqual([[], 0])
      out.open()
      // The third was dropped while waiting; the end comes after what waited.
      expect([written, ended]).toEqual([[1, 2], 1])
      const later = new SocketOut<string>(yield* Effect.runtime<never>(), (e) => Effect.sync(() => void written.push(e.id)), 2, () => void ended++)
      later.open()
      later.deliver([event(4), event(5), event(6)])
      // Open: written as delivered, however many (the bound is for waiting events only).
      expect(written).toEqual([1, 2, 4, 5, 6])
    }))

  it.effect("a write that cannot complete (the socket closed under it) is interrupted when the session ends", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<Fiber.RuntimeFiber<unknown, unknown>>()
      let writes = 0
      const stuck = Effect.withFiberRuntime<void>((fiber) => {
        writes++
        return Effect.zipRight(Deferred.succeed(started, fiber), Effect.never)
      })
      const out = new SocketOut<string>(yield* Effect.runtime<never>(), () => stuck, 10, () => {})
      out.open()
      out.deliver([event(1)])
      const writer = yield* Deferred.await(started)
      out.close()
      yield* settle
      expect(Exit.isInterrupted(writer.unsafePoll()!)).toBe(true)
      // After the session, nothing more is written.
      out.deliver([event(2)])
      expect(writes).toBe(1)
    }))
})
