"""Word timings on the OpenAI SSE stream: ``speech.audio.marks`` events, driven by the openai SDK."""

from __future__ import annotations

import base64
import json

from voicesmith.audio.encode import decode


def test_sse_marks_come_before_the_audio_they_time(oai):
    events = []
    with oai.audio.speech.with_streaming_response.create(
        model="tts-1",
        voice="alloy",
        input="Good morning. The coffee is ready.",
        response_format="pcm",
        stream_format="sse",
    ) as answer:
        for line in answer.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: ") :]))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "speech.audio.marks" and kinds[-1] == "speech.audio.done"
    marks = [m for e in events if e["type"] == "speech.audio.marks" for m in e["marks"]]
    words = [m["value"] for m in marks if m["type"] == "word"]
    assert words == ["Good", "morning", "The", "coffee", "is", "ready"]
    assert [m["type"] for m in marks].count("sentence") == 2
    audio, rate = decode(
        b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "speech.audio.delta"),
        "pcm",
        24000,
    )
    last = max(m["time"] for m in marks)
    assert 0 < last < len(audio) / rate * 1000
    second = kinds.index("speech.audio.marks", 1)  # the second sentence's marks come after the first's audio
    assert "speech.audio.delta" in kinds[1:second]
