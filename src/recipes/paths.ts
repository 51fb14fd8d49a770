/**
 * Znode path arithmetic: the recipes build every path from a parent and a name.
 *
 *   joinPath('/app/locks', 'lock-0000000001');   // '/app/locks/lock-0000000001'
 *   nameOf('/app/locks/lock-0000000001');        // 'lock-0000000001'
 *   parentOf('/app/locks/lock-0000000001');      // '/app/locks'
 */

/**
 * The path of the child `name` of `dir`.
 *
 *   joinPath('/', 'app');   // '/app'
 */
export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/**
 * The last component of a path.
 *
 *   nameOf('/app/leader/_c_…-n_0000000003');   // '_c_…-n_0000000003'
 */
export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * The parent of a path ('/' for the root's children and for the root itself).
 *
 *   parentOf('/app');   // '/'
 */
export function parentOf(path: string): string {
  const at = path.lastIndexOf('/');
  return at <= 0 ? '/' : path.slice(0, at);
}
