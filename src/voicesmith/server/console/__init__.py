"""The web console: one static page at ``/`` that drives the service's own public routes.

The page (HTML, two style sheets and three ES modules under ``static/``) is package data served
from here; it needs no build step and fetches nothing from anywhere but this server. It talks to
the Polly routes the way any client does: DescribeVoices for the voice list, SynthesizeSpeech for
audio and word speech marks, Start/ListSpeechSynthesisTasks for long text, and the Voices panel
(voices.js): CreateVoice from uploaded recordings, the jobs' progress (``GET /v1/voice-jobs``),
DeleteVoice to cancel, a trained voice's sample. Emotion and speaking
speed travel inside the text as SSML (``<mstts:express-as style=.. styledegree=..>``,
``<prosody rate=..>``), so they work on the unchanged Polly request and the speech marks stay
aligned with what was typed. Only ``auto`` cannot be said in SSML: it is sent as the request
fields ``Emotion``/``EmotionIntensity``, which the Polly route must accept for it to take effect.

On a server with access keys, the page signs its requests with SigV4 in the browser (WebCrypto)
with keys the user enters; they stay in the tab's sessionStorage.

Routes: ``GET /`` (the page) and ``GET /console/<file>`` (its assets, a fixed list). Both carry a
strict Content-Security-Policy: scripts, styles and requests from this origin only, audio from
``blob:`` URLs.
"""

from __future__ import annotations

import logging
from html import escape
from importlib.resources import files

from fastapi import APIRouter, HTTPException, Request, Response

_LOGGER = logging.getLogger(__name__)

STATIC = files(__name__) / "static"

#: The assets the page loads, with their media types; nothing else under static/ is served.
ASSETS: dict[str, str] = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "panels.css": "text/css; charset=utf-8",
    "sigv4.js": "text/javascript; charset=utf-8",
    "speech.js": "text/javascript; charset=utf-8",
    "voices.js": "text/javascript; charset=utf-8",
}

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "media-src 'self' blob:",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The page is small and changes with the installed version: revalidate rather than serve stale.
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["console"], include_in_schema=False)


def _static(name: str, media_type: str) -> Response:
    return Response((STATIC / name).read_bytes(), media_type=media_type, headers=SECURITY_HEADERS)


@router.get("/")
def console_page(request: Request) -> Response:
    """The console page, with the region its SigV4 signatures must name."""
    region = request.app.state.services.settings.aws_regions[0]
    page = (STATIC / "index.html").read_text().replace("{{AWS_REGION}}", escape(region, quote=True))
    return Response(page, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


@router.get("/console/{name}")
def console_asset(name: str) -> Response:
    """One of the page's scripts or its style sheet."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(404, f"the console has no file {name!r}; it serves: {', '.join(sorted(ASSETS))}")
    return _static(name, media_type)
