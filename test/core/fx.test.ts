/**
 * The seed's 10 core unit tests of the stream variant, on `Fx` as data: every assertion reads the value a
 * reducer would return, without running it (except where the leaf's own Effect/Stream is run directly).
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Option, pipe, Schedule, Stream, TestClock } from "effect"
import { Fx, ReducerTest } from "../../src/index.js"

const runLeaf = <A>(fx: Fx.Fx<A>) =>
  fx._tag === "Stream"
    ? Effect.map(Stream.runCollect(fx.stream), Chunk.toReadonlyArray)
    : fx._tag === "Future"
    ? Effect.map(fx.effect, (o) => Option.toArray(o))
    : Effect.die(`not a leaf: ${fx._tag}`)

describe("Fx (seed unit tests)", () => {
  it.effect("test_stream_static: Fx.stream holds the stream as data", () =>
    Effect.gen(function*() {
      const fx = Fx.stream(Stream.make("a", "b", "c"))
      expect(fx._tag).toBe("Stream")
      expect(yield* runLeaf(fx)).toEqual(["a", "b", "c"])
    }))

  it.effect("test_stream_empty: an empty stream is still a Stream effect", () =>
    Effect.gen(function*() {
      const fx = Fx.stream(Stream.empty)
      expect(fx._tag).toBe("Stream")
      expect(yield* runLeaf(fx)).toEqual([])
    }))

  it.effect("test_stream_map: Fx.map maps every item and keeps the kind", () =>
    Effect.gen(function*() {
      const fx = pipe(Fx.stream(Stream.make(1, 2)), Fx.map((n) => ({ _tag: "Child", n }) as const))
      expect(fx._tag).toBe("Stream")
      expect(yield* runLeaf(fx)).toEqual([{ _tag: "Child", n: 1 }, { _tag: "Child", n: 2 }])
    }))

  it.effect("test_stream_async_with_delays: the leaf is lazy and runs on the TestClock", () =>
    Effect.gen(function*() {
      let pulled = 0
      const fx = Fx.stream(Stream.range(1, 3).pipe(Stream.tap(() => Effect.sync(() => pulled++)), Stream.schedule(Schedule.spaced("10 millis"))))
      expect(pulled).toBe(0)
      const fiber = yield* Effect.fork(runLeaf(fx))
      yield* TestClock.adjust("30 millis")
      expect(yield* fiber.await.pipe(Effect.flatten)).toEqual([1, 2, 3])
    }))

  it("test_stream_in_parallel: Fx.parallel keeps its branches, in order, and drops none", () => {
    const fx = Fx.parallel(Fx.stream(Stream.make(1)), Fx.none, Fx.stream(Stream.make(2)))
    expect(fx._tag === "Parallel" && fx.fxs.map((b) => b._tag)).toEqual(["Stream", "Stream"])
    expect(ReducerTest.inspect(fx).parallelBranches).toBe(2)
  })

  it("test_stream_in_sequential: Fx.sequential keeps its steps in order", () => {
    const fx = Fx.sequential(Fx.send("phase"), Fx.stream(Stream.make("s")), Fx.delay("1 second", "done"))
    expect(fx._tag === "Sequential" && fx.fxs.map((b) => b._tag)).toEqual(["Send", "Stream", "Delay"])
  })

  it("test_map_through_tree: Fx.map reaches every leaf of nested parallel/sequential trees", () => {
    const fx = Fx.map(Fx.sequential(Fx.send(1), Fx.parallel(Fx.send(2), Fx.delay("1 second", 3))), (n: number) => n * 10)
    expect(ReducerTest.inspect(fx).sent).toEqual([10, 20])
    const delay = Fx.reduce(fx, [] as Array<unknown>, (acc, node) => node._tag === "Delay" ? [...acc, node.action] : acc)
    expect(delay).toEqual([30])
  })

  it("test_none_and_empty: no actions and no branches are Fx.none", () => {
    expect(Fx.send()._tag).toBe("None")
    expect(Fx.parallel()._tag).toBe("None")
    expect(Fx.sequential(Fx.none, Fx.none)._tag).toBe("None")
    expect(Fx.merge([Fx.none, Fx.send("a")])).toEqual(Fx.send("a"))
  })

  it.effect("test_error_recovery: Fx.attempt and Fx.attemptStream turn failures into actions", () =>
    Effect.gen(function*() {
      const ok = Fx.attempt(Effect.succeed(2), { onSuccess: (n) => `ok ${n}`, onFailure: (e: string) => `failed ${e}` })
      const ko = Fx.attempt(Effect.fail("offline"), { onSuccess: (n: number) => `ok ${n}`, onFailure: (e) => `failed ${e}` })
      expect(yield* runLeaf(ok)).toEqual(["ok 2"])
      expect(yield* runLeaf(ko)).toEqual(["failed offline"])
      const stream = Fx.attemptStream(Stream.concat(Stream.make("a"), Stream.fail("cut")), {
        onItem: (s) => `item ${s}`,
        onFailure: (e) => `failed ${e}`,
        onEnd: () => "end"
      })
      expect(yield* runLeaf(stream)).toEqual(["item a", "failed cut"])
      const complete = Fx.attemptStream(Stream.make("a"), { onItem: (s) => `item ${s}`, onFailure: () => "failed", onEnd: () => "end" })
      expect(yield* runLeaf(complete)).toEqual(["item a", "end"])
    }))

  it("test_debug_inspection: combinators stay inspectable (kinds, ids) and readable as JSON", () => {
    const fx = pipe(Fx.stream(Stream.make(1)), Fx.timeout("5 seconds"), Fx.cancellable("load", { cancelInFlight: true }))
    expect(ReducerTest.inspect(fx)).toMatchObject({ kinds: ["Cancellable", "Timeout", "Stream"], cancellationIds: ["load"] })
    expect(fx._tag === "Cancellable" && fx.cancelInFlight).toBe(true)
    expect(JSON.parse(JSON.stringify(fx))).toMatchObject({ _id: "Fx", _tag: "Cancellable", id: "load", fx: { _tag: "Timeout" } })
  })

  it("counts that would spin or stall forever are refused where the Fx is built, with a clear RangeError", () => {
    const source = Fx.stream(Stream.make(1))
    expect(() => Fx.batch(source, { size: 0, within: "1 second", toAction: (xs) => xs })).toThrow(
      new RangeError("Fx.batch: size must be a positive integer, got 0")
    )
    expect(() => Fx.batch(source, { size: 2.5, within: "1 second", toAction: (xs) => xs })).toThrow(RangeError)
    expect(() => Fx.rateLimit(source, { units: 0, per: "1 second" })).toThrow(
      new RangeError("Fx.rateLimit: units must be a positive number, got 0")
    )
    expect(() => Fx.rateLimit(source, { units: 5, per: "1 second", burst: -1 })).toThrow(RangeError)
    expect(Fx.rateLimit(source, { units: 0.5, per: "1 second" })._tag).toBe("RateLimit")
  })
})
