// The run viewer: a local web page over a run directory.
export { startViewer, type Viewer, type ViewerOptions } from './server';
