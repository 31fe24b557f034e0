// Optional HTTP Basic authentication (RFC 7617) with one user whose password is read from a file.
// Both halves are compared in constant time (SHA-256 digests of equal length), so the answer's
// timing tells nothing about how much of a guess was right.
import { createHash, timingSafeEqual } from 'node:crypto';

export interface BasicCredentials {
  user: string;
  password: string;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export class BasicAuth {
  private readonly user: Buffer;
  private readonly password: Buffer;
  readonly challenge = 'Basic realm="diskarc", charset="UTF-8"';

  constructor(creds: BasicCredentials) {
    this.user = digest(creds.user);
    this.password = digest(creds.password);
  }

  /** True when the Authorization header carries the right user and password. */
  check(header: string | undefined): boolean {
    const m = header === undefined ? null : /^\s*Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const user = colon >= 0 ? decoded.slice(0, colon) : '';
    const password = colon >= 0 ? decoded.slice(colon + 1) : '';
    // Both comparisons always run: no early exit on a wrong user.
    const okUser = timingSafeEqual(digest(user), this.user);
    const okPassword = timingSafeEqual(digest(password), this.password);
    return m !== null && colon >= 0 && okUser && okPassword;
  }
}

/** The password in a password file: its first line, without the line break. */
export function passwordFromFile(text: string): string {
  const line = text.split(/\r?\n/)[0] ?? '';
  return line;
}
