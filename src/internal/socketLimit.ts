import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as Net from "node:net"

/**
 * Bounds what a WebSocket client can make the server buffer. The platform's WebSocket server keeps `ws`'s
 * default message limit (100 MiB) and takes no option, so a client could make it hold a 40 MiB frame
 * before any handler sees it. This counts the bytes arriving on the connection since the last message
 * was delivered; past `limit` (plus one socket read of slack, as the count is taken after `ws` has parsed
 * each read) the connection stops feeding `ws`, and `cut` closes it.
 *
 * Works where the request comes from Node (`source` is an `IncomingMessage`); elsewhere the per-message
 * check alone applies.
 *
 * @internal
 */
export class SocketLimit {
  private pending = 0
  private cutOff = false
  private socket: Net.Socket | undefined

  constructor(
    private readonly request: HttpServerRequest.HttpServerRequest,
    private readonly limit: number,
    private readonly cut: (socket: Net.Socket) => void
  ) {}

  /** Starts counting; call once `ws` listens on the connection, so its reads are parsed before they are counted. */
  attach(): void {
    const socket = (this.request.source as { readonly socket?: Net.Socket } | undefined)?.socket
    if (socket === undefined || typeof socket.on !== "function") return
    this.socket = socket
    socket.on("data", this.onData)
  }

  /** A whole message arrived: what came before it is no longer buffered anywhere. */
  delivered(): void {
    this.pending = 0
  }

  private readonly onData = (chunk: Buffer): void => {
    this.pending += chunk.byteLength
    // 64 KiB: one socket read, counted here after ws may already have delivered a message from it.
    if (this.cutOff || this.pending <= this.limit + 64 * 1024 + 14) return
    this.cutOff = true
    const socket = this.socket!
    // Stop feeding ws's receiver (and this counter); keep reading, discarding, so the client can finish
    // its write and see the close frame.
    socket.removeAllListeners("data")
    socket.on("data", () => {})
    this.cut(socket)
  }
}
