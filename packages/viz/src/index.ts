// Charts as standalone, deterministic SVG strings
export { downsample, type LineChartSpec, type LineSeries, lineChartSvg, type ReferenceLine } from './line-chart';
export { type HeatMapSpec, heatMapSvg } from './heat-map';
export { type BarChartSpec, type BarSeries, barChartSvg } from './bar-chart';
export { type PanelGridOptions, panelGridSvg } from './compose';
// The circuit drawer: from a discovery run's node and edge rows, or from a model's graph and a circuit
export { type CircuitDrawingOptions, circuitDrawingSvg, type CircuitEdgeRow, type CircuitNodeRow, circuitSvg } from './circuit';
// Colours and labels the stages' own drawings share
export { PALETTE, paletteColour } from './colour';
export { escapeXml, formatNumber, formatValue } from './svg';
// Files: SVG, and PNG through resvg
export { writeFigure } from './figure';
export { svgToPng } from './png';
