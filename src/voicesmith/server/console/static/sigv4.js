// voicesmith console: AWS Signature Version 4 for the Polly routes, with the browser's WebCrypto.
//
// A server started with access keys (VOICESMITH_AWS_CREDENTIALS) checks every Polly request's
// signature the way botocore makes it. The console signs host, x-amz-content-sha256 and x-amz-date:
// the headers the browser sends unchanged. WebCrypto exists only in secure contexts (https, or
// http on localhost / 127.0.0.1), so signing elsewhere fails with a message saying so.

const utf8 = new TextEncoder();

const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** RFC 3986 percent-encoding (encodeURIComponent leaves !'()* alone; SigV4 wants them encoded). */
export const uriEncode = (text) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function subtle() {
  if (!globalThis.crypto?.subtle) {
    const error = new Error(
      "signing requests needs the browser's WebCrypto, which it offers only over https or on localhost: " +
        "open the console that way, or run the server without access keys",
    );
    error.type = "InsecureContext";
    throw error;
  }
  return globalThis.crypto.subtle;
}

async function sha256(data) {
  return hex(await subtle().digest("SHA-256", typeof data === "string" ? utf8.encode(data) : data));
}

async function hmac(key, text) {
  const raw = typeof key === "string" ? utf8.encode(key) : key;
  const cryptoKey = await subtle().importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return subtle().sign("HMAC", cryptoKey, utf8.encode(text));
}

/** The canonical query string, which is also the one sent: pairs encoded and sorted. */
export function canonicalQuery(params = {}) {
  return Object.entries(params)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([key, value]) => [uriEncode(key), uriEncode(String(value))])
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join("&");
}

/** "20261126T120000Z" */
export function amzDate(now = new Date()) {
  return now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/**
 * The headers that sign one request.
 *
 * @param {{method: string, host: string, path: string, query?: string, body?: string,
 *          accessKeyId: string, secretAccessKey: string, region?: string, service?: string, now?: Date}} r
 *   `path` as sent (already percent-encoded); `query` the canonicalQuery() string that is sent.
 * @returns {Promise<Record<string, string>>} Authorization, X-Amz-Date and X-Amz-Content-Sha256.
 */
export async function signatureHeaders({
  method,
  host,
  path,
  query = "",
  body = "",
  accessKeyId,
  secretAccessKey,
  region = "us-east-1",
  service = "polly",
  now = new Date(),
}) {
  const timestamp = amzDate(now);
  const day = timestamp.slice(0, 8);
  const payloadHash = await sha256(body);
  const headers = { host, "x-amz-content-sha256": payloadHash, "x-amz-date": timestamp };
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((name) => `${name}:${headers[name]}\n`).join("");
  // botocore quotes the path it is given (safe "/~"), so an escape in the sent path is escaped again.
  const canonicalPath = path.replace(/[^A-Za-z0-9\-._~/]/g, uriEncode);
  const canonical = [method.toUpperCase(), canonicalPath, query, canonicalHeaders, names.join(";"), payloadHash];
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", timestamp, scope, await sha256(canonical.join("\n"))].join("\n");
  let key = await hmac(`AWS4${secretAccessKey}`, day);
  for (const part of [region, service, "aws4_request"]) key = await hmac(key, part);
  const signature = hex(await hmac(key, toSign));
  return {
    Authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`,
    "X-Amz-Date": timestamp,
    "X-Amz-Content-Sha256": payloadHash,
  };
}
