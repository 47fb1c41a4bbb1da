/**
 * Server-Sent Events: a store subscribed to an SSE endpoint, with reconnect on drop.
 *
 * The stream of events is an ordinary Effect `Stream` built on `fetch`. When the connection drops, the
 * stream fails, `Stream.retry` reconnects on a `Schedule`, and the request carries `Last-Event-ID`, so
 * the server resumes after the last event the store reduced: nothing is lost, nothing is repeated.
 *
 * Run it against any SSE endpoint: `tsx examples/sse-client.ts http://localhost:3000/events`.
 */
import { Data, Effect, Option, Schedule, Stream } from "effect"
import { pathToFileURL } from "node:url"
import { Fx, Reducer, Store } from "../src/index.js"

export interface SseEvent {
  readonly id: string | undefined
  readonly event: string
  readonly data: string
}

export type Action = Data.TaggedEnum<{
  Subscribe: { readonly url: string }
  Connected: { readonly attempt: number }
  Received: { readonly event: SseEvent }
  Dropped: { readonly reason: string }
  Unsubscribe: {}
}>
export const Action = Data.taggedEnum<Action>()

export interface State {
  readonly status: "idle" | "connected" | "reconnecting"
  readonly connections: number
  readonly events: ReadonlyArray<SseEvent>
}
export const initialState: State = { status: "idle", connections: 0, events: [] }

class Disconnected extends Data.TaggedError("Disconnected")<{ readonly reason: string }> {}

/** Parses an SSE body into events: blocks separated by a blank line, `field: value` lines, comments skipped. */
const parse = (body: Stream.Stream<Uint8Array, Disconnected>): Stream.Stream<SseEvent, Disconnected> =>
  body.pipe(
    Stream.decodeText(),
    // SSE lines may end in CR LF, LF or a lone CR; `splitLines` knows the first two. A CR that ends a chunk
    // may be the first half of a CR LF: the next chunk's leading LF is then dropped.
    Stream.mapAccum(false, (pendingCr: boolean, text: string) => {
      const rest = pendingCr && text.startsWith("\n") ? text.slice(1) : text
      return [rest.endsWith("\r"), rest.replace(/\r\n?/g, "\n")] as const
    }),
    Stream.splitLines,
    Stream.mapAccum({ id: undefined as string | undefined, event: "message", data: [] as Array<string> }, (block, line) => {
      if (line === "") {
        const done = block.data.length > 0 ? [{ id: block.id, event: block.event, data: block.data.join("\n") }] : []
        return [{ id: block.id, event: "message", data: [] }, done]
      }
      if (line.startsWith(":")) return [block, []]
      const colon = line.indexOf(":")
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "")
      if (field === "id") return [{ ...block, id: value }, []]
      if (field === "event") return [{ ...block, event: value }, []]
      if (field === "data") return [{ ...block, data: [...block.data, value] }, []]
      return [block, []]
    }),
    Stream.flattenIterables
  )

/**
 * The endpoint's events as actions, reconnecting on drop with `Last-Event-ID`. `Connected` and `Dropped`
 * are actions too, so the reducer knows the connection's state; failures never escape (errors are actions).
 */
export const subscribe = (url: string, retry: Schedule.Schedule<unknown, Disconnected> = Schedule.spaced("500 millis")) =>
  Stream.suspend(() => {
    let lastEventId: string | undefined
    let attempt = 0
    const connect = Stream.unwrapScoped(Effect.gen(function*() {
      attempt++
      const controller = yield* Effect.acquireRelease(Effect.sync(() => new AbortController()), (c) => Effect.sync(() => c.abort()))
      const response = yield* Effect.tryPromise({
        try: () =>
          fetch(url, {
            headers: { accept: "text/event-stream", ...(lastEventId === undefined ? {} : { "last-event-id": lastEventId }) },
            signal: controller.signal
          }),
        catch: (cause) => new Disconnected({ reason: String(cause) })
      })
      if (!response.ok || response.body === null) return yield* new Disconnected({ reason: `HTTP ${response.status}` })
      const body = Stream.fromReadableStream(() => response.body!, (cause) => new Disconnected({ reason: String(cause) }))
      const events = parse(body).pipe(
        Stream.tap((event) => Effect.sync(() => void (lastEventId = event.id ?? lastEventId))),
        Stream.map((event) => Action.Received({ event }))
      )
      // A body that ends is a drop too: an SSE stream is meant to stay open.
      return Stream.concat(
        Stream.make(Action.Connected({ attempt })),
        Stream.concat(events, Stream.fail(new Disconnected({ reason: "the server closed the stream" })))
      )
    }))
    // Reconnects are paced by `retry`, driven by hand: `Stream.retry` would restart its schedule at every
    // element, and `Connected` / `Dropped` are elements, so it would never back off or give up. The
    // schedule restarts only when an event arrives: the connection really worked.
    return Stream.unwrap(Effect.map(Schedule.driver(retry), (driver) => {
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
    case "Unsubscribe":
      return [{ ...state, status: "idle" }, Fx.cancel("sse")]
  }
})

const main = (url: string) =>
  Effect.gen(function*() {
    const store = yield* Store.make({ initialState, reducer, label: "sse-client" })
    const actions = yield* store.subscribe({ overflow: "unbounded" })
    yield* store.send(Action.Subscribe({ url }))
    yield* Stream.runForEach(actions, (action) =>
      Effect.sync(() => {
        if (action._tag === "Received") console.log(`${action.event.id ?? "-"} ${action.event.event}: ${action.event.data}`)
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
