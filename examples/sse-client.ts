/**
 * Server-Sent Events: a store subscribed to an SSE endpoint, with reconnect on drop.
 *
 * The stream of events is an ordinary Effect `Stream` built on `fetch`. When the connection drops, the
 * stream fails, a `Schedule` paces the reconnects, and the request carries `Last-Event-ID`, so the server
 * resumes after the last event the store reduced: nothing is lost, nothing is repeated. As the SSE spec
 * asks, the server may set the reconnection delay (`retry:`), move the last event ID without an event (an
 * `id:`-only block), and stop the client for good: 204 No Content ends the stream (`Ended`), any other
 * answer that is not a 200 `text/event-stream` fails it without reconnecting (`Failed`).
 *
 * Run it against any SSE endpoint: `tsx examples/sse-client.ts http://localhost:3000/events`.
 */
import { Data, Duration, Effect, Option, Schedule, Stream } from "effect"
import { pathToFileURL } from "node:url"
import { Fx, Reducer, Store } from "../src/index.js"

export interface SseEvent {
  readonly id: string | undefined
  readonly event: string
  readonly data: string
}

/** The server answered, but not with an event stream (status not 200, or another `Content-Type`). */
export class Refused extends Data.TaggedError("Refused")<{ readonly status: number; readonly contentType: string | null }> {}

export type Action = Data.TaggedEnum<{
  Subscribe: { readonly url: string }
  Connected: { readonly attempt: number }
  Received: { readonly event: SseEvent }
  Dropped: { readonly reason: string }
  /** The server answered 204 No Content: it wants no more reconnects. The stream ends. */
  Ended: {}
  /** The server refused the connection: per spec the client does not reconnect. The stream ends. */
  Failed: { readonly error: Refused }
  Unsubscribe: {}
}>
export const Action = Data.taggedEnum<Action>()

export interface State {
  readonly status: "idle" | "connected" | "reconnecting" | "ended" | "failed"
  readonly connections: number
  readonly events: ReadonlyArray<SseEvent>
}
export const initialState: State = { status: "idle", connections: 0, events: [] }

class Disconnected extends Data.TaggedError("Disconnected")<{ readonly reason: string }> {}

/** What the parser reads: an event, the id of a block without data, or the server's reconnection delay. */
type Parsed =
  | { readonly _tag: "Event"; readonly event: SseEvent }
  | { readonly _tag: "Id"; readonly id: string }
  | { readonly _tag: "Retry"; readonly millis: number }

type Block = { readonly id: string | undefined; readonly event: string; readonly data: ReadonlyArray<string> }
const emptyBlock: Block = { id: undefined, event: "message", data: [] }

/** Parses an SSE body: blocks separated by a blank line, `field: value` lines, comments skipped. */
const parse = (body: Stream.Stream<Uint8Array, Disconnected>): Stream.Stream<Parsed, Disconnected> =>
  body.pipe(
    Stream.decodeText(),
    // SSE lines may end in CR LF, LF or a lone CR; `splitLines` knows the first two. A CR that ends a chunk
    // may be the first half of a CR LF: the next chunk's leading LF is then dropped.
    Stream.mapAccum(false, (pendingCr: boolean, text: string) => {
      const rest = pendingCr && text.startsWith("\n") ? text.slice(1) : text
      return [rest.endsWith("\r"), rest.replace(/\r\n?/g, "\n")] as const
    }),
    Stream.splitLines,
    Stream.mapAccum(emptyBlock, (block, line): readonly [Block, ReadonlyArray<Parsed>] => {
      if (line === "") {
        // A blank line dispatches the block, and its id becomes the last event ID even when there is no
        // data (then no event). The id carries over to the next block; an unfinished block is never dispatched.
        const done: ReadonlyArray<Parsed> = block.data.length > 0
          ? [{ _tag: "Event", event: { id: block.id, event: block.event, data: block.data.join("\n") } }]
          : block.id === undefined ? [] : [{ _tag: "Id", id: block.id }]
        return [{ ...emptyBlock, id: block.id }, done]
      }
      if (line.startsWith(":")) return [block, []]
      const colon = line.indexOf(":")
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "")
      if (field === "id") return [value.includes("\0") ? block : { ...block, id: value }, []]
      if (field === "event") return [{ ...block, event: value }, []]
      if (field === "data") return [{ ...block, data: [...block.data, value] }, []]
      // `retry:` takes effect at once, not at the blank line; a value that is not all digits is ignored.
      if (field === "retry" && /^[0-9]+$/.test(value)) return [block, [{ _tag: "Retry", millis: Number(value) }]]
      return [block, []]
    }),
    Stream.flattenIterables
  )

/**
 * The endpoint's events as actions, reconnecting on drop with `Last-Event-ID`. `Connected`, `Dropped`,
 * `Ended` and `Failed` are actions too, so the reducer knows the connection's state; failures never escape
 * (errors are actions).
 */
export const subscribe = (url: string, retry: Schedule.Schedule<unknown, Disconnected> = Schedule.spaced("500 millis")) =>
  Stream.suspend(() => {
    let lastEventId = ""
    let serverDelay: Duration.Duration | undefined
    let attempt = 0
    const connect = Stream.unwrapScoped(Effect.gen(function*() {
      attempt++
      const controller = yield* Effect.acquireRelease(Effect.sync(() => new AbortController()), (c) => Effect.sync(() => c.abort()))
      const response = yield* Effect.tryPromise({
        try: () =>
          fetch(url, {
            headers: { accept: "text/event-stream", ...(lastEventId === "" ? {} : { "last-event-id": lastEventId }) },
            signal: controller.signal
          }),
        catch: (cause) => new Disconnected({ reason: String(cause) })
      })
      // Only a network error or a drop reconnects. 204 means "stop"; any other answer fails for good.
      if (response.status === 204) return Stream.succeed<Action>(Action.Ended())
      const contentType = response.headers.get("content-type")
      if (response.status !== 200 || contentType?.split(";")[0]?.trim().toLowerCase() !== "text/event-stream") {
        return Stream.succeed<Action>(Action.Failed({ error: new Refused({ status: response.status, contentType }) }))
      }
      const body = response.body === null
        ? Stream.empty
        : Stream.fromReadableStream(() => response.body!, (cause) => new Disconnected({ reason: String(cause) }))
      const events = parse(body).pipe(
        Stream.tap((parsed) =>
          Effect.sync(() => {
            if (parsed._tag === "Retry") serverDelay = Duration.millis(parsed.millis)
            else lastEventId = parsed._tag === "Id" ? parsed.id : parsed.event.id ?? lastEventId
          })
        ),
        Stream.filterMap((parsed) => parsed._tag === "Event" ? Option.some(Action.Received({ event: parsed.event })) : Option.none())
      )
      // A body that ends is a drop too: an SSE stream is meant to stay open.
      return Stream.concat(
        Stream.make(Action.Connected({ attempt })),
        Stream.concat(events, Stream.fail(new Disconnected({ reason: "the server closed the stream" })))
      )
    }))
    // Reconnects are paced by `retry`, driven by hand: `Stream.retry` would restart its schedule at every
    // element, and `Connected` / `Dropped` are elements, so it would never back off or give up. The
    // schedule restarts only when an event arrives: the connection really worked. Once the server has sent
    // `retry:`, its delay replaces the schedule's for every later reconnect; the schedule still decides
    // when to give up.
    const paced = Schedule.modifyDelay(retry, (_, delay) => serverDelay ?? delay)
    return Stream.unwrap(Effect.map(Schedule.driver(paced), (driver) => {
      let started = false
      let failure: Disconnected | undefined
      const once = connect.pipe(
        Stream.tap((action) => (action._tag === "Received" ? driver.reset : Effect.void)),
        Stream.catchAll((e) => {
          failure = e
          return Stream.make(Action.Dropped({ reason: e.reason }))
        })
      )
      const next: Effect.Effect<Stream.Stream<Action>, Option.Option<never>> = Effect.suspend(() => {
        if (!started) {
          started = true
          return Effect.succeed(once)
        }
        const dropped = failure
        failure = undefined
        if (dropped === undefined) return Effect.fail(Option.none())
        return driver.next(dropped).pipe(
          Effect.as(once),
          Effect.orElseSucceed(() => Stream.make(Action.Dropped({ reason: `gave up: ${dropped.reason}` })))
        )
      })
      return Stream.flatten(Stream.repeatEffectOption(next))
    }))
  })

export const reducer = Reducer.make((state: State, action: Action): readonly [State, Fx.Fx<Action>] => {
  switch (action._tag) {
    case "Subscribe":
      return [state, Fx.cancellable(Fx.stream(subscribe(action.url)), "sse", { cancelInFlight: true })]
    case "Connected":
      return [{ ...state, status: "connected", connections: state.connections + 1 }, Fx.none]
    case "Received":
      return [{ ...state, events: [...state.events, action.event] }, Fx.none]
    case "Dropped":
      return [{ ...state, status: "reconnecting" }, Fx.none]
    case "Ended":
      return [{ ...state, status: "ended" }, Fx.none]
    case "Failed":
      return [{ ...state, status: "failed" }, Fx.none]
    case "Unsubscribe":
      return [{ ...state, status: "idle" }, Fx.cancel("sse")]
  }
})

const main = (url: string) =>
  Effect.gen(function*() {
    const store = yield* Store.make({ initialState, reducer, label: "sse-client" })
    const actions = yield* store.subscribe({ overflow: "unbounded" })
    yield* store.send(Action.Subscribe({ url }))
    yield* Stream.runForEach(Stream.takeUntil(actions, (a) => a._tag === "Ended" || a._tag === "Failed"), (action) =>
      Effect.sync(() => {
        if (action._tag === "Received") console.log(`${action.event.id ?? "-"} ${action.event.event}: ${action.event.data}`)
        else if (action._tag === "Failed") console.log(`[Failed] HTTP ${action.error.status} ${action.error.contentType ?? ""}`)
        else if (action._tag !== "Subscribe") console.log(`[${action._tag}]`)
      }))
  }).pipe(Effect.scoped)

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const url = process.argv[2]
  if (url === undefined) {
    console.error("usage: tsx examples/sse-client.ts <sse-url>")
    process.exit(2)
  }
  Effect.runPromise(main(url))
}
