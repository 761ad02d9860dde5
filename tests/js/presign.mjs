// Presigns a Polly SynthesizeSpeech URL with the stock AWS SDK for JavaScript, as a browser app does.
// Usage: node presign.mjs '{"endpoint": ..., "region": ..., "accessKeyId": ..., "secretAccessKey": ...,
//                          "expiresIn": 900, "params": {"Text": ..., "VoiceId": ..., "OutputFormat": ...}}'
// Prints the URL.
import { PollyClient } from "@aws-sdk/client-polly";
import { getSynthesizeSpeechUrl } from "@aws-sdk/polly-request-presigner";

const options = JSON.parse(process.argv[2]);
const client = new PollyClient({
  endpoint: options.endpoint,
  region: options.region,
  credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
});
const url = await getSynthesizeSpeechUrl({
  client,
  params: options.params,
  options: options.expiresIn ? { expiresIn: options.expiresIn } : {},
});
process.stdout.write(String(url));
