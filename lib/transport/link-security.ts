/**
 * How the sockets of a cluster authenticate, and whether they encrypt. Both ends of every link of
 * one cluster use the same: the owner's control socket and the workers' supervisors, and every
 * rank's peer sockets in both directions.
 *
 * - `curve`: CurveZMQ. Every frame is encrypted and authenticated, and the ZAP handler admits only
 *   the cluster's client public key. For tcp, where other machines see the traffic.
 * - `plain`: ZeroMQ PLAIN with a password derived from the cluster secret, checked once per
 *   connection by the ZAP handler; frames travel in clear. For ipc links, whose sockets live in a
 *   directory only the user can open (transport/private-dir.ts), so nobody else can connect to or
 *   read them, and for tcp only when the user opts out of encryption for a measurement.
 */
import type { CurveKeys } from "./curve-keys.js";
import { ZapAuthenticator, zapClientOptions, zapServerOptions, type ZapAdmission, type ZapRegistration } from "./zap-authenticator.js";

/** A cluster's link security. */
export type LinkSecurity = { readonly mechanism: "plain"; readonly password: string } | { readonly mechanism: "curve"; readonly keys: CurveKeys };

/** Options of a socket that binds (a ROUTER) in ZAP domain `zapDomain`. */
export type ServerSocketOptions =
  | ReturnType<typeof zapServerOptions>
  | { curveServer: true; curveSecretKey: string; zapDomain: string; zapEnforceDomain: true };

/** Options of a socket that connects (a DEALER). */
export type ClientSocketOptions = ReturnType<typeof zapClientOptions> | { curveServerKey: string; curvePublicKey: string; curveSecretKey: string };

/** Socket options of a cluster socket that binds; connections are checked under `zapDomain`. */
export function serverSocketOptions(security: LinkSecurity, zapDomain: string): ServerSocketOptions {
  switch (security.mechanism) {
    case "plain":
      return zapServerOptions(zapDomain);
    case "curve":
      return { curveServer: true, curveSecretKey: security.keys.serverSecretKey, zapDomain, zapEnforceDomain: true };
    default: {
      const impossible: never = security;
      return impossible;
    }
  }
}

/** Socket options of a cluster socket that connects. */
export function clientSocketOptions(security: LinkSecurity): ClientSocketOptions {
  switch (security.mechanism) {
    case "plain":
      return zapClientOptions(security.password);
    case "curve":
      return { curveServerKey: security.keys.serverPublicKey, curvePublicKey: security.keys.clientPublicKey, curveSecretKey: security.keys.clientSecretKey };
    default: {
      const impossible: never = security;
      return impossible;
    }
  }
}

/** Registers `zapDomain` with this thread's ZAP handler, admitting the cluster's password or client key. */
export function registerLinkDomain(security: LinkSecurity, zapDomain: string, onReject: (line: string) => void): Promise<ZapRegistration> {
  const admission: ZapAdmission = security.mechanism === "curve" ? { mechanism: "CURVE", clientPublicKey: security.keys.clientPublicKey } : { mechanism: "PLAIN", password: security.password };
  return ZapAuthenticator.register(zapDomain, admission, onReject);
}
