// Run by run.sh with the bundled Node: merges the result files of gpu-check.bench.ts (webgpu, and a
// CPU run given with --cpu-results) and torch_bench.py into one JSON document and prints the table
// of tokens/s with the ratios webgpu / PyTorch (same machine) and webgpu / CPU.
//
//   node report.mjs --out FILE.json --environment ENV.json [--webgpu FILE] [--torch FILE] [--cpu FILE]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { out: { type: 'string' }, environment: { type: 'string' }, webgpu: { type: 'string' }, torch: { type: 'string' }, cpu: { type: 'string' } },
});
const read = (file) => (file !== undefined && existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined);
const webgpu = read(values.webgpu);
const torch = read(values.torch);
const cpu = read(values.cpu);
const environment = read(values.environment) ?? {};

const MEASUREMENTS = [
  ['train', 'train step (fwd+bwd+Adam)'],
  ['eap', 'EAP pass'],
  ['circuitStep', 'circuit-tuning step'],
];
const tokens = (result, key) => result?.[key]?.tokensPerS;
const fmt = (x) => (x === undefined ? '—' : x.toFixed(1));
const ratio = (a, b) => (a === undefined || b === undefined ? undefined : a / b);
const ratioText = (x) => (x === undefined ? '—' : `${x < 1 ? x.toPrecision(2) : x.toFixed(2)}×`);
const label = (result, fallback) => (result === undefined ? fallback : `${fallback}: ${result.backend ?? ''}${result.device ? ` ${result.device}` : ''}`);

const rows = MEASUREMENTS.map(([key, name]) => {
  const w = tokens(webgpu, key);
  const t = tokens(torch, key);
  const c = tokens(cpu, key);
  return { measurement: key, name, webgpu: w, torch: t, cpu: c, webgpuOverTorch: ratio(w, t), webgpuOverCpu: ratio(w, c) };
});
// Missing numbers as null in the JSON (JSON.stringify would drop undefined fields).
const tableJson = rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v ?? null])));
const lines = [
  `tokens/s; ${label(webgpu, 'webgpu')}; ${label(torch, 'PyTorch')}${cpu === undefined ? '' : `; CPU (${cpu.backend}, ${cpu.host}, ${cpu.date})`}`,
  `| measurement | webgpu | PyTorch | webgpu / PyTorch | CPU | webgpu / CPU |`,
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.name} | ${fmt(r.webgpu)} | ${fmt(r.torch)} | ${ratioText(r.webgpuOverTorch)} | ${fmt(r.cpu)} | ${ratioText(r.webgpuOverCpu)} |`),
];
if (webgpu?.shapeName !== undefined && torch?.shapeName !== undefined && webgpu.shapeName !== torch.shapeName) {
  lines.push(`note: webgpu ran shape ${webgpu.shapeName}, PyTorch ${torch.shapeName}: the ratio compares different work`);
}
if (cpu !== undefined && webgpu !== undefined && cpu.shapeName !== webgpu.shapeName) {
  lines.push(`note: the CPU results are for shape ${cpu.shapeName}, webgpu ran ${webgpu.shapeName}`);
}
console.log(lines.join('\n'));
const document = { environment, table: tableJson, webgpu: webgpu ?? null, torch: torch ?? null, cpu: cpu ?? null };
if (values.out !== undefined) writeFileSync(values.out, `${JSON.stringify(document, null, 2)}\n`);
