/**
 * Server-Sent Events: a store subscribed to an SSE endpoint, with reconnect on drop.
 *
 * The subscription is a push leaf (`Fx.subscribe`), not a `Stream`: an SSE connection is a long-lived
 * listener that sits idle between events, and the leaf keeps no fiber waiting through those silences,
 * only the body's pending read. Each chunk of the `fetch` body is parsed as it arrives and its events are
 * reduced in the read's own callback; while a backpressuring subscriber of the store is full, the leaf
 * stops reading (TCP flow control then holds the server back). When the connection drops, a `Schedule`
 * paces the reconnects (a fiber runs only for that wait), and the request carries `Last-Event-ID`, so the
 * server resumes after the last event the store reduced: nothing is lost, nothing is repeated. As the SSE
 * spec asks, the server may set the reconnection delay (`retry:`), move the last event ID without an event
 * (an `id:`-only block), and stop the client for good: 204 No Content ends the effect (`Ended`), any other
 * answer that is not a 200 `text/event-stream` fails it without reconnecting (`Failed`).
 *
 * Run it against any SSE endpoint: `tsx examples/sse-client.ts http://localhost:3000/events`.
 */
import { Data, Duration, Effect, type Fiber, FiberId, Runtime, Schedule, Stream } from "effect"
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
  /** The server answered 204 No Content: it wants no more reconnects. The effect ends. */
  Ended: {}
  /** The server refused the connection: per spec the client does not reconnect. The effect ends. */
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

/** Why a connection is over: the input of the retry schedule. */
export class Disconnected extends Data.TaggedError("Disconnected")<{ readonly reason: string }> {}

/** What the parser reads: an event, the id of a block without data, or the server's reconnection delay. */
type Parsed =
  | { readonly _tag: "Event"; readonly event: SseEvent }
  | { readonly _tag: "Id"; readonly id: string }
  | { readonly _tag: "Retry"; readonly millis: number }

type Block = { readonly id: string | undefined; readonly event: string; readonly data: ReadonlyArray<string> }
const emptyBlock: Block = { id: undefined, event: "message", data: [] }

/**
 * Parses an SSE body as its text arrives: blocks separated by a blank line, `field: value` lines,
 * comments skipped. SSE lines may end in CR LF, LF or a lone CR, and a piece of text may end anywhere,
 * even between the CR and the LF of one line ending.
 */
class Parser {
  private block: Block = emptyBlock
  /** The line begun at the end of the text so far. */
  private partial = ""
  /** The text so far ended in a CR, which may be the first half of a CR LF. */
  private pendingCr = false

  /** What the next piece of the body completes. */
  read(text: string): ReadonlyArray<Parsed> {
    const rest = this.pendingCr && text.startsWith("\n") ? text.slice(1) : text
    this.pendingCr = rest.endsWith("\r")
    const lines = (this.partial + rest.replace(/\r\n?/g, "\n")).split("\n")
    this.partial = lines.pop()!
    return lines.flatMap((line) => this.line(line))
  }

  /** The body ended: a last line without its line ending still counts; an unfinished block does not. */
  end(): ReadonlyArray<Parsed> {
    const last = this.partial
    this.partial = ""
    return last === "" ? [] : this.line(last)
  }

  private line(line: string): ReadonlyArray<Parsed> {
    const block = this.block
    if (line === "") {
      // A blank line dispatches the block, and its id becomes the last event ID even when there is no
      // data (then no event). The id carries over to the next block; an unfinished block is never dispatched.
      this.block = { ...emptyBlock, id: block.id }
      return block.data.length > 0
        ? [{ _tag: "Event", event: { id: block.id, event: block.event, data: block.data.join("\n") } }]
        : block.id === undefined ? [] : [{ _tag: "Id", id: block.id }]
    }
    if (line.startsWith(":")) return []
    const colon = line.indexOf(":")
    const field = colon < 0 ? line : line.slice(0, colon)
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "")
    if (field === "id" && !value.includes("\0")) this.block = { ...block, id: value }
    else if (field === "event") this.block = { ...block, event: value }
    else if (field === "data") this.block = { ...block, data: [...block.data, value] }
    // `retry:` takes effect at once, not at the blank line; a value that is not all digits is ignored.
    else if (field === "retry" && /^[0-9]+$/.test(value)) return [{ _tag: "Retry", millis: Number(value) }]
    return []
  }
}

export interface SubscribeOptions {
  /** Makes the requests (default the global `fetch`): the tests pass their own. */
  readonly fetch?: (url: string, init: RequestInit) => Promise<Response>
}

/**
 * The endpoint's events as actions, reconnecting on drop with `Last-Event-ID`. `Connected`, `Dropped`,
 * `Ended` and `Failed` are actions too, so the reducer knows the connection's state; failures never escape
 * (errors are actions). The effect ends after `Ended`, `Failed`, or the `Dropped` of a schedule that gave up.
 */
export const subscribe = (
  url: string,
  retry: Schedule.Schedule<unknown, Disconnected> = Schedule.spaced("500 millis"),
  options: SubscribeOptions = {}
): Fx.Fx<Action> =>
  Fx.subscribe<Action>((emit) =>
    Effect.map(Effect.runtime<never>(), (runtime): Fx.Registration => {
      const connection = new Connection(url, retry, emit, runtime, options.fetch ?? ((url, init) => fetch(url, init)))
      connection.connect()
      return { cleanup: () => connection.close(), pause: () => connection.pause(), resume: () => connection.resume() }
    })
  )

/**
 * One subscription: the connection of the moment, what carries over to the next (the last event ID, the
 * server's delay, the attempts), and the retry schedule. Between events it holds the body's pending read
 * and nothing else; a fiber runs only while it waits to reconnect.
 */
class Connection {
  private lastEventId = ""
  private serverDelay: Duration.Duration | undefined
  private attempt = 0
  /** Once the server has sent `retry:`, its delay replaces the schedule's; the schedule still gives up. */
  private readonly paced: Schedule.Schedule<unknown, Disconnected>
  /** Stepped once per drop, and made anew once an event arrives: the connection really worked. */
  private driver: Schedule.ScheduleDriver<unknown, Disconnected, never> | undefined
  private received = false
  private controller: AbortController | undefined
  private reader: ReadableStreamDefaultReader<Uint8Array> | undefined
  private parser = new Parser()
  private decoder = new TextDecoder()
  private reading = false
  private paused = false
  private waiting: Fiber.RuntimeFiber<void> | undefined
  private closed = false

  constructor(
    private readonly url: string,
    retry: Schedule.Schedule<unknown, Disconnected>,
    private readonly emit: Fx.Emit<Action>,
    private readonly runtime: Runtime.Runtime<never>,
    private readonly request: (url: string, init: RequestInit) => Promise<Response>
  ) {
    this.paced = Schedule.modifyDelay(retry, (_, delay) => this.serverDelay ?? delay)
  }

  connect(): void {
    this.attempt++
    const controller = this.controller = new AbortController()
    const headers: Record<string, string> = { accept: "text/event-stream" }
    if (this.lastEventId !== "") headers["last-event-id"] = this.lastEventId
    this.request(this.url, { headers, signal: controller.signal }).then(
      (response) => this.opened(response),
      (cause) => this.dropped(String(cause))
    )
  }

  private opened(response: Response): void {
    if (this.closed) return
    // Only a network error or a drop reconnects. 204 means "stop"; any other answer fails for good.
    if (response.status === 204) return this.last(Action.Ended())
    const contentType = response.headers.get("content-type")
    if (response.status !== 200 || contentType?.split(";")[0]?.trim().toLowerCase() !== "text/event-stream") {
      return this.last(Action.Failed({ error: new Refused({ status: response.status, contentType }) }))
    }
    this.emit(Action.Connected({ attempt: this.attempt }))
    this.parser = new Parser()
    this.decoder = new TextDecoder()
    if (response.body === null) return this.ended()
    this.reader = response.body.getReader()
    this.read()
  }

  /** Reads the next piece of the body, unless paused (backpressure) or a read is under way. */
  private read(): void {
    const reader = this.reader
    if (reader === undefined || this.reading || this.paused || this.closed) return
    this.reading = true
    reader.read().then(
      ({ done, value }) => {
        this.reading = false
        if (this.closed || reader !== this.reader) return
        if (done) return this.ended()
        this.parsed(this.parser.read(this.decoder.decode(value, { stream: true })))
        this.read()
      },
      (cause) => {
        this.reading = false
        if (reader === this.reader) this.dropped(String(cause))
      }
    )
  }

  private parsed(items: ReadonlyArray<Parsed>): void {
    for (const parsed of items) {
      if (parsed._tag === "Retry") this.serverDelay = Duration.millis(parsed.millis)
      else if (parsed._tag === "Id") this.lastEventId = parsed.id
      else {
        this.lastEventId = parsed.event.id ?? this.lastEventId
        this.received = true
        this.emit(Action.Received({ event: parsed.event }))
      }
    }
  }

  /** A body that ends is a drop too: an SSE stream is meant to stay open. */
  private ended(): void {
    this.parsed([...this.parser.read(this.decoder.decode()), ...this.parser.end()])
    this.dropped("the server closed the stream")
  }

  private dropped(reason: string): void {
    if (this.closed) return
    this.reader = undefined
    this.emit(Action.Dropped({ reason }))
    // The schedule restarts only when an event arrived since the last drop.
    if (this.received || this.driver === undefined) this.driver = Effect.runSync(Schedule.driver(this.paced))
    this.received = false
    const wait = Effect.matchEffect(this.driver.next(new Disconnected({ reason })), {
      onFailure: () => Effect.sync(() => this.last(Action.Dropped({ reason: `gave up: ${reason}` }))),
      onSuccess: () => Effect.sync(() => this.connect())
    })
    this.waiting = Runtime.runFork(this.runtime)(Effect.ensuring(wait, Effect.sync(() => void (this.waiting = undefined))))
  }

  /** The subscription is over: `action` is its last. */
  private last(action: Action): void {
    this.emit(action)
    this.emit.end()
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    this.paused = false
    this.read()
  }

  close(): void {
    this.closed = true
    this.controller?.abort()
    this.waiting?.unsafeInterruptAsFork(FiberId.none)
  }
}

export const reducer = Reducer.make((state: State, action: Action): readonly [State, Fx.Fx<Action>] => {
  switch (action._tag) {
    case "Subscribe":
      return [state, Fx.cancellable(subscribe(action.url), "sse", { cancelInFlight: true })]
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
