import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { Connection as DriverConnection, type SslOptions } from 'mysql2';
import type { DbEndpoint } from '../config/types.js';
import { DmqError } from '../errors.js';
import { ER, serverErrno } from './server-errors.js';

/**
 * TLS for every connection dmq makes to a source or the target, through mysql2 (pools, single
 * connections and the binlog client alike), and what a TLS failure means in words.
 */

/** What one endpoint asks of its server's certificate beyond the chain OpenSSL verifies. */
interface Identity {
  host: string;
  verifyHostname: boolean;
  allowedCn: readonly string[] | undefined;
}

/** Keyed by the driver's `ssl` object, which mysql2 keeps by reference on every connection it makes from it. */
const identities = new WeakMap<object, Identity>();

/** A certificate refused by dmq's own check, and which check refused it. */
class ServerIdentityError extends Error {
  constructor(
    message: string,
    readonly check: 'hostname' | 'common name',
  ) {
    super(message);
  }
}

function identityProblem(identity: Identity, cert: PeerCertificate): Error | undefined {
  if (identity.verifyHostname) {
    const wrong = checkServerIdentity(identity.host, cert);
    if (wrong) return new ServerIdentityError(wrong.message, 'hostname');
  }
  if (identity.allowedCn) {
    const names = [cert.subject?.CN ?? []].flat();
    if (!names.some((cn) => identity.allowedCn!.includes(cn))) {
      return new ServerIdentityError(
        `its common name ${JSON.stringify(names.join(', '))} is not in cert-allowed-cn (${identity.allowedCn.join(', ')})`,
        'common name',
      );
    }
  }
  return undefined;
}

type TlsUpgrade = (this: DriverInternals, onSecure: (err?: Error) => void) => void;

interface DriverInternals {
  config: { ssl?: unknown };
  stream: { getPeerCertificate(): PeerCertificate };
}

let hooked = false;

/**
 * mysql2 checks the server's name only when it is a DNS name (for an IP address Node compares
 * the certificate with "localhost"), and has no cert-allowed-cn. Wrapping its TLS upgrade lets
 * dmq check both between the handshake and the login, so no credential reaches a server whose
 * certificate is refused. Connections without dmq's identity record pass through untouched.
 *
 * mysql2 keeps TLS sessions per `ssl` object and resumes them; a resumed session shows no
 * certificate to check, and one a refused server issued is kept all the same. Each upgrade
 * therefore sees a copy of the object, whose session cache starts empty: every handshake is
 * full. The driver reads the object only during the call, so the original is back at once.
 */
function hookTlsUpgrade(): void {
  if (hooked) return;
  const proto = DriverConnection.prototype as unknown as { startTLS?: TlsUpgrade };
  const upgrade = proto.startTLS;
  if (typeof upgrade !== 'function') {
    throw new DmqError('INTERNAL', 'mysql2 no longer has the TLS upgrade dmq checks server certificates in', {
      workaround: 'install the mysql2 version package-lock.json names',
    });
  }
  proto.startTLS = function (this: DriverInternals, onSecure) {
    const ssl = this.config.ssl as object;
    const identity = identities.get(ssl);
    if (!identity) return upgrade.call(this, onSecure);
    this.config.ssl = { ...ssl };
    try {
      upgrade.call(this, (err) => onSecure(err ?? identityProblem(identity, this.stream.getPeerCertificate())));
    } finally {
      this.config.ssl = ssl;
    }
  };
  hooked = true;
}

/** mysql2's `ssl` for an endpoint: undefined (plain) when its config has no TLS. */
export function driverTls(endpoint: DbEndpoint): SslOptions | undefined {
  const tls = endpoint.security;
  if (!tls) return undefined;
  hookTlsUpgrade();
  // Configs stored by dmq 0.1 lack the field: they get the default, verified.
  const verifyHostname = tls.verifyHostname !== false;
  const ssl: SslOptions = {
    rejectUnauthorized: true,
    // The driver would compare an IP address with "localhost"; the hook checks the address itself.
    verifyIdentity: verifyHostname && isIP(endpoint.host) === 0,
  };
  if (tls.sslCa !== undefined) ssl.ca = tls.sslCa;
  if (tls.sslCert !== undefined) ssl.cert = tls.sslCert;
  if (tls.sslKey !== undefined) ssl.key = tls.sslKey;
  identities.set(ssl, { host: endpoint.host, verifyHostname, allowedCn: tls.certAllowedCn });
  return ssl;
}

/** Which config block holds an endpoint's TLS settings. */
export const SECURITY_FIELD = { source: 'from.security', target: 'target-database.security' } as const;
export type EndpointRole = keyof typeof SECURITY_FIELD;

/** A driver error that is about TLS, in words that name the endpoint and the field to change; undefined otherwise. */
export function tlsFailure(err: unknown, endpoint: DbEndpoint, label: string, role: EndpointRole): DmqError | undefined {
  const where = `${label} at ${endpoint.host}:${endpoint.port}`;
  const field = SECURITY_FIELD[role];
  const code = (err as { code?: unknown } | null)?.code;
  const fail = (message: string, workaround: string) => new DmqError('TLS_FAILED', message, { cause: err, where, workaround });
  if (serverErrno(err) === ER.SECURE_TRANSPORT_REQUIRED) {
    return fail(
      `${where} accepts only TLS connections, and ${field} is not set`,
      `set ${field}.ssl-ca to the CA of the server's certificate (for Aurora and RDS, the RDS CA bundle), or ${field}.ssl-required: true to verify it with the default CA store`,
    );
  }
  if (code === 'HANDSHAKE_NO_SSL_SUPPORT') {
    return fail(`${where} does not offer TLS, but ${field} asks for it`, `enable TLS on the server, or remove ${field}`);
  }
  if (code !== 'HANDSHAKE_SSL_ERROR') return undefined;
  const message = (err as Error).message;
  if (err instanceof ServerIdentityError && err.check === 'common name') {
    return fail(
      `${where}: the server's certificate is refused: ${message}`,
      `if this is the right server, add its certificate's common name to ${field}.cert-allowed-cn`,
    );
  }
  // Node's name check (dmq's, or the driver's for DNS names) carries the name it compared.
  if (err instanceof ServerIdentityError || typeof (err as { host?: unknown }).host === 'string') {
    return fail(
      `${where}: the server's certificate is refused: ${message}`,
      'connect with a host name the certificate is issued for; for a server reached by an address its certificate ' +
        `does not list, set ${field}.ssl-verify-hostname: false (the certificate must still chain to ssl-ca)`,
    );
  }
  return fail(
    `${where}: TLS handshake failed: ${message}`,
    `check that ${field}.ssl-ca holds the CA that signed the server's certificate (for Aurora and RDS, the RDS CA bundle); ` +
      "without ssl-ca dmq trusts Node's default CA store (NODE_EXTRA_CA_CERTS adds to it)",
  );
}
