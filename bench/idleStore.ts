/**
 * `bytes_per_idle_store`: what a store holds while nothing happens in it. 10,000 counters made with
 * `Store.make`, each in its own `Scope`, each with one action reduced and nothing running; heap after GC
 * before vs after, per store. Alone: `node --expose-gc --import tsx bench/idleStore.ts`.
 */
import { Effect, Exit, Scope } from "effect"
import { pathToFileURL } from "node:url"
import { Store } from "../src/index.js"
import { heapAfterGc } from "./harness.js"
import { counterReducer, inc } from "./subjects.js"

/** A store with one action reduced, in a scope of its own, kept alive by the caller. */
const openOne = (label: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const store = yield* Scope.extend(Store.make({ initialState: 0, reducer: counterReducer, label }), scope)
    yield* store.send(inc)
    return { scope, store }
  })

/**
 * Heap per idle store, `count` of them. By default they share one label, as the instances of one feature
 * do (metrics are per label, so a label's series exist once whatever the number of stores); with
 * `distinctLabels`, each has its own, and the figure includes that label's metric series.
 */
export const bytesPerIdleStore = async (
  options: { readonly count?: number; readonly distinctLabels?: boolean } = {}
): Promise<number> => {
  const count = options.count ?? 10_000
  const label = (i: number) => options.distinctLabels ? `bench-idle-store-${i}` : "bench-idle-store"
  // Warm up: code paths, and (shared label) the label's metric series, which exist once per label.
  const warm = await Effect.runPromise(Effect.forEach(Array.from({ length: 100 }, (_, i) => i), () => openOne(label(-1))))
  await Effect.runPromise(Effect.forEach(warm, ({ scope }) => Scope.close(scope, Exit.void)))
  const before = heapAfterGc()
  const stores = await Effect.runPromise(Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) => openOne(label(i))))
  const after = heapAfterGc()
  // Every store reduced its action: the one measured is a store that was used, not a fresh one.
  const states = await Effect.runPromise(Effect.forEach(stores, ({ store }) => store.state))
  if (states.some((state) => state !== 1)) throw new Error("a store did not reduce its action")
  await Effect.runPromise(Effect.forEach(stores, ({ scope }) => Scope.close(scope, Exit.void)))
  return (after - before) / count
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const shared = await bytesPerIdleStore()
  const distinct = await bytesPerIdleStore({ distinctLabels: true })
  console.log(`bytes_per_idle_store ${Math.round(shared)}`)
  console.log(`bytes_per_idle_store (a label per store) ${Math.round(distinct)}`)
}
