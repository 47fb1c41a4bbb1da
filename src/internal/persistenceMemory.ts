import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Persistence from "../Persistence.js"

/** One store's rows: the journal after its snapshot, in `seq` order. */
interface Rows {
  snapshot: Persistence.Snapshot | undefined
  journal: Array<Persistence.JournalEntry>
}

const keyOf = (key: Persistence.StoreKey): string => JSON.stringify([key.host, key.id])

/**
 * The in-memory backend: the same rules as the SQL one (a snapshot never goes back, and deletes the
 * journal it covers), so the host's tests mean the same on both.
 *
 * @internal
 */
export const layerMemory = <I>(
  tag: Context.Tag<I, Context.Tag.Service<typeof Persistence.Persistence>>
): Layer.Layer<I> =>
  Layer.sync(tag, () => {
    const stores = new Map<string, Rows>()
    const rowsOf = (key: Persistence.StoreKey): Rows => {
      const k = keyOf(key)
      let rows = stores.get(k)
      if (rows === undefined) stores.set(k, rows = { snapshot: undefined, journal: [] })
      return rows
    }
    return {
      load: (key) =>
        Effect.sync(() => {
          const rows = stores.get(keyOf(key))
          return { snapshot: Option.fromNullable(rows?.snapshot), journal: rows === undefined ? [] : [...rows.journal] }
        }),
      commit: ({ journal, snapshots }) =>
        Effect.sync(() => {
          const touched = new Set<Rows>()
          for (const entry of journal) {
            const rows = rowsOf(entry)
            // Covered by the snapshot already (a retried commit, late): replayed, it would apply twice.
            if (rows.snapshot !== undefined && entry.seq <= rows.snapshot.seq) continue
            if (rows.journal.some((e) => e.seq === entry.seq)) continue
            rows.journal.push(entry)
            touched.add(rows)
          }
          // Once per store the commit wrote to, not once per entry.
          for (const rows of touched) rows.journal.sort((a, b) => a.seq - b.seq)
          for (const snapshot of snapshots) {
            const rows = rowsOf(snapshot)
            if (rows.snapshot !== undefined && rows.snapshot.seq > snapshot.seq) continue
            rows.snapshot = snapshot
            rows.journal = rows.journal.filter((e) => e.seq > snapshot.seq)
          }
        }),
      list: (host) =>
        Effect.sync(() => {
          const ids: Array<string> = []
          for (const [k, rows] of stores) {
            const [h, id] = JSON.parse(k) as [string, string]
            if (h === host && (rows.snapshot !== undefined || rows.journal.length > 0)) ids.push(id)
          }
          return ids
        })
    }
  })
