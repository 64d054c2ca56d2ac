// A client's host as group descriptions show it: its address without the port, and an IPv6
// address without the brackets ("[::1]:53122" → "::1", "127.0.0.1:53122" → "127.0.0.1").

export function hostOf(address: string): string {
  const host = address.replace(/:\d+$/, '');
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
