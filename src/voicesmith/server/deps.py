"""Dependency-injection aliases for the routes (FastAPI ``Annotated`` + ``Depends``).

The app's :class:`Services` live on ``app.state``; nothing here is global, so two apps (tests, or one
process serving two data dirs) never share state.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from voicesmith.engine.synthesizer import Synthesizer
from voicesmith.server.auth import OPENAI, POLLY, SAGEMAKER, AuthGuard
from voicesmith.server.auth import require_auth as require_auth
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


# The doors' auth dependencies (``dependencies=[Depends(polly_auth)]``, or ``[require_auth(door)]`` for a
# new door). They name the door; AuthMiddleware checks the credential before the body is read.
polly_auth = AuthGuard(POLLY)
"""AWS SigV4 for the Polly routes (service ``polly``), when auth is on."""
openai_auth = AuthGuard(OPENAI)
"""``Authorization: Bearer <key>`` for the OpenAI routes, when auth is on."""
sagemaker_auth = AuthGuard(SAGEMAKER)
"""AWS SigV4 for SageMaker's ``/invocations`` (service ``sagemaker``), when auth is on."""
