import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Writable } from "node:stream"
import { EventLog, type LogEvent } from "../../src/internal/eventLog.js"
import { SseClient, SseClients } from "../../src/internal/sseClient.js"
import { followLog } from "../../src/internal/sseEvents.js"
import { StateFeed } from "../../src/internal/stateFeed.js"
import { Reducer, Store } from "../../src/index.js"
import { settle } from "../core/helpers.js"

const counter = Reducer.fromState((n: number, _: "inc") => n + 1)
const dataOf = (_: LogEvent<"inc">) => "x"

/**
 * A response that takes one chunk and then holds it until `release` is called: the client behind it
 * backs up as a real socket that stopped reading does, deterministically.
 */
const heldResponse = () => {
  let text = ""
  const held: Array<() => void> = []
  const sink = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString()
      held.push(done)
    }
  })
  const release = async () => {
    // Each chunk written asks for the next: let them through until nothing more comes.
    for (let rounds = 0; rounds < 1000 && held.length > 0; rounds++) {
      held.shift()!()
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  return { sink, text: () => text, release }
}

/** The flush (a fiber) and the streams' own steps (Node's next ticks) both get their turn. */
const turn = Effect.zipRight(settle, Effect.promise(() => new Promise((resolve) => setImmediate(resolve))))

const ids = (text: string) => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))
const gaps = (text: string) => [...text.matchAll(/^event: gap\ndata: (.*)$/gm)].map((m) => JSON.parse(m[1]!))

// On the TestClock: the flusher's pacing reads the clock, which stands still here, so every flush goes
// out at once and the tests depend on no machine's speed.
describe("SSE clients", () => {
  it.scoped("a client too far behind skips batches, hears of the gap as soon as it reads again, then gets every later event", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: 0, reducer: counter })
      const log = yield* EventLog.make(store, { replay: 0 })
      const response = heldResponse()
      const fast = heldResponse()
      const slow = followLog(log, { _tag: "Fresh" }, { clientBuffer: 3, dataOf, head: ": connected\n\n" })
      const other = followLog(log, { _tag: "Fresh" }, { clientBuffer: 3, dataOf, head: ": connected\n\n" })
      slow.pipe(response.sink)
      other.pipe(fast.sink)
      // Ten flushes of one event each, while `slow`'s response takes nothing.
      for (let i = 0; i < 10; i++) {
        yield* store.send("inc")
        yield* turn
        yield* Effect.promise(() => fast.release())
      }
      yield* Effect.promise(() => fast.release())
      // The other client got all ten, unslowed.
      expect(ids(fast.text())).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      // The slow one holds its first chunk; three events wait behind it (its bound), the rest were skipped.
      yield* Effect.promise(() => response.release())
      expect(ids(response.text())).toEqual([1, 2, 3])
      expect(gaps(response.text())).toEqual([{ from: 4, to: 10 }])
      yield* store.send("inc")
      yield* turn
      yield* Effect.promise(() => response.release())
      expect(ids(response.text())).toEqual([1, 2, 3, 11])
    }))

  it.scoped("a batch larger than the bound reaches a reading client as a gap and its newest events", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: 0, reducer: counter })
      const log = yield* EventLog.make(store, { replay: 0 })
      const response = heldResponse()
      followLog(log, { _tag: "Fresh" }, { clientBuffer: 3, dataOf, head: "" }).pipe(response.sink)
      for (let i = 0; i < 8; i++) yield* store.send("inc")
      yield* turn
      yield* Effect.promise(() => response.release())
      expect(gaps(response.text())).toEqual([{ from: 1, to: 5 }])
      expect(ids(response.text())).toEqual([6, 7, 8])
    }))

  it.scoped("/changes is conflated per client: a busy client gets the newest state once it reads, not the ones between", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: 0, reducer: counter })
      const feed = yield* StateFeed.make(store, (n: number) => `data: ${n}\n\n`)
      const response = heldResponse()
      const client: SseClient = new SseClient(1, () => feed.caughtUp(client))
      feed.add(client, "", "")
      client.pipe(response.sink)
      for (let i = 0; i < 5; i++) {
        yield* store.send("inc")
        yield* turn
      }
      yield* Effect.promise(() => response.release())
      const states = [...response.text().matchAll(/^data: (\d+)$/gm)].map((m) => Number(m[1]))
      // The state it connected with first and the newest last, in order, with states in between skipped
      // (one waits while the response is busy; the others are replaced by newer ones).
      expect(states[0]).toBe(0)
      expect(states[states.length - 1]).toBe(5)
      expect(states.length).toBeLessThan(6)
      expect([...states].sort((a, b) => a - b)).toEqual(states)
      expect(new Set(states).size).toBe(states.length)
    }))

  it.live("ending every client ends their streams, and a client added later ends at once", () =>
    Effect.gen(function*() {
      const clients = new SseClients()
      const a = clients.add(new SseClient(1))
      const ended = new Promise<void>((resolve) => a.once("end", resolve))
      a.resume()
      clients.endAll()
      yield* Effect.promise(() => ended)
      expect(clients.size).toBe(0)
      const late = clients.add(new SseClient(1))
      expect(late.ended).toBe(true)
    }))
})
