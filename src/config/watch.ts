import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'

/**
 * Calls `onChange` after the file changes. Watches the directory, not the file, because
 * editors and config-management tools replace files by rename, which a file watch loses.
 * Bursts of events (write, then chmod, then rename) are merged into one call.
 */
export function watchFile(file: string, onChange: () => void, settleMs = 150): () => void {
  const name = basename(file)
  let timer: NodeJS.Timeout | null = null
  let watcher: FSWatcher | null = null
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed.toString() !== name) return
      if (timer) clearTimeout(timer)
      timer = setTimeout(() => {
        timer = null
        onChange()
      }, settleMs)
    })
  } catch {
    return () => undefined
  }
  return () => {
    if (timer) clearTimeout(timer)
    watcher?.close()
  }
}
