// Preloaded into a process under test (`node --import ./bench/eld-probe.js …`) so the bench can
// read its event-loop delay over the measured window: each SIGUSR2 writes the delay percentiles
// since the previous one to $BENCH_ELD_FILE and starts a new interval. The load generator sends
// one at the start of the window and one at its end, so the file ends up holding the window's.
import { writeFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'

const file = process.env.BENCH_ELD_FILE
if (file) {
  // 1 ms resolution: the figure of interest is the p99 in milliseconds, not microsecond jitter.
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  const ms = (ns) => Math.round(ns / 1e4) / 100
  let seq = 0
  process.on('SIGUSR2', () => {
    const figures = { seq: ++seq, p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max), rssMb: Math.round(process.memoryUsage.rss() / 1048576) }
    // With --expose-gc (bench/memory.js), the live heap after a full collection: what requests hold, not garbage.
    if (typeof globalThis.gc === 'function') {
      globalThis.gc()
      figures.liveHeapBytes = process.memoryUsage().heapUsed
    }
    histogram.reset()
    writeFileSync(file, JSON.stringify(figures) + '\n')
  })
}
