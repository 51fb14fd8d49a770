/** ZooKeeper's path rules (PathUtils.validatePath). Returns a reason, or null when the path is valid. */
export function pathError(path: string, isSequential = false): string | null {
  if (path.length === 0) return 'Path length must be > 0';
  if (path.charCodeAt(0) !== 0x2f) return 'Path must start with / character';
  if (path.length === 1) return null;
  if (path.charCodeAt(path.length - 1) === 0x2f && !isSequential) return 'Path must not end with / character';
  let last = 0x2f;
  for (let i = 1; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0) return `null character not allowed @${i}`;
    if (c === 0x2f && last === 0x2f) return `empty node name specified @${i}`;
    if (c === 0x2e && last === 0x2e) {
      const prev2 = path.charCodeAt(i - 2);
      const next = i + 1 === path.length ? 0x2f : path.charCodeAt(i + 1);
      if (prev2 === 0x2f && next === 0x2f) return `relative paths not allowed @${i}`;
    } else if (c === 0x2e) {
      const next = i + 1 === path.length ? 0x2f : path.charCodeAt(i + 1);
      if (last === 0x2f && next === 0x2f) return `relative paths not allowed @${i}`;
    } else if ((c > 0x00 && c <= 0x1f) || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) || (c >= 0xfff0 && c <= 0xffff)) {
      return `invalid character @${i}`;
    }
    last = c;
  }
  return null;
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
