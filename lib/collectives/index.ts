export { Collectives, type CollectivesOptions, type ReduceOp } from "./collectives.js";
export { PeerMesh, type PeerMeshOptions, type MeshOperation, type ReceivedFrame } from "./peer-mesh.js";
export { starAllReduce } from "./star.js";
