/**
 * Peers for `bytes_per_idle_stream` and `cancel_10k_ms`: what an idle subscription that has a cleanup
 * costs, and how long cancelling 10,000 of them takes, in RxJS, XState and plain async iterators with an
 * `AbortController`. Each runs 5 rounds: heap after GC before and after opening 10,000 (divided by
 * 10,000), then the time to cancel them all until every cleanup has run; the medians of both are
 * reported. Like the store's keys, the heap is measured with `--expose-gc` (`npm run bench` passes it).
 *
 * Alone: `node --expose-gc --import tsx bench/cancelPeers.ts [--peer=rxjs|xstate|abort]`.
 */
import { Observable, type Subscription } from "rxjs"
import { fileURLToPath } from "node:url"
import { createActor, createMachine, fromCallback } from "xstate"
import { heapAfterGc, median } from "./harness.js"

const COUNT = 10_000
const ROUNDS = 5

/** Heap per idle one, and the time to cancel all of them (medians of the rounds). */
export interface IdleCost {
  readonly bytes: number
  readonly cancelMs: number
}


/**
 * One round: `open` makes `COUNT` idle ones and returns how to cancel them all (resolving once every
 * one has ended and its cleanup has run). The heap is read before opening and once they are all idle.
 */
const idleRounds = async (
  open: (count: number) => Promise<() => Promise<void> | void>
): Promise<IdleCost> => {
  const bytes: Array<number> = []
  const cancelMs: Array<number> = []
  for (let round = 0; round < ROUNDS; round++) {
    const before = heapAfterGc()
    const cancel = await open(COUNT)
    bytes.push((heapAfterGc() - before) / COUNT)
    const started = performance.now()
    await cancel()
    cancelMs.push(performance.now() - started)
  }
  return { bytes: median(bytes), cancelMs: median(cancelMs) }
}

const check = (what: string, ended: number, count: number) => {
  if (ended !== count) throw new Error(`${what}: expected ${count} cleanups, ${ended} ran`)
}

/**
 * `rxjs_bytes_per_idle_subscription`, `rxjs_unsubscribe_10k_ms`: RxJS 7, 10,000 subscriptions (with a
 * full observer) to an Observable that never emits and returns a teardown: `NEVER` with a cleanup, the
 * shape of any idle source (a socket, a listener) that must release something when unsubscribed. Its
 * teardown only counts, so this is RxJS's own cost, the favourable case as `Stream.never` is for the
 * store. Unsubscribing is synchronous: the time is the loop of `unsubscribe()` calls.
 */
export const rxjsIdleSubscriptions = () => {
  let ended = 0
  const idle = new Observable<number>(() => () => void ended++)
  return idleRounds(async (count) => {
    ended = 0
    const subscriptions: Array<Subscription> = []
    for (let i = 0; i < count; i++) {
      subscriptions.push(idle.subscribe({ next: () => undefined, error: () => undefined, complete: () => undefined }))
    }
    return () => {
      for (const subscription of subscriptions) subscription.unsubscribe()
      check("rxjs", ended, count)
    }
  })
}

/**
 * `xstate_bytes_per_idle_actor`, `xstate_stop_10k_ms`: XState 5, 10,000 started actors of a one-state
 * machine that invokes a callback actor (the idiomatic long-lived listener) which does nothing but return
 * a cleanup. Stopping an actor stops its invoked child and runs that cleanup; the time is until every
 * cleanup has run.
 */
export const xstateIdleActors = () => {
  let ended = 0
  const listener = fromCallback(() => () => void ended++)
  const machine = createMachine({
    initial: "listening",
    states: { listening: { invoke: { src: listener } } }
  })
  return idleRounds(async (count) => {
    ended = 0
    const actors = Array.from({ length: count }, () => createActor(machine).start())
    return async () => {
      for (const actor of actors) actor.stop()
      while (ended < count) await new Promise((resolve) => setImmediate(resolve))
      check("xstate", ended, count)
    }
  })
}

/**
 * `abort_bytes_per_idle_generator`, `abort_10k_ms`: 10,000 `async function*` generators, each awaiting a
 * promise that settles only when its own `AbortController` aborts (the listener added `{ once: true }`),
 * each consumed by a `for await` loop. The time runs from aborting all 10,000 controllers until every
 * loop has ended.
 */
export const abortIdleGenerators = () => {
  let ended = 0
  async function* ticks(signal: AbortSignal): AsyncGenerator<number> {
    let i = 0
    try {
      while (true) {
        await new Promise<void>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }))
        yield i++
      }
    } finally {
      ended++
    }
  }
  const consume = async (signal: AbortSignal) => {
    try {
      for await (const _ of ticks(signal)) { /* idle: never reached */ }
    } catch (error) {
      if (!signal.aborted) throw error
    }
  }
  return idleRounds(async (count) => {
    ended = 0
    const controllers = Array.from({ length: count }, () => new AbortController())
    const loops = controllers.map((controller) => consume(controller.signal))
    await new Promise((resolve) => setImmediate(resolve)) // every loop is suspended in its await
    return async () => {
      for (const controller of controllers) controller.abort()
      await Promise.all(loops)
      check("abort", ended, count)
    }
  })
}

/** The peers by name, for `bench/index.ts` and `--peer=`. */
export const idlePeers = { rxjs: rxjsIdleSubscriptions, xstate: xstateIdleActors, abort: abortIdleGenerators }

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const peer = process.argv.find((a) => a.startsWith("--peer="))?.split("=")[1] as keyof typeof idlePeers | undefined
  for (const [name, run] of Object.entries(idlePeers)) {
    if (peer !== undefined && name !== peer) continue
    const started = performance.now()
    const { bytes, cancelMs } = await run()
    console.log(`${name}: ${bytes.toFixed(0)} bytes per idle one, ${cancelMs.toFixed(1)} ms to cancel 10k (${((performance.now() - started) / 1000).toFixed(1)} s)`)
  }
}
