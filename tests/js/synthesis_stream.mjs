// Drives Polly's StartSpeechSynthesisStream with the stock AWS SDK for JavaScript (HTTP/2, signed events).
// Usage: node synthesis_stream.mjs '{"endpoint": ..., "region": ..., "accessKeyId": ..., "secretAccessKey": ...,
//   "params": {"VoiceId": ..., "Engine": ..., "OutputFormat": ..., "SampleRate": ...},
//   "events": [{"Text": ..., "TextType": ..., "Flush": true}, ...], "delayMs": 50,
//   "close": true, "abortAfterAudioEvents": 0, "out": "/path/audio.bin"}'
// Sends each event (a TextEvent, then CloseStreamEvent unless close is false), writes the AudioEvents'
// bytes to `out`, and prints one JSON line: {"audioEvents", "audioBytes", "requestCharacters",
// "firstAudioMs", "error": {"name", "message", "fields"} | null, "statusCode"}.
// abortAfterAudioEvents > 0: aborts the request (the client goes away) after that many AudioEvents.
// "operation": "SynthesizeSpeech" instead calls SynthesizeSpeech (params) and DescribeVoices with the same
// client (HTTP/2 as well) and prints {"audioBytes", "contentType", "requestCharacters", "voices"}.
import { writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import {
  DescribeVoicesCommand,
  PollyClient,
  StartSpeechSynthesisStreamCommand,
  SynthesizeSpeechCommand,
} from "@aws-sdk/client-polly";

const options = JSON.parse(process.argv[2]);
const client = new PollyClient({
  endpoint: options.endpoint,
  region: options.region ?? "us-east-1",
  credentials: {
    accessKeyId: options.accessKeyId ?? "AKIDEXAMPLE",
    secretAccessKey: options.secretAccessKey ?? "secret",
  },
  maxAttempts: 1,
});

if (options.operation === "SynthesizeSpeech") {
  const speech = await client.send(new SynthesizeSpeechCommand(options.params));
  const audio = await speech.AudioStream.transformToByteArray();
  if (options.out) writeFileSync(options.out, audio);
  const voices = await client.send(new DescribeVoicesCommand({}));
  process.stdout.write(JSON.stringify({
    audioBytes: audio.byteLength,
    contentType: speech.ContentType,
    requestCharacters: speech.RequestCharacters,
    voices: voices.Voices.length,
  }) + "\n");
  client.destroy();
  process.exit(0);
}

const abort = new AbortController();
const started = Date.now();

async function* input() {
  for (const event of options.events ?? []) {
    if (options.delayMs) await sleep(options.delayMs);
    const textEvent = { Text: event.Text };
    if (event.TextType) textEvent.TextType = event.TextType;
    if (event.Flush) textEvent.FlushStreamConfiguration = { Force: true };
    yield { TextEvent: textEvent };
  }
  if (options.close !== false) {
    yield { CloseStreamEvent: {} };
  } else {
    await sleep(options.holdMs ?? 3_600_000);  // a client that stops sending but keeps the stream open
  }
}

const result = { audioEvents: 0, audioBytes: 0, requestCharacters: null, firstAudioMs: null, error: null };
const chunks = [];
try {
  const response = await client.send(
    new StartSpeechSynthesisStreamCommand({ ...options.params, ActionStream: input() }),
    { abortSignal: abort.signal },
  );
  result.statusCode = response.$metadata.httpStatusCode;
  for await (const event of response.EventStream) {
    if (event.AudioEvent) {
      if (result.firstAudioMs === null) result.firstAudioMs = Date.now() - started;
      const chunk = event.AudioEvent.AudioChunk ?? new Uint8Array(0);
      chunks.push(Buffer.from(chunk));
      result.audioEvents += 1;
      result.audioBytes += chunk.byteLength;
      if (options.abortAfterAudioEvents && result.audioEvents >= options.abortAfterAudioEvents) {
        abort.abort();
        break;
      }
    } else if (event.StreamClosedEvent) {
      result.requestCharacters = event.StreamClosedEvent.RequestCharacters;
    }
  }
} catch (error) {
  result.error = {
    name: error.name,
    message: error.message,
    typed: error.constructor?.name,
    fields: Object.fromEntries(
      Object.entries(error).filter(([key]) => !["$metadata", "$response", "$fault", "message", "name"].includes(key)),
    ),
    statusCode: error.$metadata?.httpStatusCode,
  };
}
if (options.out) writeFileSync(options.out, Buffer.concat(chunks));
process.stdout.write(JSON.stringify(result) + "\n");
client.destroy();
process.exit(0);
