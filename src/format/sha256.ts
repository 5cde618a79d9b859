// sha256 through Web Crypto, so the same code hashes in Node (globalThis.crypto, Node >= 19) and in
// the browser.

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new Error('Web Crypto (crypto.subtle) is not available: use Node >= 20 or a secure (https/localhost) browser context');
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  let s = '';
  for (const b of digest) s += b.toString(16).padStart(2, '0');
  return s;
}
