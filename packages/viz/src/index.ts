// Charts as standalone, deterministic SVG strings
export { type LineChartSpec, type LineSeries, lineChartSvg, type ReferenceLine } from './line-chart';
export { type HeatMapSpec, heatMapSvg } from './heat-map';
export { type BarChartSpec, type BarSeries, barChartSvg } from './bar-chart';
export { type PanelGridOptions, panelGridSvg } from './compose';
// A circuit of a model's graph, drawn layer by layer (discovery, redundancy and evaluation draw through it)
export { circuitSvg, type DrawOptions } from './circuit';
// Colours and labels the stages' own drawings share
export { PALETTE, paletteColour } from './colour';
export { formatNumber } from './svg';
// The run report's and viewer's drawings: points and edges carry their name and score for hovering
export { downsample, escapeXmlText, formatValue, type HoverChartOptions, type HoverSeries, hoverLineChartSvg } from './hover-line-chart';
export { type CircuitDrawingOptions, circuitDrawingSvg, type CircuitEdgeRow, type CircuitNodeRow } from './circuit-tables';
// Files: SVG, and PNG through resvg
export { writeFigure } from './figure';
export { svgToPng } from './png';
