// voicesmith console: the page's behaviour. Talks to this server's Polly routes only.
import {
  FORMATS,
  apiError,
  parseMarks,
  pcmToWav,
  prepareText,
  speechBody,
  wordAt,
  wordRanges,
} from "./speech.js";
import { canonicalQuery, signatureHeaders } from "./sigv4.js";
import { initVoices } from "./voices.js";

const SPEECH_BILLED_LIMIT = 3000;
const TASK_POLL_MS = 1500;
const KEYS_STORAGE = "voicesmith.console.keys";
// The region the server checks SigV4 scopes against (the page is served with it).
const REGION = document.querySelector('meta[name="aws-region"]')?.content || "us-east-1";
// The errors a server with auth on answers for missing or wrong credentials (AWS's names).
const AUTH_ERRORS = new Set([
  "AccessDeniedException",
  "MissingAuthenticationTokenException",
  "IncompleteSignatureException",
  "UnrecognizedClientException",
  "InvalidSignatureException",
]);
const SSML_EXAMPLE =
  '<speak>\n  <p>Welcome to <emphasis>voicesmith</emphasis>.</p>\n' +
  '  <p><amazon:emotion name="excited" intensity="high">This part sounds excited!</amazon:emotion></p>\n' +
  '  <p>A pause <break time="600ms"/> and then <prosody rate="slow">slower words</prosody>.</p>\n</speak>';

const $ = (id) => document.getElementById(id);
let voicesPanel = null; // the Voices panel (voices.js), made once the page is set up
const el = {
  form: $("speak-form"),
  text: $("text"),
  charCount: $("char-count"),
  voice: $("voice"),
  emotion: $("emotion"),
  intensity: $("intensity"),
  intensityValue: $("intensity-value"),
  speed: $("speed"),
  speedValue: $("speed-value"),
  format: $("format"),
  sampleRate: $("sample-rate"),
  speak: $("speak"),
  speakStatus: $("speak-status"),
  audio: $("audio"),
  download: $("download"),
  audioInfo: $("audio-info"),
  transcript: $("transcript"),
  health: $("health"),
  bucket: $("bucket"),
  startTask: $("start-task"),
  refreshTasks: $("refresh-tasks"),
  taskStatus: $("task-status"),
  tasksBody: $("tasks-body"),
  keys: $("keys"),
  keysForm: $("keys-form"),
  keysLabel: $("keys-label"),
  accessKey: $("access-key"),
  secretKey: $("secret-key"),
};

const state = { audioUrl: null, words: [], spans: [], current: -1, frame: 0, pollTimer: 0, keys: storedKeys() };

function storedKeys() {
  try {
    return JSON.parse(sessionStorage.getItem(KEYS_STORAGE));
  } catch {
    return null;
  }
}

// -- errors ------------------------------------------------------------------------------------------

function showError(id, error) {
  const box = $(id);
  box.querySelector(".alert-type").textContent = error.type || "Error";
  box.querySelector(".alert-message").textContent = error.message || String(error);
  box.hidden = false;
}

function clearError(id) {
  $(id).hidden = true;
}

for (const box of document.querySelectorAll(".alert")) {
  box.querySelector(".alert-close").addEventListener("click", () => {
    box.hidden = true;
  });
}

/**
 * fetch() for this server: signs /v1 requests when access keys are set, and turns an error answer
 * (or no answer at all) into an Error with the server's type and message.
 */
async function call(path, { method = "GET", query = {}, body, headers = {} } = {}) {
  const queryString = canonicalQuery(query);
  const sent = { ...headers };
  if (state.keys && path.startsWith("/v1/")) {
    const { accessKeyId, secretAccessKey } = state.keys;
    const host = location.host;
    Object.assign(
      sent,
      await signatureHeaders({
        method,
        host,
        path,
        query: queryString,
        body,
        accessKeyId,
        secretAccessKey,
        region: REGION,
      }),
    );
  }
  let response;
  try {
    response = await fetch(queryString ? `${path}?${queryString}` : path, { method, headers: sent, body });
  } catch (cause) {
    const error = new Error(`could not reach the voicesmith server (${cause.message}); is it running?`);
    error.type = "NetworkError";
    throw error;
  }
  if (!response.ok) {
    const error = await apiError(response);
    if (AUTH_ERRORS.has(error.type)) {
      error.message += state.keys
        ? ". Check the keys under “Access keys” (top right)."
        : ". This server wants signed requests: enter an access key under “Access keys” (top right).";
      el.keys.open = true;
    }
    throw error;
  }
  return response;
}

const postJson = (path, body) =>
  call(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

function showKeys() {
  el.keysLabel.textContent = state.keys ? `Signing as ${state.keys.accessKeyId}` : "Access keys";
  el.accessKey.value = state.keys?.accessKeyId || "";
  el.secretKey.value = "";
}

function setKeys(keys) {
  state.keys = keys;
  if (keys) sessionStorage.setItem(KEYS_STORAGE, JSON.stringify(keys));
  else sessionStorage.removeItem(KEYS_STORAGE);
  showKeys();
  el.keys.open = false;
  clearError("compose-error");
  clearError("tasks-error");
  loadAll();
}

el.keysForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const accessKeyId = el.accessKey.value.trim();
  const secretAccessKey = el.secretKey.value;
  if (!accessKeyId || !secretAccessKey) {
    (accessKeyId ? el.secretKey : el.accessKey).focus();
    return;
  }
  setKeys({ accessKeyId, secretAccessKey });
});
$("keys-forget").addEventListener("click", () => setKeys(null));

// -- form --------------------------------------------------------------------------------------------

function textType() {
  return document.querySelector('input[name="text-type"]:checked').value;
}

function options() {
  return {
    textType: textType(),
    voice: el.voice.value,
    emotion: el.emotion.value,
    intensity: Number(el.intensity.value),
    speed: Number(el.speed.value),
    format: el.format.value,
    sampleRate: Number(el.sampleRate.value),
  };
}

function updateTextType() {
  el.text.classList.toggle("ssml", textType() === "ssml");
}

function updateCount() {
  const count = el.text.value.length;
  el.charCount.textContent = count.toLocaleString();
  el.charCount.classList.toggle("over", count > SPEECH_BILLED_LIMIT);
}

function updateRates() {
  const format = FORMATS[el.format.value];
  const previous = Number(el.sampleRate.value);
  el.sampleRate.replaceChildren(
    ...format.rates.map((rate) => new Option(`${(rate / 1000).toLocaleString()} kHz`, String(rate))),
  );
  el.sampleRate.value = String(format.rates.includes(previous) ? previous : format.rate);
}

function updateStyle() {
  const emotion = el.emotion.value;
  el.intensity.disabled = emotion === "none";
  el.intensityValue.textContent = Number(el.intensity.value).toFixed(1);
  el.speedValue.textContent = `${el.speed.value} %`;
}

async function loadVoices() {
  const voices = [];
  let token = null;
  do {
    const page = await (await call("/v1/voices", { query: { NextToken: token } })).json();
    voices.push(...page.Voices);
    token = page.NextToken;
  } while (token);
  voices.sort((a, b) => a.LanguageCode.localeCompare(b.LanguageCode) || a.Name.localeCompare(b.Name));
  // Installed voices first; Amazon Polly's names (spoken by an installed voice, the vendor field says
  // which) in a group of their own, so ~100 names do not bury the voices themselves.
  const isAlias = (v) => v.VoicesmithVoiceId && v.VoicesmithVoiceId !== v.Id;
  const option = (v) => new Option(`${v.Name} (${v.LanguageCode}, ${v.Gender.toLowerCase()})`, v.Id);
  const installed = voices.filter((v) => !isAlias(v));
  const aliases = voices.filter(isAlias);
  const groups = [];
  if (installed.length) {
    const group = document.createElement("optgroup");
    group.label = "Installed voices";
    group.append(...installed.map(option));
    groups.push(group);
  }
  if (aliases.length) {
    const group = document.createElement("optgroup");
    group.label = "Amazon Polly names";
    group.append(...aliases.map(option));
    groups.push(group);
  }
  el.voice.replaceChildren(...groups);
  if (installed.length) el.voice.value = installed[0].Id;
  if (!voices.length) {
    el.voice.replaceChildren(new Option("No voices installed", ""));
    throw Object.assign(new Error("the server has no voices: install one (voicesmith voices --help)"), {
      type: "NoVoices",
    });
  }
}

async function loadHealth() {
  try {
    const health = await (await call("/healthz")).json();
    el.health.textContent = `v${health.version} · ${health.voices} voice${health.voices === 1 ? "" : "s"}`;
    el.health.classList.add("ok");
  } catch (error) {
    el.health.textContent = "Server unreachable";
    el.health.classList.add("bad");
  }
}

// -- speaking ----------------------------------------------------------------------------------------

function setBusy(busy, message = "") {
  el.speak.disabled = busy;
  el.form.setAttribute("aria-busy", String(busy));
  el.speakStatus.textContent = message;
}

async function speak() {
  clearError("compose-error");
  const opts = options();
  if (!el.text.value.trim()) {
    showError("compose-error", { type: "Nothing to say", message: "type some text (or SSML) first" });
    el.text.focus();
    return;
  }
  if (!opts.voice) {
    showError("compose-error", { type: "No voice", message: "choose a voice first" });
    return;
  }
  const prepared = prepareText(el.text.value, opts);
  setBusy(true, "Synthesising…");
  try {
    const [audioAnswer, marksAnswer] = await Promise.all([
      postJson("/v1/speech", speechBody(prepared, opts)),
      postJson("/v1/speech", speechBody(prepared, { ...opts, format: "json" })),
    ]);
    const [audioBytes, marksText] = await Promise.all([audioAnswer.arrayBuffer(), marksAnswer.text()]);
    const format = FORMATS[opts.format];
    const blob =
      opts.format === "wav"
        ? pcmToWav(audioBytes, opts.sampleRate)
        : new Blob([audioBytes], { type: audioAnswer.headers.get("Content-Type") || "audio/mpeg" });
    showAudio(blob, `voicesmith-${opts.voice}-${stamp()}.${format.extension}`);
    showWords(prepared.display, wordRanges(parseMarks(marksText), prepared.byteToIndex));
    const characters = audioAnswer.headers.get("x-amzn-RequestCharacters");
    el.audioInfo.textContent = `${opts.format.replace("_", " ")}, ${opts.sampleRate / 1000} kHz, ${
      (blob.size / 1024).toFixed(1)
    } KiB${characters ? `, ${characters} characters` : ""}`;
    setBusy(false, "");
    el.audio.play().catch(() => {
      // Autoplay refused by the browser: the player is there, the user presses play.
    });
  } catch (error) {
    setBusy(false, "");
    showError("compose-error", error);
    // Errors about the text itself mark the text box invalid until it is edited.
    if (/Ssml|TextLength|Lexicon|Marks/.test(error.type || "")) el.text.setAttribute("aria-invalid", "true");
  }
}

function stamp() {
  return new Date().toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
}

function showAudio(blob, filename) {
  if (state.audioUrl) URL.revokeObjectURL(state.audioUrl);
  state.audioUrl = URL.createObjectURL(blob);
  el.audio.src = state.audioUrl;
  el.download.href = state.audioUrl;
  el.download.download = filename;
  el.download.textContent = `Download ${filename.split(".").pop().toUpperCase()}`;
  el.download.hidden = false;
}

/** Lays the shown text out as text nodes and one <span> per spoken word. */
function showWords(display, ranges) {
  const nodes = [];
  const spans = [];
  let at = 0;
  const words = [];
  for (const range of [...ranges].sort((a, b) => a.start - b.start)) {
    if (range.start < at) continue; // overlapping marks: keep the first
    if (range.start > at) nodes.push(document.createTextNode(display.slice(at, range.start)));
    const span = document.createElement("span");
    span.className = "word";
    span.textContent = display.slice(range.start, range.end);
    span.dataset.time = String(range.time);
    nodes.push(span);
    words.push(range);
    spans.push(span);
    at = range.end;
  }
  if (at < display.length) nodes.push(document.createTextNode(display.slice(at)));
  // Highlight in time order; the spans were made in text order.
  const order = words.map((w, k) => k).sort((a, b) => words[a].time - words[b].time);
  state.words = order.map((k) => words[k]);
  state.spans = order.map((k) => spans[k]);
  state.current = -1;
  el.transcript.replaceChildren(...nodes);
  el.transcript.classList.toggle("empty", nodes.length === 0);
  if (!nodes.length) el.transcript.textContent = "No words were spoken.";
}

function highlight() {
  const index = el.audio.ended ? -1 : wordAt(state.words, el.audio.currentTime * 1000);
  if (index === state.current) return;
  if (state.current >= 0) state.spans[state.current]?.classList.remove("current");
  state.current = index;
  if (index >= 0) state.spans[index].classList.add("current");
}

function followPlayback() {
  highlight();
  state.frame = el.audio.paused ? 0 : requestAnimationFrame(followPlayback);
}

for (const event of ["timeupdate", "seeked", "ended", "emptied"]) el.audio.addEventListener(event, highlight);
el.audio.addEventListener("play", () => {
  if (!state.frame) state.frame = requestAnimationFrame(followPlayback);
});

el.transcript.addEventListener("click", (event) => {
  const word = event.target.closest(".word");
  if (word && el.audio.src) el.audio.currentTime = Number(word.dataset.time) / 1000;
});

// -- tasks -------------------------------------------------------------------------------------------

const STATUS_LABELS = { scheduled: "Scheduled", inProgress: "In progress", completed: "Completed", failed: "Failed" };

function taskRow(task) {
  const row = document.createElement("tr");
  const cell = (content, className) => {
    const td = document.createElement("td");
    if (className) td.className = className;
    td.append(content);
    row.append(td);
    return td;
  };
  const badge = document.createElement("span");
  badge.className = `badge ${task.TaskStatus}`;
  badge.textContent = STATUS_LABELS[task.TaskStatus] || task.TaskStatus;
  cell(badge);
  const created = new Date(task.CreationTime * 1000);
  const time = document.createElement("time");
  time.dateTime = created.toISOString();
  time.textContent = created.toLocaleString();
  cell(time);
  cell(task.VoiceId);
  cell(task.OutputFormat);
  cell(String(task.RequestCharacters ?? ""), "number");
  const output = document.createElement("code");
  output.textContent = task.OutputUri || "";
  const out = cell(output, "output");
  if (task.TaskStatusReason) {
    const reason = document.createElement("p");
    reason.className = "reason";
    reason.textContent = task.TaskStatusReason;
    out.append(reason);
  }
  row.title = `Task ${task.TaskId}`;
  row.dataset.taskId = task.TaskId;
  return row;
}

async function refreshTasks() {
  clearTimeout(state.pollTimer);
  try {
    const answer = await (await call("/v1/synthesisTasks", { query: { MaxResults: 100 } })).json();
    const tasks = answer.SynthesisTasks.sort((a, b) => b.CreationTime - a.CreationTime);
    if (tasks.length) {
      el.tasksBody.replaceChildren(...tasks.map(taskRow));
    } else {
      const row = document.createElement("tr");
      row.className = "placeholder";
      row.innerHTML = '<td colspan="6">No tasks yet.</td>';
      el.tasksBody.replaceChildren(row);
    }
    clearError("tasks-error");
    if (tasks.some((t) => t.TaskStatus === "scheduled" || t.TaskStatus === "inProgress")) {
      state.pollTimer = setTimeout(refreshTasks, TASK_POLL_MS);
    }
  } catch (error) {
    showError("tasks-error", error);
  }
}

async function startTask() {
  clearError("tasks-error");
  const opts = options();
  if (!el.text.value.trim()) {
    showError("tasks-error", { type: "Nothing to say", message: "type some text (or SSML) in Compose first" });
    return;
  }
  const bucket = el.bucket.value.trim();
  if (!bucket) {
    showError("tasks-error", { type: "No bucket", message: "name the output bucket the task writes to" });
    el.bucket.focus();
    return;
  }
  const body = { ...speechBody(prepareText(el.text.value, opts), opts), OutputS3BucketName: bucket };
  el.startTask.disabled = true;
  try {
    const { SynthesisTask: task } = await (await postJson("/v1/synthesisTasks", body)).json();
    el.taskStatus.textContent = `Task ${task.TaskId} started.`;
    await refreshTasks();
  } catch (error) {
    showError("tasks-error", error);
  } finally {
    el.startTask.disabled = false;
  }
}

// -- wiring ------------------------------------------------------------------------------------------

el.form.addEventListener("submit", (event) => {
  event.preventDefault();
  speak();
});
el.text.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    el.form.requestSubmit();
  }
});
el.text.addEventListener("input", () => {
  updateCount();
  el.text.removeAttribute("aria-invalid");
});
for (const radio of document.querySelectorAll('input[name="text-type"]')) {
  radio.addEventListener("change", updateTextType);
}
$("ssml-example").addEventListener("click", () => {
  $("type-ssml").checked = true;
  updateTextType();
  el.text.value = SSML_EXAMPLE;
  updateCount();
  el.text.focus();
});
el.emotion.addEventListener("change", updateStyle);
el.intensity.addEventListener("input", updateStyle);
el.speed.addEventListener("input", updateStyle);
el.format.addEventListener("change", updateRates);
el.startTask.addEventListener("click", startTask);
el.refreshTasks.addEventListener("click", refreshTasks);

function loadAll() {
  voicesPanel?.refresh();
  loadVoices()
    .then(() => document.body.classList.add("ready"))
    .catch((error) => showError("compose-error", error));
  refreshTasks();
}

updateTextType();
updateCount();
updateRates();
updateStyle();
showKeys();
loadHealth();
loadAll();
voicesPanel = initVoices({ call, showError, clearError });
