import { createHash } from 'node:crypto';

/** "user:password" -> "user:base64(sha1(user:password))" (DigestAuthenticationProvider.generateDigest). */
export function digestOf(userPassword: string): string {
  const user = userPassword.split(':', 1)[0];
  return `${user}:${createHash('sha1').update(userPassword, 'utf8').digest('base64')}`;
}
