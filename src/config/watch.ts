import { statSync, watch, type FSWatcher } from 'node:fs'
import { dirname } from 'node:path'

/**
 * Calls `onChange` after the file's content may have changed. Watches the directory, not the
 * file, because editors and config tools replace files by rename and Kubernetes swaps a
 * `..data` symlink for ConfigMap updates; a file watch loses both. Any event in the directory
 * leads to a stat of the file (symlinks followed), and only a changed identity, size or
 * modification time counts. Bursts of events are merged into one check.
 */
export function watchFile(file: string, onChange: () => void, settleMs = 150): () => void {
  let timer: NodeJS.Timeout | null = null
  let watcher: FSWatcher | null = null
  let seen = signature(file)
  const check = (): void => {
    timer = null
    const now = signature(file)
    if (now === seen) return
    seen = now
    onChange()
  }
  try {
    watcher = watch(dirname(file), { persistent: false }, () => {
      if (timer) clearTimeout(timer)
      timer = setTimeout(check, settleMs)
    })
  } catch {
    return () => undefined
  }
  return () => {
    if (timer) clearTimeout(timer)
    watcher?.close()
  }
}

function signature(file: string): string {
  try {
    const s = statSync(file, { bigint: true })
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`
  } catch {
    return 'missing'
  }
}
