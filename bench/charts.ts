// Chart library benchmark (issue 14: one chart library, chosen by measurement):
// `npm run bench:charts -- [--runs 15]`. Bundles a time-series chart with ECharts (as the web app
// imports it: core, line chart, grid, tooltip, canvas) and with uPlot, reports each bundle's minified and
// gzipped size, then renders a 7-day series at one point a minute (10,080 points) and at the rollup budget
// (1,000 points) in Chromium and reports the median time to draw it and until the next frame.
// Writes bench/results/charts-*.json.
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { benchArgs, saveResult } from './results.js';

const RUNS = Number(benchArgs().get('runs') ?? 15);
const SIZES = [10_080, 1_000];

// Each entry defines window.draw(el, xs, ys): creates the chart with the data, returns a disposer.
const ENTRIES: Record<string, string> = {
  echarts: `
    import { LineChart } from 'echarts/charts';
    import { GridComponent, TooltipComponent } from 'echarts/components';
    import * as echarts from 'echarts/core';
    import { CanvasRenderer } from 'echarts/renderers';
    echarts.use([LineChart, GridComponent, TooltipComponent, CanvasRenderer]);
    window.draw = (el, xs, ys) => {
      const chart = echarts.init(el, undefined, { renderer: 'canvas' });
      chart.setOption({
        animation: false,
        tooltip: { trigger: 'axis' },
        grid: { left: 50, right: 10, top: 10, bottom: 30 },
        xAxis: { type: 'time' },
        yAxis: { type: 'value' },
        series: [{ type: 'line', showSymbol: false, sampling: 'lttb', data: xs.map((x, i) => [x, ys[i]]) }],
      });
      return () => chart.dispose();
    };`,
  uplot: `
    import uPlot from 'uplot';
    window.draw = (el, xs, ys) => {
      const plot = new uPlot(
        { width: 900, height: 180, scales: { x: { time: true } }, series: [{}, { stroke: '#6366f1', width: 2 }] },
        [xs.map((x) => x / 1000), ys],
        el,
      );
      return () => plot.destroy();
    };`,
};

// Runs in the page (a string: the page has a DOM, this program's types do not): draws the series `runs`
// times and returns how long each took to draw (synchronously: both libraries paint the canvas at once)
// and until the next frame (a floor of one frame, ~16 ms).
const MEASURE = `async (points, runs) => {
  const start = Date.now() - points * 60000;
  const xs = Array.from({ length: points }, (_, i) => start + i * 60000);
  const ys = xs.map((_, i) => 20 + 5 * Math.sin(i / 120) + Math.random());
  const el = document.getElementById('c');
  const drawn = [];
  const framed = [];
  for (let run = 0; run < runs; run++) {
    const began = performance.now();
    const dispose = window.draw(el, xs, ys);
    drawn.push(performance.now() - began);
    await new Promise(requestAnimationFrame);
    framed.push(performance.now() - began);
    dispose();
  }
  return [drawn, framed];
}`;

const median = (samples: number[]) =>
  Math.round([...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]! * 10) / 10;

async function bundle(source: string): Promise<string> {
  const result = await build({
    stdin: { contents: source, resolveDir: 'web', loader: 'js' },
    bundle: true,
    minify: true,
    format: 'iife',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const results: Record<string, unknown> = {};
try {
  for (const [library, source] of Object.entries(ENTRIES)) {
    const code = await bundle(source);
    const page = await browser.newPage({ viewport: { width: 1000, height: 400 } });
    await page.setContent(`<div id="c" style="width:900px;height:180px"></div><script>${code}</script>`);
    const timings: Record<string, number> = {};
    for (const points of SIZES) {
      const [drawn, framed] = (await page.evaluate(`(${MEASURE})(${points}, ${RUNS})`)) as number[][];
      timings[`draw_${points}_points_median_ms`] = median(drawn!);
      timings[`to_frame_${points}_points_median_ms`] = median(framed!);
    }
    await page.close();
    results[library] = {
      bundle_min_kb: Math.round(code.length / 102.4) / 10,
      bundle_gzip_kb: Math.round(gzipSync(code).length / 102.4) / 10,
      ...timings,
    };
  }
} finally {
  await browser.close();
}
console.table(results);
saveResult('charts', { runs: RUNS, results });
