export {
  edgeName,
  edgeNamesShape,
  headName,
  headReaderName,
  kvGroupName,
  kvReaderName,
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
