export {
  edgeName,
  edgeNamesShape,
  headName,
  headReaderName,
  mlpHeadName,
  mlpName,
  parseEdgeName,
  parseNodeName,
  type QkvLetter,
  qkvLetters,
  type ReaderNode,
  type WriterNode,
} from './names';
export { buildGraph, type GraphOptions, type GraphShape, type ModelGraph, nodeCount } from './model-graph';
export { ParameterMappingConfig } from './parameter-mapping';
