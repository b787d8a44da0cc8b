import { h } from 'preact'
import { useEffect, useRef } from 'preact/hooks'
import htm from 'htm'
import uPlot from 'uplot'

const html = htm.bind(h)

export interface Line {
  readonly label: string
  readonly values: readonly (number | null)[]
  readonly color: string
  readonly dash?: boolean
}

export const palette = ['#4f8cff', '#f5a524', '#17c964', '#f31260', '#9353d3', '#06b7db', '#ff7a45', '#a3a3a3']

/** Vertical ticks at instants (epoch ms), e.g. each change of a learned limit. */
function markers(at: readonly number[], color: string): uPlot.Plugin {
  return {
    hooks: {
      draw: [
        (u) => {
          const ctx = u.ctx
          ctx.save()
          ctx.strokeStyle = color
          ctx.lineWidth = 2 * devicePixelRatio
          ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio])
          for (const t of at) {
            const x = Math.round(u.valToPos(t / 1000, 'x', true))
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue
            ctx.beginPath()
            ctx.moveTo(x, u.bbox.top)
            ctx.lineTo(x, u.bbox.top + u.bbox.height)
            ctx.stroke()
          }
          ctx.restore()
        },
      ],
    },
  }
}

function axisLabel(v: number, unit: string): string {
  if (unit === 'ms') return v >= 1000 ? `${+(v / 1000).toFixed(1)}s` : `${v}ms`
  return Math.abs(v) >= 1000 ? `${+(v / 1000).toFixed(1)}k` : `${v}${unit}`
}

function axisColor(): string {
  return getComputedStyle(document.documentElement).getPropertyValue('--muted').trim() || '#888'
}

/** One uPlot chart over the history's times; recreated when its lines change, updated in place otherwise. */
export function Chart(props: { title: string; unit: string; times: readonly number[]; lines: readonly Line[]; marks?: readonly number[]; empty?: string }) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const shape = props.lines.map((l) => l.label).join('|') + `#${(props.marks ?? []).join(',')}`
  const data = [props.times.map((t) => t / 1000), ...props.lines.map((l) => l.values as (number | null)[])] as uPlot.AlignedData

  useEffect(() => {
    const el = box.current
    if (!el) return
    const stroke = axisColor()
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: 180,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [
        { stroke, grid: { stroke: 'rgba(128,128,128,0.15)' }, ticks: { stroke: 'rgba(128,128,128,0.3)' } },
        { stroke, size: 56, grid: { stroke: 'rgba(128,128,128,0.15)' }, ticks: { stroke: 'rgba(128,128,128,0.3)' }, values: (_u, vals) => vals.map((v) => axisLabel(v, props.unit)) },
      ],
      series: [{}, ...props.lines.map((l) => ({ label: l.label, stroke: l.color, width: 1.5, dash: l.dash ? [6, 4] : undefined, spanGaps: false, points: { show: false } }))],
      plugins: props.marks && props.marks.length > 0 ? [markers(props.marks, '#f5a524')] : [],
    }
    const u = new uPlot(opts, data, el)
    plot.current = u
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: 180 }))
    ro.observe(el)
    return () => {
      ro.disconnect()
      u.destroy()
      plot.current = null
    }
  }, [shape])

  useEffect(() => {
    plot.current?.setData(data)
  })

  const hasData = props.times.length > 1 && props.lines.length > 0
  return html`<figure class="chart">
    <figcaption>${props.title}</figcaption>
    ${hasData ? null : html`<p class="empty">${props.empty ?? 'Collecting: a point every few seconds.'}</p>`}
    <div ref=${box} class=${hasData ? 'plot' : 'plot hidden'}></div>
  </figure>`
}
