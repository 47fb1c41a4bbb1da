/**
 * Profiling aid (not a bench key): heap snapshots before and after opening `count` idle effects, through
 * the store (`stream` or `push`) or bare (`raw`: the pulled `Stream.never` floor), written to `dir` for a
 * diff by constructor. `node --expose-gc --import tsx bench/profileIdleHeap.ts stream 2000 /tmp/heap`.
 */
import { Effect, Option, Stream } from "effect"
import * as v8 from "node:v8"
import { Fx, Reducer } from "../src/index.js"
import { heapAfterGc } from "./harness.js"
import { openStore } from "./subjects.js"

const [what = "stream", n = "2000", dir = "."] = process.argv.slice(2)
const count = Number(n)
type Open = { readonly _tag: "Open"; readonly id: number }
const reducer = Reducer.make((open: number, action: Open) =>
  [open + 1, Fx.cancellable(what === "push" ? Fx.subscribe<Open>(() => Effect.succeed(() => {})) : Fx.stream(Stream.never as Stream.Stream<Open>), action.id)] as const
)
const rawPull = Effect.scoped(Effect.flatMap(Stream.toPull(Stream.never), (pull) => {
  const loop: Effect.Effect<never, Option.Option<never>> = Effect.flatMap(pull, () => loop)
  return Effect.catchAll(loop, () => Effect.void)
}))
const { store } = openStore({ initialState: 0, reducer, label: "heap-idle" })
// Warm up the code paths and tables once, so the diff holds only what each idle effect keeps.
const open = async (from: number) => {
  if (what === "raw") for (let i = 0; i < count; i++) Effect.runFork(rawPull)
  else await Effect.runPromise(Effect.gen(function*() {
    for (let id = from; id < from + count; id++) yield* store.send({ _tag: "Open", id })
  }))
  await Effect.runPromise(Effect.sleep(20))
}
await open(0)
const before = heapAfterGc()
v8.writeHeapSnapshot(`${dir}/${what}-before.heapsnapshot`)
await open(count)
const after = heapAfterGc()
v8.writeHeapSnapshot(`${dir}/${what}-after.heapsnapshot`)
process.stderr.write(`${what}: ${((after - before) / count).toFixed(0)} B each\n`)
process.exit(0)
