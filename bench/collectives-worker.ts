/**
 * A process of the collectives benchmark (bench/collectives.ts), driven over its fork IPC channel:
 * one side of a raw ZeroMQ PUSH/PULL stream, or one rank of a PeerMesh timing allReduce.
 */
import * as zmq from "zeromq";
import { Collectives } from "../lib/collectives/collectives.js";
import { PeerMesh } from "../lib/collectives/peer-mesh.js";

/** Commands from bench/collectives.ts. */
export type WorkerCommand =
  | { type: "p2p-receiver"; bindAddress: string; ackEndpoint: string }
  | { type: "p2p-sender"; bindAddress: string; dataEndpoint?: string }
  | { type: "p2p-connect"; dataEndpoint: string }
  | { type: "p2p-run"; bytes: number; messages: number; repeats: number }
  | { type: "exchange-run"; bytes: number; chunkBytes: number; repeats: number; leader: boolean }
  | { type: "rank-bind"; rank: number; worldSize: number; bindAddress: string; password: string; zapDomain: string; highWaterMark: number; chunkElements: number; sharedMemory?: { directory: string; prefix: string } }
  | { type: "rank-connect"; endpoints: string[] }
  | { type: "rank-run"; bytes: number; repeats: number; warmups: number; into: boolean }
  | { type: "exit" };

/** Reports to bench/collectives.ts. */
export type WorkerReport =
  | { type: "endpoint"; endpoint: string }
  | { type: "ready" }
  | { type: "durations"; durationsMs: number[] }
  | { type: "fatal"; message: string };

const report = (message: WorkerReport): void => void process.send?.(message);

let pull: zmq.Pull | undefined;
let push: zmq.Push | undefined;
let receiving: Promise<void> | undefined;
let mesh: PeerMesh | undefined;
let collectives: Collectives | undefined;

async function handle(command: WorkerCommand): Promise<void> {
  switch (command.type) {
    case "p2p-receiver": {
      // Receives the stream; answers each one-byte end marker with an ack.
      pull = new zmq.Pull({ linger: 0 });
      await pull.bind(command.bindAddress);
      push = new zmq.Push({ linger: 0 });
      push.connect(command.ackEndpoint);
      const [source, acks] = [pull, push];
      receiving = (async () => {
        for await (const [frame] of source) if (frame?.length === 1) await acks.send("a");
      })();
      report({ type: "endpoint", endpoint: pull.lastEndpoint ?? command.bindAddress });
      return;
    }
    case "p2p-sender":
      pull = new zmq.Pull({ linger: 0 });
      await pull.bind(command.bindAddress);
      push = new zmq.Push({ linger: 0 });
      report({ type: "endpoint", endpoint: pull.lastEndpoint ?? command.bindAddress });
      return;
    case "p2p-connect":
      push!.connect(command.dataEndpoint);
      report({ type: "ready" });
      return;
    case "p2p-run": {
      const payload = new Uint8Array(command.bytes).fill(7); // sent many times, never changed
      const durationsMs: number[] = [];
      for (let i = 0; i < command.repeats + 1; i++) {
        const started = performance.now();
        for (let m = 0; m < command.messages; m++) await push!.send(payload);
        await push!.send("e");
        await pull!.receive();
        if (i > 0) durationsMs.push(performance.now() - started); // the first round warms up
      }
      report({ type: "durations", durationsMs });
      return;
    }
    case "exchange-run": {
      // Both sides send `bytes` in chunks while receiving as much: a 2-rank ring's traffic without
      // its arithmetic. The leader's one-byte "go" starts each round on both sides.
      const [input, output] = [pull!, push!];
      const chunk = new Uint8Array(Math.min(command.bytes, command.chunkBytes)).fill(7);
      const chunks = Math.ceil(command.bytes / chunk.length);
      const durationsMs: number[] = [];
      for (let i = 0; i < command.repeats + 3; i++) {
        if (command.leader) await output.send("g");
        else while ((await input.receive())[0]?.length !== 1);
        const started = performance.now();
        await Promise.all([
          (async () => {
            for (let c = 0; c < chunks; c++) await output.send(chunk);
          })(),
          (async () => {
            for (let c = 0; c < chunks; c++) await input.receive();
          })(),
        ]);
        if (i >= 3) durationsMs.push(performance.now() - started);
      }
      report({ type: "durations", durationsMs });
      return;
    }
    case "rank-bind":
      mesh = await PeerMesh.bind({ rank: command.rank, worldSize: command.worldSize, bindAddress: command.bindAddress, password: command.password, zapDomain: command.zapDomain, highWaterMark: command.highWaterMark, log: () => {} });
      collectives = new Collectives(mesh, { chunkElements: command.chunkElements, ...(command.sharedMemory === undefined ? {} : { sharedMemory: { ...command.sharedMemory, minElements: 1 } }) });
      report({ type: "endpoint", endpoint: mesh.endpoint });
      return;
    case "rank-connect":
      await mesh!.connect(command.endpoints, { signal: AbortSignal.timeout(30_000) });
      report({ type: "ready" });
      return;
    case "rank-run": {
      const values = new Float32Array(command.bytes / 4).fill(1);
      const into = command.into ? new Float32Array(values.length) : undefined;
      const durationsMs: number[] = [];
      for (let i = 0; i < command.warmups + command.repeats; i++) {
        await collectives!.barrier();
        const started = performance.now();
        const result = await collectives!.allReduce(values, into === undefined ? {} : { into });
        if (i >= command.warmups) durationsMs.push(performance.now() - started);
        if (result[result.length - 1] !== mesh!.worldSize) throw new Error(`wrong sum ${result[result.length - 1]}`);
      }
      if (collectives!.sharedMemory !== "not asked" && collectives!.sharedMemory !== "ready") throw new Error(`shared memory was asked for but is ${collectives!.sharedMemory}`);
      report({ type: "durations", durationsMs });
      return;
    }
    case "exit":
      pull?.close();
      push?.close();
      await receiving?.catch(() => {});
      await mesh?.close();
      process.disconnect();
      return;
  }
}

let chain: Promise<void> = Promise.resolve();
process.on("message", (command: WorkerCommand) => {
  chain = chain.then(() => handle(command)).catch((error: unknown) => report({ type: "fatal", message: error instanceof Error ? error.stack ?? error.message : String(error) }));
});
