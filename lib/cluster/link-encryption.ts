/**
 * launchCluster's `linkEncryption` option, and what `describe()` calls a worker's links. tcp links
 * are CURVE-encrypted unless the user opts out, for a measurement on a network they trust; ipc
 * links stay in the cluster's private 0700 directory, where PLAIN is enough (see
 * transport/link-security.ts), unless CURVE is asked for by name.
 */
import { RingbookError } from "../errors.js";
import { quote } from "../json-guards.js";

/** The values of `linkEncryption`. */
export const linkEncryptionValues = ["curve", "none"] as const;

/** `"curve"`: every link encrypted and authenticated by key; `"none"`: PLAIN, traffic in clear. */
export type LinkEncryption = (typeof linkEncryptionValues)[number];

/** A worker's links, as `describe()` shows them. */
export type LinkKind = "ipc" | "ipc+curve" | "tcp+curve" | "tcp (unencrypted)";

function isLinkEncryption(value: unknown): value is LinkEncryption {
  return linkEncryptionValues.some((known) => known === value);
}

/** Checks the option; without one, tcp gets `"curve"` and ipc `"none"`. */
export function parseLinkEncryption(value: unknown, transport: "ipc" | "tcp"): LinkEncryption {
  if (value === undefined) return transport === "tcp" ? "curve" : "none";
  if (!isLinkEncryption(value)) throw new RingbookError("ERR_BAD_OPTION", `linkEncryption must be one of ${linkEncryptionValues.map((known) => JSON.stringify(known)).join(", ")}, got ${quote(value)}`);
  return value;
}

/** What `describe()` calls links of `transport` with `encryption`. */
export function linkKindOf(transport: "ipc" | "tcp", encryption: LinkEncryption): LinkKind {
  if (transport === "ipc") return encryption === "curve" ? "ipc+curve" : "ipc";
  return encryption === "curve" ? "tcp+curve" : "tcp (unencrypted)";
}

/** The warning a cluster logs once when its tcp links travel in clear. */
export function unencryptedLinksWarning(clusterId: string, host: string): string {
  return `cluster ${clusterId}: WARNING linkEncryption "none": the tcp links (bound on ${host}) are authenticated by a password but not encrypted; anyone who can capture the traffic reads every gradient and the password. Use it only to measure CURVE's cost on a network you trust.`;
}
