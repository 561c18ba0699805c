import { isIP } from 'node:net';

/**
 * The names dmq answers to. A browser fooled by DNS rebinding sends the attacker's name in
 * Host, and a page elsewhere names itself in Origin; both are refused unless listed here.
 */
export interface HostRules {
  /** dmq's own names: its listen address and the machine's name. */
  own: string[];
  /** DMQ_ALLOWED_HOSTS: names, or `.domain` for a domain and every name under it. */
  configured: string[];
}

/** The name in a Host header or URL host, without port, IPv6 brackets or a trailing dot. */
export function hostName(host: string): string {
  const lower = host.trim().toLowerCase();
  const name = lower.startsWith('[') ? lower.slice(1, lower.indexOf(']')) : lower.replace(/:\d*$/, '');
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

function listed(name: string, entries: string[]): boolean {
  return entries.some((entry) => (entry.startsWith('.') ? name === entry.slice(1) || name.endsWith(entry) : name === entry));
}

/**
 * An IP address is always fine: a browser that sends one in Host reached that address itself,
 * so no name of an attacker's is involved. `*.localhost` resolves to loopback in browsers.
 */
export function hostAllowed(rules: HostRules, host: string): boolean {
  const name = hostName(host);
  return (
    isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || listed(name, rules.own) || listed(name, rules.configured)
  );
}

/**
 * A page may call dmq when it is dmq's own (its origin is the host the request went to), or
 * when the operator listed its name (a proxy in front may rewrite Host to dmq's address).
 */
export function originAllowed(rules: HostRules, origin: string, host: string | undefined): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  return (host !== undefined && url.host === host.trim().toLowerCase()) || listed(hostName(url.host), rules.configured);
}
