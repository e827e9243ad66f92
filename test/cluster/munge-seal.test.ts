/**
 * The parsers around a munge-sealed bootstrap (sealing and unsealing themselves run against a real
 * munged on the multi-host test bed: test/multihost/link-capture.test.ts).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseMungeSocket, parseSealedBootstrap } from "../../lib/cluster/munge-seal.js";

describe("munge-sealed bootstraps", () => {
  it("take munged's socket from Slurm's AuthInfo, or munge's default without one", () => {
    assert.equal(parseMungeSocket("ClusterName = bed\nAuthInfo                = socket=/tmp/bed/munge.sock\nAuthType = auth/munge\n"), "/tmp/bed/munge.sock");
    assert.equal(parseMungeSocket("AuthInfo = cred_expire=120,socket=/run/m.sock\n"), "/run/m.sock");
    assert.equal(parseMungeSocket("AuthInfo                = (null)\n"), null);
    assert.equal(parseMungeSocket("ClusterName = c\n"), null);
  });

  it("tell a sealed line from a plain bootstrap and refuse a malformed one", () => {
    assert.equal(parseSealedBootstrap(JSON.stringify({ clusterId: "c", rank: 0 })), undefined);
    assert.equal(parseSealedBootstrap("not json"), undefined);
    assert.deepEqual(parseSealedBootstrap(JSON.stringify({ sealed: "munge", socket: null, credential: "MUNGE:AbC:" })), { sealed: "munge", socket: null, credential: "MUNGE:AbC:" });
    assert.throws(() => parseSealedBootstrap(JSON.stringify({ sealed: "gpg", socket: null, credential: "x" })), /a sealed bootstrap is .* with sealed "gpg"/);
    assert.throws(() => parseSealedBootstrap(JSON.stringify({ sealed: "munge", socket: 5, credential: "MUNGE:x:" })), { code: "ERR_BAD_BOOTSTRAP" });
  });
});
