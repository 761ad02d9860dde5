"""Dependency-injection aliases for the routes (FastAPI ``Annotated`` + ``Depends``).

The app's :class:`Services` live on ``app.state``; nothing here is global, so two apps (tests, or one
process serving two data dirs) never share state.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from voicesmith.engine.synthesizer import Synthesizer
from voicesmith.server.auth import verify_bearer, verify_sigv4
from voicesmith.server.services import Services
from voicesmith.settings import Settings
from voicesmith.tasks.store import Store


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


def get_synthesizer(services: ServicesDep) -> Synthesizer:
    return services.synthesizer


def get_store(services: ServicesDep) -> Store:
    return services.store


SettingsDep = Annotated[Settings, Depends(get_settings)]
SynthesizerDep = Annotated[Synthesizer, Depends(get_synthesizer)]
StoreDep = Annotated[Store, Depends(get_store)]


async def polly_auth(request: Request, settings: SettingsDep) -> None:
    """SigV4 on the Polly routes, when access keys are configured."""
    if settings.aws_credentials:
        await verify_sigv4(request, settings.aws_credentials)


async def openai_auth(request: Request, settings: SettingsDep) -> None:
    """Bearer keys on the OpenAI routes, when keys are configured."""
    if settings.openai_api_keys:
        verify_bearer(request, settings.openai_api_keys)
