import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Readable } from "node:stream"

/**
 * One Server-Sent Events client: a Node `Readable` piped into the response (by the platform, or directly
 * on a server `StoreHttp.layer` owns), so delivering an event is a buffer write, not a fiber's worth of
 * stream steps. The bytes written are shared by every
 * client (encoded once per flush).
 *
 * Node asks for data (`_read`) while the response keeps up, and each write goes straight through. Once
 * the response's socket is full, Node stops asking and writes wait here, up to `bound` items: past that
 * {@link hasRoom} is false, so a client that stopped reading costs bounded memory and never slows the
 * others; the route decides what that means (a `gap` event for `/events`, the newest state later for
 * `/changes`). `onRoom` runs when Node asks again and nothing is waiting.
 *
 * @internal
 */
export class SseClient extends Readable {
  /** Chunks Node has not asked for yet, and how many items they count for. */
  private readonly waiting: Array<Uint8Array> = []
  private waitingItems = 0
  /** Whether Node asked for data and has not been given any since. */
  private wanted = false
  private ending = false

  constructor(private readonly bound: number, private readonly onRoom?: () => void) {
    // Node keeps nothing of its own beyond what it hands the response: `waiting` is the client's buffer.
    super({ highWaterMark: 0 })
  }

  override _read(): void {
    this.wanted = true
    while (this.wanted && this.waiting.length > 0) this.wanted = this.push(this.waiting.shift()!)
    if (this.waiting.length > 0) return
    this.waitingItems = 0
    if (this.ending) return void this.push(null)
    if (this.wanted) this.onRoom?.()
  }

  /** Whether the client can take more now: fewer than `bound` items wait. */
  get hasRoom(): boolean {
    return !this.ended && this.waitingItems < this.bound
  }

  /** Writes `bytes`, counted as `items` against the bound (ask {@link hasRoom} first). */
  write(bytes: Uint8Array, items: number): void {
    if (this.ended) return
    if (this.wanted && this.waiting.length === 0) {
      this.wanted = this.push(bytes)
      return
    }
    this.waiting.push(bytes)
    this.waitingItems += items
  }

  /** Writes `bytes` if nothing waits (heartbeats: a client with data waiting needs none). */
  beat(bytes: Uint8Array): void {
    if (this.waiting.length === 0) this.write(bytes, 0)
  }

  /** Whether the stream is ending or was destroyed (the client left): nothing more can be written. */
  get ended(): boolean {
    return this.ending || this.destroyed
  }

  /** Ends the response once what was written has been sent. */
  end(): void {
    if (this.ended) return
    this.ending = true
    if (this.waiting.length === 0) this.push(null)
  }
}

const encoder = new TextEncoder()

/** Bytes of an SSE text, for a frame shared by every client. @internal */
export const bytes = (text: string): Uint8Array => encoder.encode(text)

/** The headers of every SSE response: no caching, and no buffering by proxies (nginx's header). @internal */
export const sseHeaders = { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" }

/** The response streaming `client` to the browser. @internal */
export const sseResponse = (client: SseClient) =>
  HttpServerResponse.raw(client, { headers: sseHeaders })

/** The answer to a `HEAD` of an SSE route: its headers, no stream (nothing would read it). @internal */
export const sseHead = HttpServerResponse.empty({ status: 200, headers: sseHeaders })

/**
 * Every open SSE client of a router, for what they share: one heartbeat and one end when the server closes.
 *
 * @internal
 */
export class SseClients {
  private readonly open = new Set<SseClient>()
  private closed = false

  /** Registers a new client; it leaves the set when its stream closes (the client left, or it ended). */
  add(client: SseClient): SseClient {
    if (this.closed) {
      client.end()
      return client
    }
    this.open.add(client)
    client.once("close", () => this.open.delete(client))
    return client
  }

  get size(): number {
    return this.open.size
  }

  beat(frame: Uint8Array): void {
    for (const client of this.open) client.beat(frame)
  }

  /** Ends every client's response; clients added later end at once. */
  endAll(): void {
    this.closed = true
    for (const client of this.open) client.end()
    this.open.clear()
  }
}
