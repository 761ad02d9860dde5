// voicesmith console: pure helpers (no DOM), importable on their own for tests.
//
// - prepareText(): the text as it is sent (plain text, or SSML with emotion/speed tags added), the text
//   the page shows, and a table from each UTF-8 byte offset of the sent text to an index in the shown
//   text. Speech marks give UTF-8 byte offsets into the sent text; the table turns them into JavaScript
//   string indices (UTF-16 code units), so highlighting is right for accents, CJK and emoji alike.
// - parseMarks(), wordRanges(), wordAt(): speech marks -> highlighted ranges -> the word at a time.
// - pcmToWav(): Polly's headerless 16-bit PCM wrapped in a WAV header, so <audio> can play it.
// - apiError(): an error answer of either API, as an Error with the server's type and message.

const utf8 = new TextEncoder();

/** Emotions the console offers; "none" sends no emotion at all. */
export const EMOTIONS = ["none", "auto", "neutral", "angry", "happy", "sad", "surprise"];

/** Output formats: the value sent as OutputFormat, the file extension, and the sample rates offered. */
export const FORMATS = {
  mp3: { output: "mp3", extension: "mp3", rates: [8000, 16000, 22050, 24000], rate: 24000 },
  wav: { output: "pcm", extension: "wav", rates: [8000, 16000, 22050, 24000], rate: 22050 },
  ogg_vorbis: { output: "ogg_vorbis", extension: "ogg", rates: [8000, 16000, 22050, 24000], rate: 24000 },
  ogg_opus: { output: "ogg_opus", extension: "opus", rates: [8000, 12000, 16000, 24000, 48000], rate: 48000 },
};

const XML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };
const NAMED_ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
const ENTITY = /^&(?:#x([0-9a-fA-F]{1,6})|#([0-9]{1,7})|(amp|lt|gt|quot|apos));/;
// A tag, with quoted attribute values that may hold ">".
const TAG = /^<[^>"']*(?:(?:"[^"]*"|'[^']*')[^>"']*)*>/;
const SPEAK_OPEN = /^<speak[\s>/]/;

/** The sent text, built piece by piece, with the shown-text index of every UTF-8 byte. */
class SourceBuilder {
  constructor() {
    this.parts = [];
    this.index = [];
  }

  /** Appends `sent`; each of its UTF-8 bytes maps to `at`, an index into the shown text. */
  push(sent, at) {
    const bytes = utf8.encode(sent).length;
    for (let k = 0; k < bytes; k++) this.index.push(at);
    this.parts.push(sent);
  }

  finish(display, textType) {
    this.index.push(display.length);
    return { source: this.parts.join(""), textType, display, byteToIndex: Int32Array.from(this.index) };
  }
}

/**
 * The SSML tags that carry the emotion and speed: [open, close] (both "" when there is nothing to say).
 *
 * A named emotion goes in <mstts:express-as>, whose styledegree takes the 0-2 intensity as it is
 * (Polly's <amazon:emotion> knows only low/medium/high). "auto" cannot be said in SSML: it travels as
 * the request fields Emotion/EmotionIntensity instead (see speechBody).
 */
export function styleTags({ emotion = "none", intensity = 1, speed = 100 } = {}) {
  const open = [];
  const close = [];
  if (emotion !== "none" && emotion !== "auto" && intensity > 0) {
    open.push(`<mstts:express-as style="${emotion}" styledegree="${Number(intensity).toFixed(2)}">`);
    close.unshift("</mstts:express-as>");
  }
  if (Number(speed) !== 100) {
    open.push(`<prosody rate="${Math.round(speed)}%">`);
    close.unshift("</prosody>");
  }
  return [open.join(""), close.join("")];
}

function plainText(text, [open, close]) {
  const out = new SourceBuilder();
  const wrap = open !== "";
  if (wrap) out.push(`<speak>${open}`, 0);
  let i = 0;
  for (const ch of text) {
    out.push(wrap ? XML_ESCAPES[ch] || ch : ch, i);
    i += ch.length;
  }
  if (wrap) out.push(`${close}</speak>`, text.length);
  return out.finish(text, wrap ? "ssml" : "text");
}

function ssmlText(source, [open, close]) {
  const out = new SourceBuilder();
  let display = "";
  const speakEnd = source.lastIndexOf("</speak");
  let opened = false;
  const addText = (shown, sent) => {
    if (/^\s$/.test(shown)) {
      // Whitespace runs between tags are layout, not speech: show one space.
      if (display !== "" && !display.endsWith(" ")) {
        out.push(sent, display.length);
        display += " ";
      } else {
        out.push(sent, display.length);
      }
      return;
    }
    out.push(sent, display.length);
    display += shown;
  };
  let i = 0;
  while (i < source.length) {
    const rest = source.slice(i, i + 2000);
    if (source[i] === "<") {
      if (opened && open !== "" && i === speakEnd) out.push(close, display.length);
      let end;
      if (rest.startsWith("<!--")) {
        const stop = source.indexOf("-->", i + 4);
        end = stop < 0 ? source.length : stop + 3;
      } else if (rest.startsWith("<![CDATA[")) {
        const stop = source.indexOf("]]>", i + 9);
        const content = source.slice(i + 9, stop < 0 ? source.length : stop);
        out.push("<![CDATA[", display.length);
        for (const ch of content) addText(ch, ch);
        i += 9 + content.length;
        if (stop >= 0) {
          out.push("]]>", display.length);
          i += 3;
        }
        continue;
      } else {
        const tag = TAG.exec(rest);
        end = tag ? i + tag[0].length : i + 1;
      }
      const tag = source.slice(i, end);
      out.push(tag, display.length);
      if (!opened && SPEAK_OPEN.test(tag)) {
        opened = true;
        if (open !== "" && !tag.endsWith("/>")) out.push(open, display.length);
      }
      i = end;
    } else if (source[i] === "&" && ENTITY.test(rest)) {
      const m = ENTITY.exec(rest);
      const shown = m[3] ? NAMED_ENTITIES[m[3]] : String.fromCodePoint(parseInt(m[1] || m[2], m[1] ? 16 : 10));
      addText(shown, m[0]);
      i += m[0].length;
    } else {
      const ch = String.fromCodePoint(source.codePointAt(i));
      addText(ch, ch);
      i += ch.length;
    }
  }
  return out.finish(display.trimEnd(), "ssml");
}

/**
 * What to send for `text` and how to map the speech marks back onto what the page shows.
 *
 * @param {string} text the typed text (plain text or SSML)
 * @param {{textType?: string, emotion?: string, intensity?: number, speed?: number}} options
 * @returns {{source: string, textType: string, display: string, byteToIndex: Int32Array}}
 *   `byteToIndex[b]` is the index in `display` of the UTF-8 byte offset `b` of `source`
 *   (`byteToIndex.length` is the byte length of `source` plus one).
 */
export function prepareText(text, { textType = "text", ...style } = {}) {
  const tags = styleTags(style);
  return textType === "ssml" ? ssmlText(text, tags) : plainText(text, tags);
}

/** The JSON body of SynthesizeSpeech / StartSpeechSynthesisTask for a prepared text. */
export function speechBody(prepared, { voice, format, sampleRate, emotion = "none", intensity = 1 }) {
  const body = {
    Text: prepared.source,
    TextType: prepared.textType,
    VoiceId: voice,
    OutputFormat: format === "json" ? "json" : FORMATS[format].output,
    Engine: "neural",
  };
  if (format === "json") body.SpeechMarkTypes = ["word"];
  else if (sampleRate) body.SampleRate = String(sampleRate);
  if (emotion === "auto") {
    // voicesmith's extension of the Polly request: per-sentence emotion from the text analyser.
    body.Emotion = "auto";
    body.EmotionIntensity = Number(intensity);
  }
  return body;
}

/** Polly's json output (one speech mark per line) as objects. */
export function parseMarks(text) {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line));
}

/**
 * Word marks as ranges of the shown text, in time order: {time (ms), start, end, value}.
 * Marks whose range is empty in the shown text (words inside tags) are dropped.
 */
export function wordRanges(marks, byteToIndex) {
  const last = byteToIndex.length - 1;
  const at = (byte) => byteToIndex[Math.max(0, Math.min(last, byte))];
  return marks
    .filter((mark) => mark.type === "word")
    .map((mark) => ({ time: mark.time, start: at(mark.start), end: at(mark.end), value: mark.value }))
    .filter((range) => range.end > range.start)
    .sort((a, b) => a.time - b.time || a.start - b.start);
}

/** The index of the word being spoken at `ms` (the last one started), or -1 before the first. */
export function wordAt(ranges, ms) {
  let lo = 0;
  let hi = ranges.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid].time <= ms) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** 16-bit little-endian mono PCM (Polly's "pcm") with a RIFF/WAVE header in front. */
export function pcmToWav(pcm, sampleRate) {
  const data = new Uint8Array(pcm);
  const header = new DataView(new ArrayBuffer(44));
  const ascii = (offset, text) => [...text].forEach((c, k) => header.setUint8(offset + k, c.charCodeAt(0)));
  ascii(0, "RIFF");
  header.setUint32(4, 36 + data.length, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  header.setUint32(16, 16, true); // fmt chunk size
  header.setUint16(20, 1, true); // PCM
  header.setUint16(22, 1, true); // mono
  header.setUint32(24, sampleRate, true);
  header.setUint32(28, sampleRate * 2, true); // bytes per second
  header.setUint16(32, 2, true); // block align
  header.setUint16(34, 16, true); // bits per sample
  ascii(36, "data");
  header.setUint32(40, data.length, true);
  return new Blob([header.buffer, data], { type: "audio/wav" });
}

/** An Error for a failed answer: Polly's {__type, message}, OpenAI's {error: {...}}, or the raw text. */
export async function apiError(response) {
  const text = await response.text();
  let type = `HTTP ${response.status}`;
  let message = text.trim() || response.statusText || "the server gave no reason";
  try {
    const body = JSON.parse(text);
    if (body && typeof body === "object") {
      const polly = body.__type ? body : null;
      const openai = body.error && typeof body.error === "object" ? body.error : null;
      if (polly) {
        type = String(polly.__type).split("#").pop();
        message = polly.message || polly.Message || message;
      } else if (openai) {
        type = openai.type || type;
        message = openai.message || message;
      } else if (body.detail) {
        message = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
      }
    }
  } catch {
    // Not JSON (a proxy's HTML page, say): the text itself is the message.
  }
  const error = new Error(message);
  error.type = type;
  error.status = response.status;
  return error;
}
