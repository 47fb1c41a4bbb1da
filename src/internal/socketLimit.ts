import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as Net from "node:net"

/**
 * Bounds what a WebSocket client can make the server buffer. The platform's WebSocket server keeps `ws`'s
 * default message limit (100 MiB) and takes no option, so a client could make it hold a 40 MiB frame
 * before any handler sees it. This reads the frame headers (RFC 6455 section 5.2) of what arrives on the
 * connection, beside `ws`, and adds up the payload lengths of the data frames of the message in progress;
 * control frames (ping, pong, close) do not count. As soon as a header declares more than `limit` (plus a
 * slack), the connection stops feeding `ws` and `cut` closes it: the oversized payload is never buffered.
 *
 * Works where the request comes from Node (`source` is an `IncomingMessage`); elsewhere the per-message
 * check alone applies.
 *
 * @internal
 */
export class SocketLimit {
  /** Header bytes of the frame being read, until it is whole. */
  private header: Array<number> = []
  /** Payload bytes of the current frame still to skip. */
  private remaining = 0
  /** Payload bytes of the data message in progress (its frames so far). */
  private message = 0
  private cutOff = false
  private socket: Net.Socket | undefined

  constructor(
    private readonly request: HttpServerRequest.HttpServerRequest,
    private readonly limit: number,
    private readonly cut: (socket: Net.Socket) => void
  ) {}

  /** Starts reading frame headers; call once the connection is upgraded (before the client can send). */
  attach(): void {
    const socket = (this.request.source as { readonly socket?: Net.Socket } | undefined)?.socket
    if (socket === undefined || typeof socket.on !== "function") return
    this.socket = socket
    socket.on("data", this.onData)
  }

  private readonly onData = (chunk: Buffer): void => {
    let i = 0
    while (i < chunk.length && !this.cutOff) {
      if (this.remaining > 0) {
        const skip = Math.min(this.remaining, chunk.length - i)
        this.remaining -= skip
        i += skip
        continue
      }
      this.header.push(chunk[i++]!)
      const frame = parseHeader(this.header)
      if (frame === undefined) continue
      // Not a client frame (clients must mask theirs; no reserved opcodes): this reader lost track of the
      // frames, so it stops rather than risk cutting off a client by mistake; the per-message check stays.
      if (frame === "invalid") return this.detach()
      this.header = []
      this.remaining = frame.length
      if (frame.control) continue
      this.message += frame.length
      if (this.message > this.limit + SLACK) return this.stop()
      if (frame.fin) this.message = 0
    }
  }

  private detach(): void {
    this.cutOff = true
    this.socket?.off("data", this.onData)
  }

  private stop(): void {
    this.cutOff = true
    const socket = this.socket!
    // Stop feeding ws's receiver; keep reading, discarding, so the client can finish its write and see
    // the close frame.
    socket.removeAllListeners("data")
    socket.on("data", () => {})
    this.cut(socket)
  }
}

/**
 * How far past the limit a message may go before the connection is cut: a message a little over it gets a
 * `PayloadTooLarge` error frame and the connection stays open, as for a body a little over.
 */
const SLACK = 64 * 1024

/** A whole frame header, or `undefined` while more bytes are needed. */
const parseHeader = (
  bytes: ReadonlyArray<number>
): { readonly fin: boolean; readonly control: boolean; readonly length: number } | "invalid" | undefined => {
  if (bytes.length < 2) return undefined
  const fin = (bytes[0]! & 0x80) !== 0
  const opcode = bytes[0]! & 0x0f
  const control = (opcode & 0x08) !== 0
  const masked = (bytes[1]! & 0x80) !== 0
  if (!masked || (opcode > 2 && opcode < 8) || opcode > 10) return "invalid"
  const short = bytes[1]! & 0x7f
  const extended = short === 126 ? 2 : short === 127 ? 8 : 0
  const size = 2 + extended + (masked ? 4 : 0)
  if (bytes.length < size) return undefined
  let length = short
  if (extended > 0) {
    length = 0
    // Up to 2^53: a larger declared length is over any limit anyway.
    for (let k = 2; k < 2 + extended; k++) length = length * 256 + bytes[k]!
  }
  return { fin, control, length }
}
