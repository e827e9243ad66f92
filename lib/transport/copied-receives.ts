/**
 * Makes zeromq.js copy every frame it receives into memory V8 allocates instead of wrapping
 * ZeroMQ's own buffer. For each frame over 128 bytes, zeromq.js 6 wraps ZeroMQ's memory in a Buffer
 * and reports the frame's size to V8 (`AdjustExternalMemory`); on a rank receiving gradients,
 * those reports kept V8 marking its heap in steps of up to 41 ms (`--trace-gc`), on every rank at
 * once. On the 4-host test bed a 64 MiB all-reduce reached 87% of the link with 220 ms of CPU per
 * rank, and 90-92% with 170-180 ms with frames copied (README, "Speed on the test bed").
 *
 * zeromq.js copies where it detects Electron's memory cage (Electron 21 and later), a check it
 * makes once per process, at the first frame over 128 bytes it receives. So this makes that first
 * receive itself, over an inproc pair, while `process.versions.electron` names such a version, and
 * removes the name again before the call returns: no other code runs in between (the receive of a
 * ready message completes inside `receive()`), and other threads have their own `process`. Where
 * the process already received a frame (the check was made) nothing changes. Call it before the
 * process receives anything else; the caller's test checks that frames are copied afterwards.
 */
import * as zmq from "zeromq";

/** Over zeromq.js's copy-below threshold (128 bytes), so the first receive makes the check. */
const probeBytes = 256;

/** Turns copying on for this process; resolves once the probe frame is received. A failure leaves zeromq.js as it was. */
export async function copyReceivedFrames(): Promise<void> {
  if ("electron" in process.versions) return; // Electron itself: zeromq.js decides on its own.
  const endpoint = `inproc://ringbook-copied-receives-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const sender = new zmq.Pair({ linger: 0 });
  const receiver = new zmq.Pair({ linger: 0 });
  try {
    await sender.bind(endpoint);
    receiver.connect(endpoint);
    await sender.send(Buffer.alloc(probeBytes));
    Object.defineProperty(process.versions, "electron", { value: "21.0.0", enumerable: true, configurable: true });
    let received: Promise<Buffer[]>;
    try {
      received = receiver.receive();
    } finally {
      Reflect.deleteProperty(process.versions, "electron");
    }
    await received;
  } finally {
    sender.close();
    receiver.close();
  }
}
