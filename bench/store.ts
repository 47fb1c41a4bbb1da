import { Effect, Fiber, Option, Stream, Tracer } from "effect"
import { Fx, Reducer, Store } from "../src/index.js"
import { heapAfterGc, monotonicUs, rate } from "./harness.js"
import { counterReducer, inc, openStore } from "./subjects.js"

const SENDS = 1_000_000
const STREAM_ITEMS = 1_000_000

/** `send_per_sec`: a trivial counter, no effect, sends from inside one Effect program. */
export const sendPerSec = async () => {
  const { close, store } = openStore({ initialState: 0, reducer: counterReducer, label: "bench-send" })
  const program = Effect.gen(function*() {
    for (let i = 0; i < SENDS; i++) yield* store.send(inc)
  })
  const result = await rate("send", SENDS, () => Effect.runPromise(program))
  await close()
  return result
}

type StreamAction = { readonly _tag: "Start" } | { readonly _tag: "Item"; readonly n: number }
const streamReducer = Reducer.make((sum: number, action: StreamAction) =>
  action._tag === "Start"
    ? [sum, Fx.stream(Stream.range(1, STREAM_ITEMS).pipe(Stream.map((n) => ({ _tag: "Item", n }) as const)))]
    : [sum + action.n, Fx.none]
)

/** `stream_items_per_sec`: one 1M-item `Fx.stream` fed back through the reducer, one subscriber attached. */
export const streamItemsPerSec = async () => {
  const { close, store } = openStore({ initialState: 0, reducer: streamReducer, label: "bench-stream" })
  const program = Effect.gen(function*() {
    const actions = yield* store.subscribe({ capacity: 1024, overflow: "sliding" })
    const drain = yield* Effect.fork(Stream.runDrain(actions))
    const task = yield* store.send({ _tag: "Start" })
    yield* task.finish
    yield* Fiber.interrupt(drain)
  }).pipe(Effect.scoped)
  const result = await rate("stream items", STREAM_ITEMS, () => Effect.runPromise(program), { samples: 5, warmup: 1 })
  await close()
  return result
}

/** `stream_1m_heap_growth_bytes`: heap after GC before vs after one 1M-item stream. */
export const streamHeapGrowth = async () => {
  const { close, store } = openStore({ initialState: 0, reducer: streamReducer, label: "bench-heap" })
  const run = Effect.runPromise(Effect.flatMap(store.send({ _tag: "Start" }), (task) => task.finish))
  await run // warm up code paths and metric hooks
  const before = heapAfterGc()
  await Effect.runPromise(Effect.flatMap(store.send({ _tag: "Start" }), (task) => task.finish))
  const after = heapAfterGc()
  await close()
  return after - before
}

type IdleAction = { readonly _tag: "Open"; readonly id: number } | { readonly _tag: "Cancel"; readonly id: number }

/**
 * What sits idle: a generic `Fx.stream` (`Stream.never`), or a push source (`Fx.subscribe`) whose
 * registration returns a cleanup, the shape of RxJS's `new Observable(() => teardown)` peer.
 */
export type IdleLeaf = "stream" | "push"
let cleanups = 0
let registered = 0
const idleLeaf: Record<IdleLeaf, () => Fx.Fx<IdleAction>> = {
  stream: () => Fx.stream(Stream.never as Stream.Stream<IdleAction>),
  push: () =>
    Fx.subscribe<IdleAction>(() =>
      Effect.sync(() => {
        registered++
        return () => void cleanups++
      })
    )
}
const idleReducer = (leaf: IdleLeaf) =>
  Reducer.make((open: number, action: IdleAction) =>
    action._tag === "Open"
      ? [open + 1, Fx.cancellable(idleLeaf[leaf](), action.id)]
      : [open - 1, Fx.cancel(action.id)]
  )

const openIdleStreams = (store: Store.Store<number, IdleAction>, count: number, leaf: IdleLeaf = "stream") =>
  Effect.gen(function*() {
    registered = 0
    for (let id = 0; id < count; id++) yield* store.send({ _tag: "Open", id })
    yield* Effect.yieldNow() // let every fiber start and suspend in its stream
    yield* Effect.sleep(10)
    // Every source registered (their registrations are forked fibers): the cancels then find them idle,
    // and the time measured is the cancels', not the tail of the starts.
    while (leaf === "push" && registered < count) yield* Effect.sleep(1)
  })

/** `bytes_per_idle_stream` (`bytes_per_idle_push_effect`): heap per running-but-idle effect, 10,000 open. */
export const bytesPerIdleStream = async (leaf: IdleLeaf = "stream") => {
  const count = 10_000
  const { close, store } = openStore({ initialState: 0, reducer: idleReducer(leaf), label: "bench-idle" })
  const before = heapAfterGc()
  await Effect.runPromise(openIdleStreams(store, count, leaf))
  const after = heapAfterGc()
  await close()
  return (after - before) / count
}

/**
 * `cancel_10k_ms` (`cancel_10k_push_ms`): time to cancel 10,000 running cancellable effects by id. With
 * `CANCEL_WINDOWS` set, each measured window goes to stderr as `window <leaf> <startUs> <endUs>` on the
 * clock `--cpu-prof` uses, to cut a profile to the cancels.
 */
export const cancel10kMs = async (leaf: IdleLeaf = "stream", rounds = 5) => {
  const count = 10_000
  const samples: Array<number> = []
  for (let i = 0; i < rounds; i++) {
    cleanups = 0
    const { close, store } = openStore({ initialState: 0, reducer: idleReducer(leaf), label: "bench-cancel" })
    await Effect.runPromise(openIdleStreams(store, count, leaf))
    const started = performance.now()
    const startUs = monotonicUs()
    await Effect.runPromise(Effect.gen(function*() {
      const tasks = []
      for (let id = 0; id < count; id++) tasks.push(yield* store.send({ _tag: "Cancel", id }))
      // Cancelled means ended: wait until no effect is left running.
      const state = yield* store.state
      if (state !== 0) throw new Error(`expected every stream closed, ${state} left`)
      if (leaf === "push" && cleanups !== count) throw new Error(`expected ${count} cleanups, ${cleanups} ran`)
      yield* store.shutdown({ timeout: "5 seconds" })
    }))
    samples.push(performance.now() - started)
    if (process.env["CANCEL_WINDOWS"] !== undefined) process.stderr.write(`window ${leaf} ${startUs} ${monotonicUs()}\n`)
    await close()
  }
  samples.sort((a, b) => a - b)
  return samples[Math.floor(samples.length / 2)]!
}

/** `broadcast_deliveries_per_sec`: 100 subscribers, 100,000 actions, every delivery consumed. */
export const broadcastDeliveriesPerSec = async () => {
  const subscribers = 100
  // 3 million deliveries a sample (about 2 s here); 10 million made this key 40 s of the bench.
  const actions = 30_000
  const program = Effect.gen(function*() {
    const store = yield* Store.make({ initialState: 0, reducer: counterReducer, label: "bench-broadcast" })
    const fibers = []
    for (let i = 0; i < subscribers; i++) {
      const stream = yield* store.subscribe({ overflow: "unbounded" })
      fibers.push(yield* Effect.fork(Stream.runDrain(stream)))
    }
    for (let i = 0; i < actions; i++) yield* store.send(inc)
    yield* store.shutdown({ timeout: "5 seconds" })
    yield* Fiber.joinAll(fibers)
  }).pipe(Effect.scoped)
  return rate("broadcast", subscribers * actions, () => Effect.runPromise(program), { samples: 5, warmup: 1 })
}

/** What a subscriber costs: `send_per_sec` with `count` subscribers attached and draining. */
export const sendPerSecWithSubscribers = async (count: number) => {
  const sends = 200_000
  const program = Effect.gen(function*() {
    const store = yield* Store.make({ initialState: 0, reducer: counterReducer, label: "bench-send-subs" })
    for (let i = 0; i < count; i++) {
      yield* Effect.forkScoped(Stream.runDrain(yield* store.subscribe({ overflow: "sliding" })))
    }
    for (let i = 0; i < sends; i++) yield* store.send(inc)
  }).pipe(Effect.scoped)
  return rate(`send with ${count} subscribers`, sends, () => Effect.runPromise(program), { samples: 5, warmup: 1 })
}

/**
 * What a span costs: `send_per_sec` with a tracer installed that keeps nothing, so the store makes a
 * `store.send` span per send (without one, it makes none).
 */
export const sendPerSecTraced = async () => {
  // 50,000 a sample: traced sends run at about 0.1-0.25 M/s, and 200,000 made this key 13 s of the bench.
  const sends = 50_000
  const discard = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const attributes = new Map<string, unknown>()
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: "0",
        traceId: "0",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes,
        links,
        sampled: true,
        kind,
        end: (endTime, exit) => void ((span as { status: unknown }).status = { _tag: "Ended", startTime, endTime, exit }),
        attribute: (key, value) => void attributes.set(key, value),
        event: () => undefined,
        addLinks: () => undefined
      }
      return span
    },
    context: (f) => f()
  })
  const program = Effect.gen(function*() {
    const store = yield* Store.make({ initialState: 0, reducer: counterReducer, label: "bench-send-traced" })
    for (let i = 0; i < sends; i++) yield* store.send(inc)
  }).pipe(Effect.scoped, Effect.withTracer(discard))
  return rate("send traced", sends, () => Effect.runPromise(program), { samples: 5, warmup: 1 })
}

/** How a bare fiber runs its idle stream, for the floors under `bytes_per_idle_stream` and `cancel_10k_ms`. */
export type RawIdle = "pull" | "forEachChunk" | "fiber"

const rawIdle: Record<RawIdle, () => Effect.Effect<void>> = {
  // The loop the store runs: `Stream.toPull` in a scope, pulled until the stream ends.
  pull: () =>
    Effect.scoped(Effect.flatMap(Stream.toPull(Stream.never), (pull) => {
      const loop: Effect.Effect<never, Option.Option<never>> = Effect.flatMap(pull, () => loop)
      return Effect.catchAll(loop, () => Effect.void)
    })),
  // What the store ran before: a sink behind the stream.
  forEachChunk: () => Stream.runForEachChunk(Stream.never, () => Effect.void),
  // No stream at all: a fiber suspended in `Effect.never`, the floor of any running effect.
  fiber: () => Effect.never
}

/**
 * The floor under `bytes_per_idle_stream` and `cancel_10k_ms`: 10,000 fibers each running `Stream.never`
 * directly (or, for `"fiber"`, no stream), with no store: their heap per fiber, and the time to interrupt
 * them all.
 */
export const rawIdleStreams = async (how: RawIdle = "pull") => {
  const count = 10_000
  const before = heapAfterGc()
  const fibers = Array.from({ length: count }, () => Effect.runFork(rawIdle[how]()))
  await Effect.runPromise(Effect.sleep(10))
  const bytes = (heapAfterGc() - before) / count
  const started = performance.now()
  await Effect.runPromise(Fiber.interruptAll(fibers))
  return { bytes, cancelMs: performance.now() - started }
}
