// voicesmith console: the Voices panel. Creates custom voices from recordings (CreateVoice, multipart),
// follows their jobs (GET /v1/voice-jobs, GetVoice's VoicesmithJob field: stage, step of total, minutes
// left, the dataset check's findings), cancels them (DeleteVoice) and plays a trained voice.

const POLL_MS = 2000;
const SAMPLE = "Hello! This is my new voice, speaking on your own hardware.";

export function initVoices({ call, showError, clearError }) {
  const $ = (id) => document.getElementById(id);
  const form = $("voice-form");
  const list = $("voice-jobs");
  const status = $("voice-status");
  const audio = $("voice-audio");
  let timer = 0;
  let audioUrl = null;

  function text(tag, content, className) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    node.textContent = content;
    return node;
  }

  function progressOf(voice) {
    const job = voice.VoicesmithJob || {};
    const box = document.createElement("div");
    box.className = "voice-progress";
    if (job.State === "training" || job.State === "pending") {
      const bar = document.createElement("progress");
      bar.max = job.TotalSteps || 1;
      if (job.TotalSteps) bar.value = job.Step || 0; // no value: an indeterminate bar until training starts
      bar.setAttribute("aria-label", `Training progress of ${voice.Name}`);
      box.append(bar);
      const parts = [job.Stage || job.State];
      if (job.TotalSteps) parts.push(`step ${job.Step || 0} of ${job.TotalSteps}`);
      if (job.MinutesLeft != null) parts.push(`about ${Math.ceil(job.MinutesLeft)} min left`);
      if (job.BackendState) parts.push(`${job.Backend}: ${job.BackendState}`);
      box.append(text("span", parts.join(" · "), "hint eta"));
    }
    if (job.Validation && Object.keys(job.Validation).length) {
      const numbers = Object.entries(job.Validation)
        .map(([name, value]) => `${name} ${Number(value).toFixed(3)}`)
        .join(", ");
      box.append(text("span", `last validation: ${numbers}`, "hint validation"));
    }
    const findings = job.DatasetCheck?.Findings || [];
    if (findings.length) {
      const ul = document.createElement("ul");
      ul.className = "findings";
      for (const finding of findings) {
        const where = finding.clip ? `${finding.clip}: ` : "";
        ul.append(text("li", `${where}${finding.message}`, `finding ${finding.severity}`));
      }
      box.append(ul);
    }
    if (voice.Status === "failed" && voice.StatusReason) box.append(text("p", voice.StatusReason, "reason"));
    if (job.Log && voice.Status !== "active") {
      const log = document.createElement("details");
      log.className = "log";
      log.append(text("summary", "Training log"), text("pre", job.Log));
      box.append(log);
    }
    return box;
  }

  function voiceItem(voice) {
    const item = document.createElement("li");
    item.className = "voice-job";
    item.dataset.voiceId = voice.Id;
    item.dataset.state = voice.VoicesmithJob?.State || voice.Status;
    const head = document.createElement("div");
    head.className = "voice-job-head";
    head.append(text("strong", voice.Name), text("code", voice.Id), text("span", item.dataset.state, "badge"));
    const actions = document.createElement("span");
    actions.className = "voice-actions";
    if (voice.Status === "active") {
      const listen = text("button", "Listen", "button listen");
      listen.type = "button";
      listen.addEventListener("click", () => listenTo(voice));
      actions.append(listen);
    }
    const training = voice.Status === "pending";
    const remove = text("button", training ? "Cancel" : "Delete", "button quiet remove");
    remove.type = "button";
    remove.setAttribute("aria-label", `${training ? "Cancel" : "Delete"} ${voice.Name}`);
    remove.addEventListener("click", () => removeVoice(voice, training));
    actions.append(remove);
    head.append(actions);
    item.append(head, progressOf(voice));
    return item;
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const answer = await (await call("/v1/voice-jobs")).json();
      list.replaceChildren(...answer.Voices.map(voiceItem));
      if (!answer.Voices.length) list.replaceChildren(text("li", "No custom voices yet.", "placeholder"));
      if (answer.Voices.some((voice) => voice.Status === "pending")) timer = setTimeout(refresh, POLL_MS);
    } catch (error) {
      showError("voices-error", error);
    }
  }

  async function create(event) {
    event.preventDefault();
    clearError("voices-error");
    const recordings = $("voice-recordings").files;
    if (!$("voice-name").value.trim() || !recordings.length || !$("voice-transcript").value.trim()) {
      showError("voices-error", {
        type: "ValidationException",
        message: "give the voice a name, pick its recordings and type their transcript",
      });
      return;
    }
    const data = new FormData();
    data.append("Name", $("voice-name").value.trim());
    data.append("LanguageCode", $("voice-language").value.trim());
    if ($("voice-gender").value) data.append("Gender", $("voice-gender").value);
    data.append("TermsAccepted", $("voice-terms").checked ? "true" : "false");
    for (const file of recordings) data.append("recordings", file, file.name);
    data.append("transcript", new Blob([$("voice-transcript").value], { type: "text/plain" }), "transcript.txt");
    const consent = $("voice-consent").files[0];
    if (consent) data.append("consent", consent, consent.name);
    // Bytes, not FormData, so that signed requests can hash the body.
    const encoded = new Response(data);
    const contentType = encoded.headers.get("content-type");
    const body = await encoded.arrayBuffer();
    $("create-voice").disabled = true;
    status.textContent = "Uploading…";
    try {
      const answer = await (
        await call("/v1/voices", { method: "POST", headers: { "Content-Type": contentType }, body })
      ).json();
      status.textContent = `Voice ${answer.Voice.Id} created: it trains now.`;
      form.reset();
      $("voice-language").value = "en-US";
      await refresh();
    } catch (error) {
      status.textContent = "";
      showError("voices-error", error);
    } finally {
      $("create-voice").disabled = false;
    }
  }

  async function removeVoice(voice, training) {
    clearError("voices-error");
    try {
      await call(`/v1/voices/${encodeURIComponent(voice.Id)}`, { method: "DELETE" });
      status.textContent = training ? `Training of ${voice.Name} cancelled.` : `${voice.Name} deleted.`;
      await refresh();
    } catch (error) {
      showError("voices-error", error);
    }
  }

  async function listenTo(voice) {
    clearError("voices-error");
    try {
      const body = JSON.stringify({ Text: SAMPLE, VoiceId: voice.Id, OutputFormat: "mp3", Engine: "neural" });
      const response = await call("/v1/speech", { method: "POST", headers: { "Content-Type": "application/json" }, body });
      if (audioUrl) URL.revokeObjectURL(audioUrl);
      audioUrl = URL.createObjectURL(await response.blob());
      audio.src = audioUrl;
      audio.hidden = false;
      audio.dataset.voiceId = voice.Id;
      await audio.play().catch(() => {});
    } catch (error) {
      showError("voices-error", error);
    }
  }

  form.addEventListener("submit", create);
  $("refresh-voices").addEventListener("click", refresh);
  refresh();
  return { refresh };
}
