import type { EventLog, LogEvent, Resume } from "./eventLog.js"
import { bytes, SseClient } from "./sseClient.js"

/**
 * A `GET /events` client: `head` first, then the log's events from `resume` as SSE frames (`dataOf` is an
 * event's data, the ids are the log's wire ids). The frames of
 * a batch are encoded once and the same bytes go to every client that takes the batch whole.
 *
 * A client at most `clientBuffer` events behind gets everything. Further behind, it skips whole batches
 * (the others are not slowed) and, once it reads again, a `gap` event names the ids it missed, so it can
 * reload or reconnect with `Last-Event-ID`; a batch larger than `clientBuffer` reaches it as its newest
 * `clientBuffer` events after such a gap.
 *
 * @internal
 */
export const followLog = <A>(
  log: EventLog<A>,
  resume: Resume,
  options: { readonly clientBuffer: number; readonly dataOf: (event: LogEvent<A>) => string; readonly head: string }
): SseClient => {
  const { clientBuffer, dataOf } = options
  const frameOf = (event: LogEvent<A>): string => `id: ${log.wireId(event.id)}\nevent: action\ndata: ${dataOf(event)}\n\n`
  // The next id this client should see, and the last it was offered: between them, what it missed.
  let expected = resume._tag === "Replay" ? resume.after + 1 : undefined
  let offered = 0
  const gap = (to: number) => bytes(`event: gap\ndata: ${JSON.stringify({ from: log.wireId(expected!), to: log.wireId(to) })}\n\n`)
  // Room again after falling behind: say what was skipped now, not only when the next event comes.
  const caughtUp = () => {
    if (expected === undefined || offered < expected) return
    client.write(gap(offered), 0)
    expected = offered + 1
  }
  const client = new SseClient(clientBuffer, caughtUp)
  // An id this log never gave (it restarted, or the store was passivated since): say so, so the client
  // can reload its state.
  const reset = resume._tag === "Unknown" ? `event: reset\ndata: ${JSON.stringify({ latest: log.wireId(resume.latest) })}\n\n` : ""
  client.write(bytes(options.head + reset), 0)
  // The replay, delivered while subscribing, does not count against the bound: it is bounded itself.
  let replaying = true
  const unsubscribe = log.subscribe(resume, {
    deliver: (batch) => {
      offered = batch.events[batch.events.length - 1]!.id
      expected ??= batch.events[0]!.id
      if (!client.hasRoom) return
      const shown = batch.events.length <= clientBuffer
        ? batch.frames ??= { first: batch.events[0]!.id, bytes: bytes(batch.events.map(frameOf).join("")) }
        : batch.tail ??= { first: offered - clientBuffer + 1, bytes: bytes(batch.events.slice(-clientBuffer).map(frameOf).join("")) }
      // A gap: events older than the replay buffer, or skipped because this client was too slow.
      if (shown.first > expected) client.write(gap(shown.first - 1), 0)
      client.write(shown.bytes, replaying ? 0 : offered - shown.first + 1)
      expected = offered + 1
    },
    end: () => client.end()
  })
  replaying = false
  client.once("close", unsubscribe)
  return client
}
