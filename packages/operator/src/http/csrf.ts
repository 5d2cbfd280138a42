import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * CSRF tokens for state-changing forms: an HMAC of the grant's actor under a secret made when
 * the surface is created (or given, for several processes behind one load balancer). A token
 * works only for the actor it was issued to; a cross-site form cannot read it from the page.
 */
export class CsrfTokens {
  private readonly secret: Buffer;

  constructor(secret?: string) {
    this.secret = secret ? Buffer.from(secret, 'utf8') : randomBytes(32);
  }

  issue(actorKey: string): string {
    return createHmac('sha256', this.secret).update(`csrf:${actorKey}`).digest('base64url');
  }

  verify(actorKey: string, token: unknown): boolean {
    if (typeof token !== 'string' || token.length === 0 || token.length > 200) return false;
    const expected = Buffer.from(this.issue(actorKey));
    const given = Buffer.from(token);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}
